"""Helpers the test modules share (plain functions and constants; no tests, no fixtures). Fixtures live in
``tests/conftest.py`` and, one real server a module, in ``tests/rig/``; a test module imports helpers from here, never
from another test module."""
