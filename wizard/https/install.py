"""Putting a certificate on the hub: chain and key written atomically as root (key 0600), TLJH pointed at them.

Used by modes acme-dns and existing and by ``renew``. The files go through ``HubTarget.write_file`` (data on stdin,
never on a command line). The ``https`` settings are edited in config.yaml in one read and one locked atomic write
(``set_https``: the number of round trips does not grow with the number of settings or domains; the YAML is
produced by a serializer and checked against TLJH's schema first); then the proxy is reloaded.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from wizard.https.progress import Progress, no_progress

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget



class InstallError(Exception):
    """The certificate could not be installed; the message says which step failed and what the hub said."""


def _run(target: HubTarget, argv: list[str], what: str, timeout: float = 120.0) -> None:
    from wizard.hub.target import HubError

    try:
        result = target.run(argv, sudo=True, timeout=timeout)
    except HubError as exc:
        raise InstallError(f"{what} failed: {exc}") from None
    if not result.ok:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        raise InstallError(f"{what} failed (exit {result.exit_status}): {detail}")


def set_https(target: HubTarget, changes: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
    """Set keys under ``https`` in the hub's config.yaml (others kept, comments kept), under TLJH's lock."""
    from wizard import yamlio
    from wizard.fields import ValidationError
    from wizard.hub.target import HubError
    from wizard.tljh import config as tljh_config

    path = f"{target.prefix}/config/config.yaml"
    try:
        try:
            text = target.read_file(path).decode("utf-8")
        except FileNotFoundError:
            text = ""
        except UnicodeDecodeError:
            raise InstallError(f"{path} on the hub is not UTF-8 text; fix it by hand first") from None
        document = yamlio.loads(text or "{}", path, round_trip=True)
        if document is None:
            document = yamlio.loads("{}", path, round_trip=True)
        https = document.setdefault("https", {})
        if not isinstance(https, dict):
            raise InstallError(f"{path}: https is not a mapping; fix the file by hand first")
        for key in remove:
            https.pop(key, None)
        https.update(changes)
        problems = [e for e in tljh_config.validate(document) if e.key.startswith("https")]
        if problems:
            raise InstallError("the https settings would be invalid: " + "; ".join(map(str, problems)))
        target.write_file(path, yamlio.dump(document, round_trip=True).encode("utf-8"), mode=0o600,
                          owner="root:root", lock=f"{target.prefix}/config/config.yaml.lock")
    except (HubError, ValidationError) as exc:
        raise InstallError(f"updating {path} failed: {exc}") from None


def install_certificate(target: HubTarget, fullchain_pem: bytes, key_pem: bytes, cert_path: str, key_path: str, *,
                        configure: bool = True, reload: bool = True, progress: Progress = no_progress) -> None:
    """Write chain + key on the hub (root-owned; key 0600), set ``https.tls.*`` and reload the proxy."""
    from wizard.hub.target import FileWrite, HubError

    directory = str(PurePosixPath(key_path).parent)
    progress("install", f"writing the certificate and key to {directory} on the hub")
    _run(target, ["install", "-d", "-m", "700", "-o", "root", "-g", "root", "--", directory],
         f"creating {directory}")
    if str(PurePosixPath(cert_path).parent) != directory:
        _run(target, ["install", "-d", "-m", "755", "--", str(PurePosixPath(cert_path).parent)],
             f"creating the directory of {cert_path}")
    try:
        # One verified write for both: nothing is replaced until the hub holds both files whole, then the key is
        # renamed first (a chain whose key is not in place yet is never what the proxy finds after a crash).
        notes = target.write_files([FileWrite(key_path, key_pem, 0o600, "root:root"),
                                    FileWrite(cert_path, fullchain_pem, 0o644, "root:root")])
        for note in notes:
            progress("install", note)
    except HubError as exc:
        raise InstallError(f"writing the certificate files failed: {exc}") from None
    if configure:
        progress("install", "setting https.enabled and https.tls.cert/key in config.yaml")
        set_https(target, {"enabled": True, "tls": {"cert": cert_path, "key": key_path}}, remove=("letsencrypt",))
    if reload:
        progress("install", "reloading the proxy")
        _run(target, [target.tljh_config, "reload", "proxy"], "tljh-config reload proxy", timeout=300.0)
