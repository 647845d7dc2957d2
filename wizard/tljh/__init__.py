"""TLJH's own config.yaml: rendering from answers, validation, round-trip updates and masked diffs."""
