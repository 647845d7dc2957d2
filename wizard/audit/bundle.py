"""``check --bundle FILE``: one tar.gz for a forum post or a colleague, with every secret masked.

Inside (all text):

- ``README.txt`` — what this is, when and for which hub it was made;
- ``findings.txt`` / ``findings.json`` — the audit, as ``check`` and ``check --json`` print it;
- ``host.json`` — the hub's facts: OS, kernel, TLJH version, CPUs, RAM, disks, swap, listeners, sshd's effective
  settings, pending updates, and the user environment summary;
- ``config.yaml`` — the hub's, secrets masked by key (``wizard.tljh.config.masked_text``);
- ``logs/hub.log``, ``logs/proxy.log``, ``logs/spawn.log`` — the last lines of the hub's, the proxy's and the users'
  servers' units (``journalctl -u jupyterhub``/``traefik``/``jupyter-*``).

Masking, in every member: each secret answer of the session; each value config.yaml holds under a secret-shaped key
(client secrets, passwords, tokens, keys: ``wizard.tljh.config.is_secret``), wherever else it appears (a log quoting
its config); and secret-shaped assignments in logs (``token=...``, ``password: ...``, ``Authorization: Bearer ...``).
Values shorter than 4 characters are not searched for (they would mask ordinary words). The file is created 0600 and
written atomically.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from wizard.masking import MASK, Masker

if TYPE_CHECKING:
    from wizard.audit.hubfacts import HubFacts
    from wizard.diagnosis import Diagnosis


MIN_SECRET = 4

# key=value / key: value / "key": "value" with a secret-shaped key; Authorization headers; token query parameters.
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<key>["']?[\w.-]*(?:secret|password|passwd|passphrase|token|api[_-]?key|private[_-]?key|credentials?)
       ["']?\s*[:=]\s*["']?)
    (?P<value>[^\s"',;&}]{1,})""")
_AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|token|basic)\s+)([^\s\"',;]+)")
_PLAIN = {MASK.lower(), "yes", "no", "true", "false", "null", "none", "''", '""'}
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def config_secrets(text: str | None) -> list[str]:
    """Every value config.yaml holds under a secret-shaped key (``wizard.tljh.config.secret_values_in``), as text."""
    from wizard.tljh.config import secret_values_in

    return sorted(secret_values_in(text or "", min_length=MIN_SECRET))


class Scrubber(Masker):
    """Masks known secret values (``wizard.masking.Masker``, at least ``MIN_SECRET`` characters long), then what has
    a secret's shape: PEM private keys, Authorization headers, assignments to secret-named keys."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__(secrets, min_length=MIN_SECRET)

    def __call__(self, text: str) -> str:
        text = super().__call__(text)
        text = _PEM.sub("-----PRIVATE KEY " + MASK + "-----", text)
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)
        return _ASSIGNMENT.sub(lambda m: m.group("key") + (m.group("value") if m.group("value").lower() in _PLAIN
                                                           else MASK), text)


def members(name: str, findings: list[Diagnosis], facts: HubFacts | None, secrets: Iterable[str]) -> dict[str, str]:
    """The bundle's files (path -> text), every one scrubbed."""
    from wizard.diagnosis import exit_code, render_line, worst
    from wizard.tljh.config import masked_text

    config_text = facts.config_text if facts is not None else None
    scrub = Scrubber([*secrets, *config_secrets(config_text)])
    out: dict[str, str] = {}
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out["README.txt"] = (f"tljh-wizard support bundle for {name}, made {stamp}.\n"
                         "Secrets are masked as ********. Findings, host facts, config.yaml and recent logs.\n")
    lines = []
    for finding in findings:
        lines.append(render_line(finding))
        if finding.details and finding.status.rank:
            lines.extend(f"         | {line}" for line in finding.details.splitlines())
    out["findings.txt"] = "\n".join(lines) + "\n"
    out["findings.json"] = json.dumps({"hub": name, "status": worst(findings).value, "exit_code": exit_code(findings),
                                       "findings": [f.to_json() for f in findings]}, indent=1, default=str) + "\n"
    if facts is not None:
        out["host.json"] = json.dumps(facts.to_json(), indent=1, default=str) + "\n"
        if config_text is not None:
            try:
                out["config.yaml"] = masked_text(config_text)
            except ValueError:  # not valid YAML: the text as it is, scrubbed below
                out["config.yaml"] = config_text
        for log, text in (facts.raw.get("logs") or {}).items():
            out[f"logs/{log}.log"] = text if text.endswith("\n") or not text else text + "\n"
    else:
        out["host.json"] = json.dumps({"error": "the hub could not be reached: no host facts"}) + "\n"
    return {path: scrub(text) for path, text in out.items()}


def write(path: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Write ``files`` as a tar.gz at ``path``: created 0600 beside it, then renamed over it."""
    target = Path(path).expanduser()
    payload = io.BytesIO()
    root = target.name.removesuffix(".tar.gz").removesuffix(".tgz") or "bundle"
    with tarfile.open(fileobj=payload, mode="w:gz") as archive:
        for member, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
