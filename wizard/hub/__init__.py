"""The hub: one interface (``target.HubTarget``) for commands and files on a TLJH server, over SSH, locally or in the
demo sandbox, and the engines built on it (host facts, backups, apply)."""
