"""Stand-ins of TLJH's own ``tljh`` package, installed into sandbox and test-rig hub environments.

TLJH is not published as a package that installs here, so the parts its hub needs at start — ``tljh.config`` (the
paths), ``tljh.yaml``, ``tljh.configurer`` (config.yaml applied to JupyterHub's ``c``) and ``tljh/jupyterhub_config.py``
— are small stand-ins written from TLJH 2.0.0's source, each naming the upstream file it stands in for.
:func:`wizard.hub.sandbox.create_tree` copies the ``tljh`` directory into ``PREFIX/hub``'s site-packages, where TLJH
installs its own.
"""
