"""The hub's user environment (``PREFIX/user``, a conda prefix): summary, freeze, diff, restore and installs.

- ``summary``: everything about the environment in one remote command (works when conda itself is broken);
- ``snapshot``: a freeze = explicit conda lock with hashes + pip pins + conda revision + metadata, with a checksum,
  stored on the hub (root-only, under TLJH's state dir) and locally (the session's ``snapshots/``);
- ``diff``: what changed between two snapshots, or a snapshot and the live environment;
- ``restore``: a plan that brings the environment back to a snapshot, executed only after confirmation;
- ``install``: conda or pip installs with live output, frozen automatically before;
- ``step``: what the wizard's step 6 calls (a read-only summary; installs then a freeze at apply);
- ``cli``: ``tljh-wizard env ...``;
- ``sample``: a realistic user environment built locally, for the demo, the tests and the benchmark.
"""
