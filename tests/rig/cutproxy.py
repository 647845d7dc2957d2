"""A TCP proxy in front of the rig's sshd that cuts the link at a chosen byte.

``CutProxy(upstream_port)`` listens on a free loopback port and forwards both ways. ``sent`` counts the bytes the
client has sent upstream since the proxy started. With ``cut_at = N``, the byte N+1 the client sends is never
forwarded: the proxy closes both sides of every connection at that point and, from then on, closes each new
connection before the SSH greeting (a link that went down), until ``heal()``. ``cuts`` counts the cuts made.

Used by the tests that cut the link during a transfer to the hub (config.yaml, a certificate): they read ``sent``
just before the transfer and set ``cut_at`` a number of bytes into it.
"""

from __future__ import annotations

import socket
import threading


class CutProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.listener = socket.create_server((host, 0))
        self.host, self.port = host, self.listener.getsockname()[1]
        self.sent = 0
        self.cut_at: int | None = None
        self.down = False
        self.cuts = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="cutproxy").start()

    def heal(self) -> None:
        """The link is back: new connections are forwarded again, and nothing more is cut."""
        with self._lock:
            self.down, self.cut_at = False, None

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self._cut_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            if upstream:
                with self._lock:
                    allowed = len(chunk) if self.cut_at is None else max(0, self.cut_at - self.sent)
                    chunk = chunk[:allowed] if allowed < len(chunk) else chunk
                    self.sent += len(chunk)
                    cut = self.cut_at is not None and self.sent >= self.cut_at and not self.down
                    if cut:
                        self.down, self.cuts = True, self.cuts + 1
                if chunk:
                    try:
                        sink.sendall(chunk)
                    except OSError:
                        break
                if cut:
                    self._cut_all()
                    return
            else:
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
