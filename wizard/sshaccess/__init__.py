"""SSH access to the hub as ``jupyter-<name>``: keys into TLJH's user accounts, sshd checked and hardened safely.

- ``keys``: OpenSSH public key lines validated and fingerprinted (``ssh-keygen -l``'s ``SHA256:...``), and the
  wizard's own lines in an ``authorized_keys`` file recognised, added and removed.
- ``naming``: TLJH's system user names (``jupyter-`` prefix, truncation with a hash suffix) and the names TLJH's
  ``useradd`` would refuse.
- ``sshd``: the effective sshd configuration (``sshd -T``) and what in it would stop a login.
- ``engine``: the hub survey (one round trip), the plan, and its execution (accounts, key files, the password drop-in
  with proof and revert), and the verifying login.
- ``audit``: the ``check`` findings (keys of off-boarded users, accounts with no hub user, password login on).
"""
