"""The hub's user environment (``PREFIX/user``, a conda prefix): summary, freeze, diff, restore and installs.

- ``summary``: everything about the environment in one remote command (works when conda itself is broken);
- ``snapshot``: a freeze = explicit conda lock with hashes + pip pins + conda revision + metadata, with a checksum,
  stored on the hub (root-only, under TLJH's state dir) and locally;
- ``diff``: what changed between two snapshots, or a snapshot and the live environment;
- ``restore``: a plan that brings the environment back to a snapshot, executed only after confirmation;
- ``install``: conda or pip installs with live output, frozen automatically before.
"""
