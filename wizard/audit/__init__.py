"""``tljh-wizard check``: a read-only audit of a running hub, composed from the engines' own diagnoses.

``checks`` holds the audit (DNS, served certificate, config.yaml and environment drift, authenticator, limits,
culling, backup age); ``cli`` the command line. Nothing here writes to the hub or to the session.
"""
