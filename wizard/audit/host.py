"""The hub's own findings from ``wizard.audit.hubfacts.HubFacts``: who holds ports 80/443, capacity (disks, OOM
kills, memory sizing, swap) and host hygiene (security updates, reboot, unattended-upgrades, sshd password login,
failed SSH logins). Each function takes the facts (and the live config) and returns diagnoses; nothing here talks to
the hub.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping

from wizard.audit import hubfacts
from wizard.diagnosis import Diagnosis, Status
from wizard.mappings import section as mapping_section

if TYPE_CHECKING:
    from wizard.answers import Answers


PORTS = "audit.ports"
DISK = "audit.disk"  # audit.disk.root, audit.disk.home, audit.disk.prefix
OOM = "audit.oom"
MEMORY = "audit.memory"
SWAP = "audit.swap"
UPDATES = "audit.updates"
REBOOT = "audit.reboot"
UNATTENDED = "audit.unattended_upgrades"
SSH_PASSWORD = "audit.ssh_password"
SSH_FAILED = "audit.ssh_failed_logins"

DISK_WARN = 0.10  # free share under which a disk is a warning
DISK_ERROR = 0.02  # ... and an error
#: Programs that are TLJH's own proxy on 80/443 (Traefik since TLJH 0.1; ``traefik`` is also the comm name).
PROXY_PROGRAMS = ("traefik",)
#: Well-known web servers and what to call them in the fix.
WEB_SERVERS = {"nginx": "nginx", "apache2": "apache", "httpd": "apache", "caddy": "caddy", "lighttpd": "lighttpd",
               "haproxy": "haproxy"}


def _unread(check: str, found: Mapping[str, Any], what: str) -> Diagnosis:
    return Diagnosis(check, Status.SKIPPED, f"{what} not checked: {found.get('error') or 'no source'}",
                     data={"source": found.get("source")})


# ---------------------------------------------------------------------------------------------------------------
# ports 80/443

def port_owners(facts: hubfacts.HubFacts) -> dict[int, list[tuple[str, int | None]]]:
    """port -> the programs listening on it (any address)."""
    found = facts.source("listeners")
    owners: dict[int, list[tuple[str, int | None]]] = {port: [] for port in facts.ports}
    for listener in hubfacts.parse_listeners(found.get("text") or ""):
        if listener.port in owners:
            for program in listener.programs or [("?", None)]:
                if program not in owners[listener.port]:
                    owners[listener.port].append(program)
    return owners


def ports_finding(facts: hubfacts.HubFacts, config: Mapping[str, Any]) -> Diagnosis:
    """Who owns the hub's HTTP and HTTPS ports. TLJH's Traefik must hold both for Let's Encrypt (HTTP-01 on 80) and
    for HTTPS; another program there (nginx, apache) means TLJH's proxy cannot start on them (TLJH issues #272,
    #438, #536, #903). Ports TLJH was moved to (``http.port``/``https.port``) are what it should hold then."""
    found = facts.source("listeners")
    if found.get("text") is None:
        return _unread(PORTS, found, "ports")
    owners = port_owners(facts)
    foreign = {port: [p for p in programs if p[0] not in PROXY_PROGRAMS] for port, programs in owners.items()}
    foreign = {port: programs for port, programs in foreign.items() if programs}
    data = {"owners": {str(port): [{"program": name, "pid": pid} for name, pid in programs]
                       for port, programs in owners.items()}}
    moved = _tljh_ports(config)
    if foreign:
        names = sorted({name for programs in foreign.values() for name, _ in programs})
        holders: dict[tuple[str, int | None], list[int]] = {}
        for port in facts.ports:
            for program in foreign.get(port, []):
                holders.setdefault(program, []).append(port)
        shown = "; ".join(("an unknown program" if name == "?" else name) + (f" (pid {pid})" if pid else "")
                          + f" on port {' and '.join(map(str, ports))}" for (name, pid), ports in holders.items())
        if moved and not (set(moved) & set(foreign)):
            return Diagnosis(PORTS, Status.OK, f"{shown} — TLJH's proxy is moved to {', '.join(map(str, moved))} "
                                               "(http.port/https.port) behind it", data=data)
        summary = f"another program listens: {shown}: TLJH's proxy cannot serve there"
        if names == ["?"]:
            summary += " (ss named no process: not run as root?)"
        return Diagnosis(PORTS, Status.ERROR, summary, details=reverse_proxy_help(names),
                         fix="either stop that program (`sudo systemctl disable --now "
                             f"{_service_name(names)}`), or put TLJH behind it: tljh-wizard HOST, step HTTPS, "
                             "'another program holds 80/443'", data=dict(data, foreign=names))
    missing = [port for port, programs in owners.items() if not programs]
    if moved and missing:
        return Diagnosis(PORTS, Status.WARNING, f"TLJH's proxy is moved to {', '.join(map(str, moved))} "
                                                f"(http.port/https.port), but nothing serves port "
                                                f"{', '.join(map(str, missing))} in front of it",
                         fix="start the web server that forwards to TLJH (tljh-wizard HOST, step HTTPS shows its "
                             "site), or move TLJH back to 80/443", data=data)
    https_on = bool(mapping_section(config, "https").get("enabled"))
    if missing and (https_on or 80 in missing):
        return Diagnosis(PORTS, Status.ERROR if https_on else Status.WARNING,
                         f"nothing listens on port {', '.join(map(str, missing))}: TLJH's proxy is not running",
                         fix="`sudo systemctl status traefik` and `sudo journalctl -u traefik` on the hub",
                         data=data)
    held = sorted({port for port, programs in owners.items() if programs})
    return Diagnosis(PORTS, Status.OK, f"TLJH's proxy (traefik) holds port {', '.join(map(str, held))}"
                     if held else "no listener on the configured ports", data=data)


def _tljh_ports(config: Mapping[str, Any]) -> list[int]:
    ports = []
    for section, default in (("http", 80), ("https", 443)):
        port = mapping_section(config, section).get("port")
        if isinstance(port, int) and port != default:
            ports.append(port)
    return ports


def _service_name(names: list[str]) -> str:
    for name in names:
        if name in WEB_SERVERS:
            return {"httpd": "httpd", "apache2": "apache2"}.get(name, name)
    return next((name for name in names if name != "?"), "SERVICE")


def reverse_proxy_help(names: list[str]) -> str:
    """The two documented ways out, as text for --details: stop the other program, or move TLJH's proxy to other
    ports (TLJH's ``http.port``/``https.port``, docs/topic/tljh-config: "Ports") behind it."""
    from wizard.tljh.behind import snippet

    kinds = [WEB_SERVERS[name] for name in names if name in WEB_SERVERS] or ["nginx"]
    return ("Either stop the other program, so TLJH's proxy can take 80/443 (and Let's Encrypt works), or keep it in "
            "front: TLJH listens on http.port 8080 without HTTPS, and the other server terminates TLS and forwards to "
            "it:\n\n" + snippet(kinds[0], "HUB.EXAMPLE.EDU", 8080))


# ---------------------------------------------------------------------------------------------------------------
# capacity

def disk_findings(facts: hubfacts.HubFacts, warn: float = DISK_WARN, error: float = DISK_ERROR) -> list[Diagnosis]:
    """Free space of each measured filesystem: a warning under ``warn``, an error under ``error`` (shares).
    Users' servers fail to save, and the hub's database fails to write, on a full disk."""
    return judge_disks(facts.raw.get("disks") or {}, warn, error)


def judge_disks(disks: Mapping[str, Any], warn: float = DISK_WARN, error: float = DISK_ERROR) -> list[Diagnosis]:
    """``disk_findings`` for a mapping name -> {path, total, free[, device]} (also the Connect step's host facts,
    ``wizard.hub.facts``, so the wizard shows them without another round trip)."""
    out = []
    seen: dict[int, str] = {}
    for name, disk in disks.items():
        check = f"{DISK}.{name}"
        if not isinstance(disk, dict) or disk.get("error") or not disk.get("total"):
            out.append(Diagnosis(check, Status.SKIPPED, f"{(disk or {}).get('path', name)}: not measured "
                                                        f"({(disk or {}).get('error', 'no size')})"))
            continue
        share = disk["free"] / disk["total"]
        data = {"path": disk["path"], "free": disk["free"], "total": disk["total"], "free_share": round(share, 4)}
        device = disk.get("device")
        same = seen.get(device) if device is not None else None
        if device is not None:
            seen.setdefault(device, disk["path"])
        where = disk["path"] + (f" (same filesystem as {same})" if same else "")
        text = f"{_gb(disk['free'])} free of {_gb(disk['total'])} ({share:.0%})"
        if share < error:
            out.append(Diagnosis(check, Status.ERROR, f"{where} is full: {text}", data=data,
                                 fix=_disk_fix(name)))
        elif share < warn:
            out.append(Diagnosis(check, Status.WARNING, f"{where} is almost full: {text}", data=data,
                                 fix=_disk_fix(name)))
        else:
            out.append(Diagnosis(check, Status.OK, f"{where}: {text}", data=data))
    return out


def _disk_fix(name: str) -> str:
    if name == "home":
        return "grow the volume holding /home, or ask users to clean up (`sudo du -xsh /home/* | sort -h`)"
    if name == "prefix":
        return "free space in the TLJH prefix (`sudo /opt/tljh/user/bin/conda clean --all`) or grow the disk"
    return "free space (`sudo journalctl --vacuum-size=200M`, `sudo apt-get clean`) or grow the disk"


def _gb(size: int) -> str:
    return f"{size / 1024 ** 3:.1f} GiB"


def oom_kills(facts: hubfacts.HubFacts, since: float) -> list[hubfacts.OomKill]:
    found = facts.source("kernel_log")
    return hubfacts.parse_oom_kills(hubfacts.recent(found.get("text") or "", since))


def oom_finding(facts: hubfacts.HubFacts, since: float, hours: float) -> Diagnosis:
    """OOM kills of users' servers (``jupyter-*`` units) in the kernel log over the last ``hours``."""
    found = facts.source("kernel_log")
    if found.get("text") is None:
        return _unread(OOM, found, "OOM kills")
    kills = oom_kills(facts, since)
    if not kills:
        return Diagnosis(OOM, Status.OK, f"no user server killed for lack of memory in the last {hours:g} h")
    per_user = Counter(kill.user for kill in kills)
    shown = ", ".join(f"{user} ({count})" if count > 1 else user for user, count in per_user.most_common(8))
    return Diagnosis(OOM, Status.WARNING, f"{len(kills)} OOM kill{'s' if len(kills) > 1 else ''} of user servers in "
                                          f"the last {hours:g} h: {shown}",
                     details="\n".join(kill.line for kill in kills[-20:]),
                     fix="the users hit limits.memory (or the VM ran out): raise the limit if the VM has room "
                         "(tljh-wizard HOST, step Limits), or grow the VM",
                     data={"kills": [{"user": k.user, "unit": k.unit, "process": k.process} for k in kills]})


def memory_finding(facts: hubfacts.HubFacts, config: Mapping[str, Any], answers: Answers | None) -> Diagnosis:
    """The memory limit x the users active at once against the VM's RAM now (after a resize, say), by the Limits
    step's own sizing rules (``wizard.limits.size_hub``, TLJH's resource-estimation guide). Users active at once:
    the Limits answers' total users x active share, or the servers running now when that is more."""
    from wizard import limits as sizing

    meminfo = hubfacts.parse_meminfo(facts.source("meminfo").get("text") or "")
    ram = meminfo.get("MemTotal")
    limit_values = mapping_section(config, "limits")
    try:
        per_user = sizing.parse_memory(limit_values.get("memory")) if limit_values.get("memory") else None
    except ValueError:
        per_user = None
    if ram is None:
        return Diagnosis(MEMORY, Status.SKIPPED, "the VM's memory is unknown: sizing not checked")
    if per_user is None:
        return Diagnosis(MEMORY, Status.SKIPPED, f"no per-user memory limit to size against the VM's {_gb(ram)} "
                                                 "(see audit.limits)", data={"ram": ram})
    running_text = facts.source("units").get("text")
    running = len(hubfacts.running_units(running_text)) if running_text is not None else None
    total = answers.get("limits.total_users") if answers is not None else None
    share = answers.get("limits.active_share") if answers is not None else None
    expected = sizing.concurrent_users(int(total), float(share or 0.5)) if total else 0
    concurrent = max(expected, running or 0)
    data = {"ram": ram, "memory_limit": per_user, "running": running, "expected_concurrent": expected}
    if concurrent == 0:
        return Diagnosis(MEMORY, Status.OK, f"no server running; one user may use {sizing.format_memory(per_user)} "
                                            f"of {_gb(ram)}", data=data)
    plan = sizing.size_hub(sizing.SizingInputs(total_users=max(concurrent, 1), active_share=1.0,
                                               memory_per_user=per_user, cpu_per_user=0, disk_per_user=0),
                           sizing.HostFacts(ram=ram))
    verdict = next(d for d in plan.diagnoses if d.id == "limits.ram")
    who = (f"{running} server{'s' if running != 1 else ''} running" if running is not None and running >= expected
           else f"{expected} users expected at once")
    if verdict.status is Status.OK:
        return Diagnosis(MEMORY, Status.OK, f"{who} x {sizing.format_memory(per_user)} + the hub need "
                                            f"{sizing.format_gb(plan.ram)} of the VM's {_gb(ram)}", data=data)
    return Diagnosis(MEMORY, verdict.status, f"{who} x {sizing.format_memory(per_user)}: {verdict.summary}",
                     details=verdict.details, fix=verdict.fix, data=data)


def swap_finding(facts: hubfacts.HubFacts, pressure: bool) -> Diagnosis:
    """Swap present or absent. Without swap a server over the VM's RAM is killed at once; that is only worth a
    warning when memory is short (OOM kills seen, or the sizing does not fit)."""
    swaps_text = facts.source("swaps").get("text")
    meminfo = hubfacts.parse_meminfo(facts.source("meminfo").get("text") or "")
    if swaps_text is None and "SwapTotal" not in meminfo:
        return _unread(SWAP, facts.source("swaps"), "swap")
    swaps = hubfacts.parse_swaps(swaps_text or "")
    total = sum(s["size"] for s in swaps) if swaps_text is not None else meminfo.get("SwapTotal", 0)
    if total:
        return Diagnosis(SWAP, Status.OK, f"swap: {_gb(total)}", data={"swap": total})
    if pressure:
        return Diagnosis(SWAP, Status.WARNING, "no swap, and memory is short: servers are killed as soon as the VM's "
                                               "RAM runs out", fix="add a swap file (`sudo fallocate -l 2G /swapfile "
                                               "&& sudo chmod 600 /swapfile && sudo mkswap /swapfile && sudo swapon "
                                               "/swapfile`, and a line in /etc/fstab), or grow the VM",
                         data={"swap": 0})
    return Diagnosis(SWAP, Status.OK, "no swap (fine while the limits fit the RAM)", data={"swap": 0})


# ---------------------------------------------------------------------------------------------------------------
# hygiene

def updates_finding(facts: hubfacts.HubFacts) -> Diagnosis:
    found = facts.source("apt_simulation")
    if found.get("text") is None:
        return _unread(UPDATES, found, "pending updates")
    upgrades = hubfacts.parse_apt_simulation(found["text"])
    security = [u for u in upgrades if u.security]
    data = {"pending": len(upgrades), "security": [u.package for u in security]}
    if security:
        names = ", ".join(u.package for u in security[:6]) + (", ..." if len(security) > 6 else "")
        return Diagnosis(UPDATES, Status.WARNING, f"{len(security)} security update{'s' if len(security) > 1 else ''}"
                                                  f" pending ({names}), {len(upgrades)} updates in all",
                         fix="`sudo apt-get update && sudo apt-get upgrade` on the hub (or let unattended-upgrades "
                             "do it)", data=data)
    return Diagnosis(UPDATES, Status.OK, f"no security update pending ({len(upgrades)} other updates), as of the "
                                         "hub's last `apt-get update`", data=data)


def reboot_finding(facts: hubfacts.HubFacts) -> Diagnosis:
    found = facts.raw.get("reboot_required") or {}
    if not found.get("required"):
        return Diagnosis(REBOOT, Status.OK, "no reboot required")
    packages = sorted({line.strip() for line in (found.get("packages") or "").splitlines() if line.strip()})
    return Diagnosis(REBOOT, Status.WARNING, "a reboot is required" + (f" (for {', '.join(packages[:6])})"
                                                                       if packages else ""),
                     fix="reboot the hub at a quiet time (`sudo reboot`): users' running servers stop",
                     data={"packages": packages})


def unattended_finding(facts: hubfacts.HubFacts) -> Diagnosis:
    """unattended-upgrades on: the package installed and ``APT::Periodic::Unattended-Upgrade`` non-zero
    (Debian's ``/etc/apt/apt.conf.d/20auto-upgrades``, read through ``apt-config dump``)."""
    found = facts.source("apt_config")
    if found.get("text") is None:
        return _unread(UNATTENDED, found, "unattended-upgrades")
    periodic = hubfacts.parse_apt_periodic(found["text"])
    enabled = periodic.get("Unattended-Upgrade", "0") not in ("0", "", "false")
    installed = bool(found.get("installed"))
    data = {"installed": installed, "periodic": periodic}
    if installed and enabled:
        return Diagnosis(UNATTENDED, Status.OK, "unattended-upgrades installs security updates automatically",
                         data=data)
    reason = "not installed" if not installed else "installed but off (APT::Periodic::Unattended-Upgrade is 0)"
    return Diagnosis(UNATTENDED, Status.WARNING, f"unattended-upgrades is {reason}: security updates wait for you",
                     fix="`sudo apt-get install unattended-upgrades && sudo dpkg-reconfigure -plow "
                         "unattended-upgrades`", data=data)


def ssh_password_finding(facts: hubfacts.HubFacts) -> Diagnosis:
    """Password logins over SSH: ``passwordauthentication yes``, or keyboard-interactive through PAM (``usepam yes``
    + ``kbdinteractiveauthentication yes``), in sshd's effective settings (``sshd -T``)."""
    found = facts.source("sshd")
    if found.get("text") is None:
        return _unread(SSH_PASSWORD, found, "sshd password login")
    settings = hubfacts.parse_key_values(found["text"])
    password = settings.get("passwordauthentication") == "yes"
    keyboard = (settings.get("kbdinteractiveauthentication", settings.get("challengeresponseauthentication")) == "yes"
                and settings.get("usepam") == "yes")
    data = {key: settings.get(key) for key in ("passwordauthentication", "kbdinteractiveauthentication", "usepam",
                                               "permitrootlogin")}
    if password or keyboard:
        how = "PasswordAuthentication yes" if password else "keyboard-interactive through PAM"
        return Diagnosis(SSH_PASSWORD, Status.WARNING, f"sshd accepts password logins ({how}): passwords can be "
                                                       "guessed", fix="prove a key login, then set "
                         "PasswordAuthentication no and KbdInteractiveAuthentication no (tljh-wizard HOST, step SSH "
                         "access)", data=data)
    return Diagnosis(SSH_PASSWORD, Status.OK, "sshd refuses password logins (keys only)", data=data)


def failed_logins_finding(facts: hubfacts.HubFacts, since: float, hours: float,
                          password_on: bool | None) -> Diagnosis:
    """Failed SSH logins in the last ``hours``: a warning while password login is on (someone is guessing); with
    keys only they cannot succeed, and the count is shown as it is."""
    found = facts.source("auth_log")
    if found.get("text") is None:
        return _unread(SSH_FAILED, found, "failed SSH logins")
    failures = hubfacts.parse_failed_logins(hubfacts.recent(found["text"], since))
    sources = Counter(address for _user, address in failures)
    users = Counter(user for user, _address in failures)
    data = {"failed": len(failures), "top_sources": sources.most_common(5), "top_users": users.most_common(5)}
    if not failures:
        return Diagnosis(SSH_FAILED, Status.OK, f"no failed SSH login in the last {hours:g} h", data=data)
    top = ", ".join(f"{address} ({count})" for address, count in sources.most_common(3))
    summary = f"{len(failures)} failed SSH logins in the last {hours:g} h, most from {top}"
    if password_on:
        return Diagnosis(SSH_FAILED, Status.WARNING, summary + " — and password login is on",
                         fix="turn password login off (see audit.ssh_password); fail2ban blocks the sources meanwhile",
                         data=data)
    return Diagnosis(SSH_FAILED, Status.OK, summary + " (keys only: they cannot succeed)", data=data)
