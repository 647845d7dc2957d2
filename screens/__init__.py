"""The Textual front-end: one module per screen. Importing this package imports nothing heavy."""
