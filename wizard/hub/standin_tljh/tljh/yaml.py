"""STAND-IN of TLJH's ``tljh/yaml.py``: one round-trip ruamel.yaml instance (``yaml``) shared by the package."""

from ruamel.yaml import YAML

yaml = YAML(typ="rt")
