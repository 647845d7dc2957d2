"""The hub over SSH (paramiko): strict host keys, one connection per session, sudo with the password on stdin.

Host keys: the user's ``~/.ssh/known_hosts`` plus the wizard's own ``known_hosts`` in the state directory. A key in
neither is shown as OpenSSH shows it (``SHA256:...``) to ``accept_host_key``; only an explicit yes adds it (to the
wizard's file, never the user's). A pinned key (answers ``connection.host_key``) must match whatever the files say. A
key that differs from a known one is refused with both fingerprints — there is no auto-add policy.

One connection serves every command and transfer of a session, with keepalives. If it drops, it is re-opened once;
a command whose input can be replayed is run again (every command the engines send is idempotent: reads, atomic
whole-file writes, reloads), otherwise ``ConnectionLost`` tells the caller to resume from its journal.
"""

from __future__ import annotations

import base64
import hashlib
import io
import select
import shlex
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import paramiko

    from wizard.hub.known_hosts import Entry

from wizard.hub.target import (
    DEFAULT_PREFIX,
    KILL_GRACE,
    ByteSink,
    ByteSource,
    CommandCancelled,
    CommandResult,
    CommandTimeout,
    ConnectError,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    HubError,
    HubTarget,
    LineSplitter,
    OutputCallback,
)

AcceptHostKey = Callable[[str, str, str], bool]  # (host as known_hosts names it, key type, SHA256 fingerprint)
CHUNK = 65536
# Announces the shell's pid on stderr, then becomes the command (``timeout``: the leader of its own process group).
_MARK = b"@tljh-wizard-pid "
_ANNOUNCE = 'echo "@tljh-wizard-pid $$" >&2; exec "$@"'
# Kills the process group $1 leads while $1 is still a `timeout` process: TERM (timeout passes it on), then KILL.
_KILL_GROUP = r"""p=$1
[ "$(cat /proc/$p/comm 2>/dev/null)" = timeout ] || exit 0
pkill -TERM -g "$p" || exit 0
for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -g "$p" >/dev/null || exit 0; sleep 0.2; done
pkill -KILL -g "$p"
exit 0
"""


def fingerprint(key: paramiko.PKey | bytes) -> str:
    """OpenSSH's ``SHA256:...`` form of a paramiko key (or of the raw key blob)."""
    blob = key if isinstance(key, bytes) else key.asbytes()
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def normalise_pin(pin: str) -> str:
    """A pinned key as a fingerprint: accepts ``SHA256:...`` or a public key line (``ssh-ed25519 AAAA...``)."""
    from wizard.fields import ValidationError, host_key

    try:
        pin = host_key(pin)
    except ValidationError as exc:
        raise ConnectError(f"connection.host_key {pin.strip()[:80]!r}: {exc.message}", "host_key") from None
    if pin.startswith("SHA256:"):
        return pin
    return fingerprint(base64.b64decode(pin.split()[1]))


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def wizard_known_hosts() -> Path:
    from wizard.session import state_dir

    return state_dir() / "known_hosts"


class SSHTarget(HubTarget):
    """A hub reached over SSH. Connects on first use (or ``connect()``); see the module docstring."""

    def __init__(self, host: str, *, port: int = 22, user: str = "root", key_file: str | None = None,
                 key_passphrase: str | None = None, allow_agent: bool = True, look_for_keys: bool = True,
                 sudo_password: str | None = None, accept_host_key: AcceptHostKey | None = None,
                 pinned_host_key: str | None = None, known_hosts_files: Sequence[str | Path] | None = None,
                 own_known_hosts: str | Path | None = None, prefix: str = str(DEFAULT_PREFIX),
                 connect_timeout: float = 10.0, keepalive: int = 15,
                 resolve: Callable[..., list[Any]] = socket.getaddrinfo) -> None:
        super().__init__(prefix)
        from wizard.session import session_name

        self.host, self.port, self.user = host, port, user
        self.name = session_name(host, user, port)
        self.key_file, self._passphrase = key_file, key_passphrase
        self.allow_agent, self.look_for_keys = allow_agent, look_for_keys
        self._sudo_password = sudo_password
        self.accept_host_key = accept_host_key
        self.pinned = normalise_pin(pinned_host_key) if pinned_host_key else None
        self.known_hosts_files = [Path(p).expanduser() for p in
                                  (known_hosts_files if known_hosts_files is not None else ["~/.ssh/known_hosts"])]
        self.own_known_hosts = Path(own_known_hosts) if own_known_hosts else wizard_known_hosts()
        self.connect_timeout, self.keepalive, self._resolve = connect_timeout, keepalive, resolve
        self.connections = 0  # how many times a connection was opened (1 per session unless it dropped)
        self.host_key_fingerprint: str | None = None
        self._client: paramiko.SSHClient | None = None
        self.revoked: dict[str, str] = {}  # @revoked host keys of the known-hosts files: fingerprint -> FILE:LINE
        self.known_entries: list[Entry] = []  # of every known-hosts file, read at each connect
        self._connecting = threading.RLock()

    # --- connection --------------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the session's connection (closing a dead one first). Raises ``ConnectError``."""
        import paramiko

        self._close_client()
        label = known_hosts_name(self.host, self.port)
        pkey = self._load_key(self.key_file) if self.key_file else None
        sock = self._open_socket()
        client = paramiko.SSHClient()
        from wizard.hub import known_hosts

        self.known_entries = []
        for path in [*self.known_hosts_files, self.own_known_hosts]:
            try:
                self.known_entries += known_hosts.load(path)
            except ValueError as exc:
                sock.close()
                raise ConnectError(f"cannot read known hosts file: {exc}", "host_key") from None
        self.revoked = {entry.fingerprint: entry.source for entry in self.known_entries if entry.marker == "@revoked"}
        # paramiko is given no host keys: every presented key goes to the policy, which decides as OpenSSH does
        # (wizard.hub.known_hosts), before authentication. The key types known for the host are preferred when
        # negotiating, as OpenSSH orders HostKeyAlgorithms.
        preferred = known_hosts.known_types(self.known_entries, label)

        def make_transport(*args: Any, **kwargs: Any) -> paramiko.Transport:
            made = paramiko.Transport(*args, **kwargs)
            options = made.get_security_options()
            wanted = [t for t in _algorithms(preferred) if t in options.key_types]
            options.key_types = wanted + [t for t in options.key_types if t not in wanted]
            return made

        # Duck-typed (paramiko calls only missing_host_key): subclassing paramiko's policy would import paramiko
        # whenever this module is imported.
        client.set_missing_host_key_policy(_AskPolicy(self))  # type: ignore[arg-type]
        try:
            client.connect(self.host, self.port, username=self.user, pkey=pkey, sock=sock,
                           passphrase=self._passphrase, allow_agent=self.allow_agent,
                           look_for_keys=self.look_for_keys and pkey is None,
                           timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout, transport_factory=make_transport)
        except ConnectError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyChanged(label, fingerprint(exc.expected_key), fingerprint(exc.key), "known_hosts") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = f"the key {self.key_file}" if pkey else "the agent's and the default keys"
            raise ConnectError(f"{self.user}@{label} refused {how} ({exc}). Check the user name and that the "
                               "public key is in the user's ~/.ssh/authorized_keys on the hub.", "auth") from None
        except (socket.timeout, TimeoutError):
            client.close()
            raise ConnectError(f"{label} accepted the connection but did not complete the SSH handshake within "
                               f"{self.connect_timeout:g} s", "timeout") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            kind = "timeout" if "banner" in str(exc) else "ssh"
            raise ConnectError(f"SSH with {label} failed: {exc or type(exc).__name__}", kind) from None
        transport = client.get_transport()
        if transport is None:  # connect() returned without raising: it has a transport
            client.close()
            raise ConnectError(f"SSH with {label} failed: no transport after the handshake", "ssh")
        server_fp = fingerprint(transport.get_remote_server_key())
        if server_fp in self.revoked:  # also listed as known somewhere: @revoked still wins, as in OpenSSH
            client.close()
            raise HostKeyRevoked(label, server_fp, self.revoked[server_fp])
        if self.pinned and server_fp != self.pinned:
            client.close()
            raise HostKeyChanged(label, self.pinned, server_fp, "connection.host_key")
        transport.set_keepalive(self.keepalive)
        self.host_key_fingerprint = server_fp
        self._client = client
        self.connections += 1

    def _load_key(self, key_file: str) -> paramiko.PKey:
        import paramiko

        from wizard.files import MAX_KEY_BYTES, InputFileError, read_small

        path = Path(key_file).expanduser()
        try:  # a regular, small file only: paramiko reads whatever it is given, /dev/zero included
            read_small(path, MAX_KEY_BYTES, "key file")
        except InputFileError as exc:
            raise ConnectError(f"connection.key_file {exc}", "auth") from None
        try:
            # bytes, as paramiko hands the password to cryptography's loaders (its annotation says str)
            return paramiko.PKey.from_path(path, password=self._passphrase.encode()  # type: ignore[arg-type]
                                           if self._passphrase else None)
        except paramiko.PasswordRequiredException:
            raise ConnectError(f"the key {path} is protected by a passphrase: give connection.key_passphrase",
                               "auth") from None
        except FileNotFoundError:
            raise ConnectError(f"the key file {path} does not exist", "auth") from None
        except TypeError:  # raised by cryptography for an encrypted key without a password
            raise ConnectError(f"the key {path} is protected by a passphrase: give connection.key_passphrase",
                               "auth") from None
        except (paramiko.SSHException, ValueError, OSError) as exc:
            hint = "wrong passphrase?" if self._passphrase else str(exc)
            raise ConnectError(f"cannot load the key {path} ({hint})", "auth") from None

    def _open_socket(self) -> socket.socket:
        try:
            infos = self._resolve(self.host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectError(f"cannot resolve {self.host} (DNS: {exc.strerror or exc}). Check the host name.",
                               "dns") from None
        except UnicodeError:
            raise ConnectError(f"{self.host!r} is not a valid host name", "dns") from None
        failures = []
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect(address)
                return self._await_banner(sock, address[0])
            except ConnectionRefusedError:
                failures.append(("refused", f"{address[0]} port {self.port}: connection refused "
                                            "(is sshd running, and is this the SSH port?)"))
            except (socket.timeout, TimeoutError):
                failures.append(("timeout", f"{address[0]} port {self.port}: no answer within "
                                            f"{self.connect_timeout:g} s (firewall or wrong address?)"))
            except OSError as exc:
                failures.append(("ssh", f"{address[0]} port {self.port}: {exc.strerror or exc}"))
            sock.close()
        if not failures:
            raise ConnectError(f"{self.host} has no address", "dns")
        raise ConnectError("cannot connect to " + "; ".join(text for _k, text in failures), failures[0][0])

    def _await_banner(self, sock: socket.socket, address: str) -> socket.socket:
        """Wait for the server's first bytes so a silent or non-SSH port fails clearly (paramiko's own error for a
        missing banner surfaces as an unrelated "No existing session")."""
        try:
            first = sock.recv(4, socket.MSG_PEEK)
        except (socket.timeout, TimeoutError):
            sock.close()
            raise ConnectError(f"{address} port {self.port} accepted the connection but sent no SSH greeting within "
                               f"{self.connect_timeout:g} s (is this the SSH port?)", "timeout") from None
        except OSError as exc:
            sock.close()
            raise ConnectError(f"{address} port {self.port}: {exc.strerror or exc}", "ssh") from None
        if not first:
            sock.close()
            raise ConnectError(f"{address} port {self.port} closed the connection before the SSH greeting "
                               "(sshd may refuse this client, e.g. MaxStartups or a firewall rule)", "refused")
        return sock

    def remember_host_key(self, label: str, key: paramiko.PKey) -> None:
        """Append an accepted key to the wizard's own known-hosts file (0600, atomic)."""
        from wizard.files import atomic_write, private_dir

        private_dir(self.own_known_hosts.parent, tighten=False)  # the state root, or a file the operator named
        old = self.own_known_hosts.read_text() if self.own_known_hosts.exists() else ""
        atomic_write(self.own_known_hosts, old + f"{label} {key.get_name()} {key.get_base64()}\n")

    def _transport(self) -> paramiko.Transport:
        with self._connecting:  # worker threads share the one connection; only one of them may (re)open it
            transport = self._client.get_transport() if self._client is not None else None
            if transport is None or not transport.is_active():
                self.connect()
                transport = self._client.get_transport() if self._client is not None else None
            if transport is None:  # connect() raises rather than leave no transport
                raise ConnectionLost(f"the connection to {self.name} is not open")
            return transport

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def drop_connection(self) -> None:
        """Forget the connection without closing it politely (it is dead or about to be)."""
        self._close_client()

    def close(self) -> None:
        self._close_client()

    # --- commands ----------------------------------------------------------------------------------------------

    def _runs_as_root(self) -> bool:
        return self.user == "root"

    def _execute(self, argv: list[str], stdin: bytes | ByteSource | None, deadline: float | None,
                 on_output: OutputCallback | None, stdout_to: ByteSink | None) -> CommandResult:
        rewind = stdin if isinstance(stdin, io.IOBase) and _seekable(stdin) else None
        start = rewind.tell() if rewind is not None else None
        replayable = stdin is None or isinstance(stdin, bytes) or start is not None
        try:
            return self._exec_once(argv, stdin, deadline, on_output, stdout_to)
        except _Dropped as dropped:
            try:
                with self._connecting:
                    self.connect()
            except ConnectError as exc:
                raise ConnectionLost(f"the connection to {self.name} dropped and could not be re-opened: {exc}") \
                    from None
            if not replayable or (stdout_to is not None and dropped.output_seen):
                raise ConnectionLost(f"the connection to {self.name} dropped during `{shlex.join(argv[-3:])}`; "
                                     "it was re-opened — resume the step") from None
            if rewind is not None and start is not None:
                rewind.seek(start)
            try:
                return self._exec_once(argv, stdin, deadline, on_output, stdout_to)
            except _Dropped:
                self.drop_connection()
                raise ConnectionLost(f"the connection to {self.name} dropped twice; giving up") from None

    def _killable(self, command: list[str]) -> list[str]:
        """Run under coreutils ``timeout`` (a process group of its own; ``0``: no limit) started by a shell that
        first announces its pid on stderr and then becomes ``timeout`` — so a cancelled or overdue wait can kill
        the whole group on the hub (``_kill_remote``) instead of leaving it to run until its timeout."""
        if command[:1] != ["timeout"]:
            command = ["timeout", "-k", str(KILL_GRACE), "0", *command]
        return ["sh", "-c", _ANNOUNCE, "tljh-wizard-run", *command]

    def _kill_remote(self, pid: int) -> None:
        """Kill the process group ``pid`` leads (the ``timeout`` of a command given up on): TERM, then KILL after a
        second, only while that pid is still a ``timeout`` process. Best effort, on a channel of its own."""
        argv = ["sh", "-c", _KILL_GROUP, "tljh-wizard-kill", str(pid)]
        prelude = b""
        if not self._runs_as_root():
            try:
                sudo_prefix, prelude = self._sudo_argv()
            except HubError:
                return
            argv = [*sudo_prefix, *argv]
        try:
            self._exec_once(argv, prelude or None, 15.0, None, None, honour_cancel=False)
        except (HubError, _Dropped):
            pass

    def _exec_once(self, argv: list[str], stdin: bytes | ByteSource | None, deadline: float | None,
                   on_output: OutputCallback | None, stdout_to: ByteSink | None,
                   honour_cancel: bool = True) -> CommandResult:
        import paramiko

        try:
            transport = self._transport()
            channel = transport.open_session(timeout=self.connect_timeout)
            channel.exec_command(shlex.join(argv))
        except ConnectError:
            raise
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise _Dropped(False) from exc
        feeder = threading.Thread(target=_feed, args=(channel, stdin), daemon=True, name="ssh-stdin")
        feeder.start()
        out, err = io.BytesIO(), io.BytesIO()
        out_lines, err_lines = LineSplitter("stdout", on_output), LineSplitter("stderr", on_output)
        limit = None if deadline is None else time.monotonic() + deadline
        seen = False
        announced = argv[:3] == ["sh", "-c", _ANNOUNCE] or _ANNOUNCE in argv[:8]
        head: bytes | None = b""  # stderr until the announcement line is complete (None: done)
        pid: int | None = None
        try:
            while True:
                while channel.recv_ready():
                    chunk = channel.recv(CHUNK)
                    seen = True
                    (stdout_to or out).write(chunk)
                    out_lines.feed(chunk)
                while channel.recv_stderr_ready():
                    chunk = channel.recv_stderr(CHUNK)
                    if announced and pid is None and head is not None:
                        head += chunk
                        if b"\n" not in head:
                            continue
                        line, _, chunk = head.partition(b"\n")
                        head = None
                        if line.startswith(_MARK):
                            pid = int(line[len(_MARK):] or 0) or None
                        else:
                            chunk = line + b"\n" + chunk
                    err.write(chunk)
                    err_lines.feed(chunk)
                # paramiko also marks the status "ready" (as -1) when the channel merely closes: only a real
                # exit-status counts here. OpenSSH may send the exit status before the last output, so the
                # output is complete only once EOF has arrived too.
                if (channel.exit_status >= 0 and channel.eof_received and not channel.recv_ready()
                        and not channel.recv_stderr_ready()):
                    break
                if channel.closed or not transport.is_active():
                    if channel.recv_ready() or channel.recv_stderr_ready():
                        continue
                    # Closed without an exit status: the command was killed by a signal (the connection lives on),
                    # or the connection died (paramiko closes the channels just before it marks the transport
                    # inactive, so let its thread finish that first).
                    transport.join(1.0)
                    if transport.is_active():
                        break
                    raise _Dropped(seen)
                if deadline is not None and limit is not None and time.monotonic() > limit:
                    self._given_up(channel, pid)
                    raise CommandTimeout(argv, deadline)
                if honour_cancel and self.cancel.is_set():
                    self._given_up(channel, pid)
                    raise CommandCancelled(argv)
                # Wake on data, close or EOF (paramiko signals its channel's pipe); the bound only re-checks the
                # transport's liveness and the deadline.
                select.select([channel], [], [], 0.5)
        finally:
            channel.close()
        if head:  # an announcement that never ended its line: keep what arrived
            err.write(head)
            err_lines.feed(head)
        out_lines.flush()
        err_lines.flush()
        return CommandResult(argv, channel.exit_status, out.getvalue(), err.getvalue())

    def _given_up(self, channel: paramiko.Channel, pid: int | None) -> None:
        """The wait for a command ends early: close its channel and kill what it started on the hub."""
        channel.close()
        if pid is not None:
            self._kill_remote(pid)


class HostKeyRevoked(ConnectError):
    """The hub presented a key that a known-hosts file marks ``@revoked``: refused, never offered for acceptance."""

    def __init__(self, host: str, presented: str, source: str):
        super().__init__(f"REFUSED: the host key {presented} presented by {host} is marked @revoked in {source}.",
                         "host_key")
        self.host, self.presented, self.source = host, presented, source


def _algorithms(key_types: list[str]) -> list[str]:
    """Host key algorithms for known key types (an RSA key is offered as rsa-sha2-512/256)."""
    found: list[str] = []
    for key_type in key_types:
        found += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
    return found


class _Dropped(Exception):
    def __init__(self, output_seen: bool):
        super().__init__("connection dropped")
        self.output_seen = output_seen


def _seekable(stream: io.IOBase) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError):
        return False


def _feed(channel: paramiko.Channel, stdin: bytes | ByteSource | None) -> None:
    """Stream stdin to the channel (in a thread, so a chatty command cannot deadlock against our writes)."""
    try:
        if isinstance(stdin, bytes):
            if stdin:
                channel.sendall(stdin)
        elif stdin is not None:
            while chunk := stdin.read(CHUNK):
                channel.sendall(chunk)
        channel.shutdown_write()
    except (OSError, EOFError):
        pass  # the command exited or the connection dropped; the reader reports it


class _AskPolicy:
    """paramiko's missing-host-key hook: a pinned key, or the operator's explicit acceptance, or refusal."""

    def __init__(self, target: SSHTarget):
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        from wizard.hub import known_hosts

        target = self.target
        presented = fingerprint(key)
        verdict = known_hosts.check(target.known_entries, hostname, key.get_name(), key.asbytes())
        decided_by = verdict.entry  # set for every status but "unknown"
        if verdict.status == "revoked" and decided_by is not None:
            raise HostKeyRevoked(hostname, presented, decided_by.source)
        if verdict.status == "changed" and decided_by is not None:  # refused even when pinned: known_hosts disagrees
            raise HostKeyChanged(hostname, decided_by.fingerprint, presented, decided_by.source)
        if target.pinned and presented != target.pinned:
            raise HostKeyChanged(hostname, target.pinned, presented, "connection.host_key")
        if verdict.status == "known":
            return
        if target.pinned:
            target.remember_host_key(hostname, key)
            return
        if verdict.status == "ca" and decided_by is not None:
            raise ConnectError(
                f"{decided_by.source} vouches for {hostname} with a @cert-authority line, but the wizard cannot "
                f"check host certificates, and will not offer the plain key {presented} instead: compare it with the "
                "one the provider's console shows, then pin it (connection.host_key / --host-key).", "host_key")
        accept = target.accept_host_key
        if accept is None or not accept(hostname, key.get_name(), presented):
            raise HostKeyUnknown(hostname, key.get_name(), presented)
        target.remember_host_key(hostname, key)
