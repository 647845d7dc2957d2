"""STAND-IN of The Littlest JupyterHub's ``tljh`` package (only what its hub needs at start; see
``wizard/hub/standin_tljh/__init__.py``). Not TLJH itself: written from TLJH 2.0.0's source, no code copied."""
