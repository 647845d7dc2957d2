"""The real servers the tests talk to, started on free loopback ports and stopped by PID (see TESTING.md)."""
