"""RFC 2136 dynamic DNS updates signed with TSIG: how the wizard publishes and removes ACME challenge TXT records.

All records of one call go in a single update message, which the server applies atomically: either every record is
published or none is, so cleanup never has to guess what a failed call left behind.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    import dns.update



class DnsUpdateError(Exception):
    """The DNS server did not apply an update; the message says why in terms an operator can act on.

    ``uncertain`` is true when the update may have been applied anyway (no answer arrived), so cleanup must run.
    """

    def __init__(self, message: str, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain


def split_host_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, default_port


@dataclass
class Rfc2136:
    """A zone that accepts TSIG-signed updates at ``server:port``. ``secret`` is the key's base64 secret."""

    server: str
    port: int
    zone: str
    key_name: str
    secret: str = field(repr=False)
    algorithm: str = "hmac-sha256"
    timeout: float = 10.0

    @property
    def zone_fqdn(self) -> str:
        return self.zone.rstrip(".").lower() + "."

    def address(self) -> str:
        """The server's IP address (a host name is resolved once, here)."""
        try:
            return str(socket.getaddrinfo(self.server, self.port, proto=socket.IPPROTO_TCP)[0][4][0])
        except socket.gaierror as exc:
            raise DnsUpdateError(f"cannot resolve the DNS update server {self.server}: {exc.strerror}") from None

    def _absolute(self, name: str) -> str:
        name = name.rstrip(".").lower() + "."
        if name != self.zone_fqdn and not name.endswith("." + self.zone_fqdn):
            raise DnsUpdateError(f"{name} is not inside the zone {self.zone_fqdn}: the update key cannot change it "
                                 "(answer https.tsig_zone with the zone that holds the domain)")
        return name

    def _message(self) -> dns.update.UpdateMessage:
        import dns.name
        import dns.tsig
        import dns.tsigkeyring
        import dns.update

        try:
            keyring = dns.tsigkeyring.from_text({self.key_name: (self.algorithm, self.secret)})
        except Exception as exc:  # binascii.Error and friends: the secret is not base64
            raise DnsUpdateError(f"the TSIG secret is not valid base64 ({type(exc).__name__})") from None
        return dns.update.UpdateMessage(self.zone_fqdn, keyring=keyring, keyname=dns.name.from_text(self.key_name),
                                        keyalgorithm=dns.name.from_text(self.algorithm))

    def _send(self, message: dns.update.UpdateMessage, what: str) -> None:
        import dns.exception
        import dns.query
        import dns.rcode
        import dns.tsig

        where = f"{self.server}:{self.port}"
        try:
            reply = dns.query.tcp(message, self.address(), port=self.port, timeout=self.timeout)
        except dns.tsig.PeerBadSignature:
            raise DnsUpdateError(f"{where} rejected the update's TSIG signature (BADSIG): the secret of key "
                                 f"{self.key_name} is wrong; {what} was not applied") from None
        except dns.tsig.PeerBadKey:
            raise DnsUpdateError(f"{where} does not know the TSIG key {self.key_name} (BADKEY): check the key name; "
                                 f"{what} was not applied") from None
        except dns.tsig.PeerBadTime:
            raise DnsUpdateError(f"{where} refused the update's timestamp (BADTIME): this machine's clock is off; "
                                 f"{what} was not applied") from None
        except dns.exception.Timeout:
            raise DnsUpdateError(f"no answer from the DNS update server {where} within {self.timeout:g} s; "
                                 f"{what} may not have been applied", uncertain=True) from None
        except (OSError, EOFError) as exc:
            raise DnsUpdateError(f"cannot reach the DNS update server {where}: {exc}") from None
        rcode = reply.rcode()
        if rcode != dns.rcode.NOERROR:
            hints = {dns.rcode.REFUSED: "the key is not allowed to update this zone",
                     dns.rcode.NOTAUTH: f"the server is not authoritative for {self.zone_fqdn}",
                     dns.rcode.NOTZONE: f"the server does not hold the zone {self.zone_fqdn}"}
            hint = hints.get(rcode, "see the server's log")
            raise DnsUpdateError(f"{where} answered {dns.rcode.to_text(rcode)} ({hint}); {what} was not applied")

    def add_txt(self, records: Mapping[str, Sequence[str]], ttl: int = 60) -> None:
        """Publish TXT ``values`` at each name, all in one atomic update."""
        message = self._message()
        for name, values in records.items():
            for value in values:
                message.add(self._absolute(name), ttl, "TXT", _quoted(value))
        self._send(message, "publishing the TXT records")

    def remove_txt(self, records: Mapping[str, Sequence[str]]) -> None:
        """Remove exactly these TXT values (others at the same names stay), in one atomic update."""
        message = self._message()
        for name, values in records.items():
            for value in values:
                message.delete(self._absolute(name), "TXT", _quoted(value))
        self._send(message, "removing the TXT records")


def _quoted(value: str) -> str:
    """A TXT value as rdata text (ACME values are base64url, so quoting is all it needs)."""
    if any(c in value for c in '"\\') or any(ord(c) < 33 or ord(c) > 126 for c in value):
        raise DnsUpdateError("unexpected characters in a TXT value")
    return f'"{value}"'
