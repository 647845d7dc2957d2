"""The sshd rig's hub with a user environment like a TLJH hub's (a real venv with realistic conda-meta records and
pip-only packages installed by the real pip from local wheels; ``wizard.environment.sample``).

Fixtures:
- ``pristine_user`` (session): that environment, built once, with the wheels a drift installs (``DRIFT_WHEELS``).
- ``env_hub`` (function): ``sshd_hub`` whose ``PREFIX/user`` is a fresh clone of it.
"""

import shutil

import pytest

from wizard.environment import sample

DRIFT_WHEELS = [("jupyterlab", "4.3.0"), ("ipywidgets", "8.1.5")]


@pytest.fixture(scope="session")
def pristine_user(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub-env")
    wheels = root / "wheels"
    for name, version in DRIFT_WHEELS:
        sample.build_wheel(wheels, name, version)
    user = sample.create_user_environment(root / "user", wheel_dir=wheels, with_pip=True)
    sample.install_conda_standin(user)
    return user


@pytest.fixture
def env_hub(sshd_hub, pristine_user):
    shutil.rmtree(sshd_hub.prefix / "user")
    sample.clone(pristine_user, sshd_hub.prefix / "user")
    return sshd_hub
