"""tljh-wizard: take a fresh The Littlest JupyterHub server to production over SSH.

The engine lives here and never imports a UI toolkit; the Textual front-end is in ``screens``.
"""

__version__ = "0.1.0"
