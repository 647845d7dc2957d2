"""STAND-IN of TLJH's ``tljh/config.py``: only its path constants, which the configurer and the hub config read.

Upstream (the-littlest-jupyterhub 2.0.0, ``tljh/config.py``): the install prefix comes from ``TLJH_INSTALL_PREFIX``
(default ``/opt/tljh``); the hub and user environments, ``state/`` and ``config/config.yaml`` live under it. The
``tljh-config`` command line of the sandbox is ``wizard.hub.sandbox.tljh_config_main``, not this module.
"""

import os

INSTALL_PREFIX = os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh")
HUB_ENV_PREFIX = os.path.join(INSTALL_PREFIX, "hub")
USER_ENV_PREFIX = os.path.join(INSTALL_PREFIX, "user")
STATE_DIR = os.path.join(INSTALL_PREFIX, "state")
CONFIG_DIR = os.path.join(INSTALL_PREFIX, "config")
CONFIG_FILE = os.path.join(CONFIG_DIR, "config.yaml")
