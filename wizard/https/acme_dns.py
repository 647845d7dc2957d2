"""Mode "acme-dns": the wizard issues the certificate itself with ACME DNS-01, for hubs a CA cannot reach on 443.

One issuance: account (key generated once, kept 0600 in the session's secret store, reused for every order; the
directory's terms of service surfaced and agreed explicitly) -> order -> publish the challenge TXT records by a
TSIG-signed RFC 2136 update -> wait until every authoritative nameserver serves them -> answer -> poll (short first
interval, backing off, honouring Retry-After) -> finalize -> fetch the chain. The TXT records are removed whatever
happens after they were published: success, a failure, a timeout, Ctrl-C or a cancel from the front-end.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from wizard.https.dnsupdate import DnsUpdateError, Rfc2136
from wizard.https.progress import Backoff, CancelToken, Deadline, Progress, no_progress
from wizard.https.propagation import Nameserver, PropagationTimeout, authoritative_nameservers, wait_until_served

if TYPE_CHECKING:
    import requests
    from acme import messages
    from acme.client import ClientNetwork, ClientV2
    from josepy.jwk import JWK, JWKEC

    from wizard.https.ratelimit import RateLimitGuard


ACCOUNT_KEY = "acme-account-key.pem"
USER_AGENT = "tljh-wizard"


class AcmeDnsError(Exception):
    """Issuance failed; the message says where and why."""


class TermsNotAgreed(AcmeDnsError):
    """The directory has terms of service the operator has not agreed to (``url`` is what to show them)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"the ACME directory's terms of service must be agreed first: {url}")
        self.url = url


class ValidationFailed(AcmeDnsError):
    """The CA tried the challenge and refused it."""


class IssuanceTimeout(AcmeDnsError):
    pass


class SecretStore(Protocol):
    """Where the account key and account record live: ``Session`` provides this (0600 files in its store)."""

    def read_secret(self, name: str) -> bytes | None: ...

    def write_secret(self, name: str, data: bytes | str) -> object: ...


class DirectoryStore:
    """A ``SecretStore`` in a private directory of its own (benches, scripts without a session)."""

    def __init__(self, path: str | Path) -> None:
        from wizard.files import private_dir

        self.path = private_dir(path)

    def read_secret(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_secret(self, name: str, data: bytes | str) -> Path:
        from wizard.files import atomic_write

        return atomic_write(self.path / name, data, mode=0o600)


@dataclass
class AcmeDirectory:
    """An ACME CA: its directory URL, whether it is production (rate limits apply), and the CA bundle that
    verifies its HTTPS endpoint (a test CA such as Pebble's; None means the system's roots)."""

    url: str
    production: bool
    ca_bundle: str | None = None

    @property
    def verify(self) -> str | bool:
        return str(self.ca_bundle) if self.ca_bundle else True


@dataclass
class Issued:
    """A certificate the wizard obtained. ``key_pem`` is secret: store it, never log or export it."""

    names: list[str]
    fullchain_pem: bytes
    key_pem: bytes = field(repr=False)
    not_after: str
    renewal_time: str
    renewal_source: str  # "ari" (the CA said when) or "lifetime" (two thirds of the validity period)
    directory_url: str
    account_url: str
    warnings: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the session remembers about it (no key)."""
        return {"names": self.names, "not_after": self.not_after, "renewal_time": self.renewal_time,
                "renewal_source": self.renewal_source, "directory_url": self.directory_url,
                "account_url": self.account_url}


def _account_record_name(directory_url: str) -> str:
    return f"acme-account-{hashlib.sha256(directory_url.encode()).hexdigest()[:16]}.json"


def _iso(moment: _dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def _retry_after(response: requests.Response | None) -> float | None:
    """The server's Retry-After in seconds, when it sent one."""
    from acme.client import ClientV2

    if response is None or "Retry-After" not in response.headers:
        return None
    return max(0.0, (ClientV2.retry_after(response, 0) - _dt.datetime.now()).total_seconds())


def _network(directory: AcmeDirectory, jwk: JWK | None, timeout: float) -> ClientNetwork:
    from acme import client
    from josepy.jwa import ES256

    # Both go to requests as they are: verify_ssl may be a CA bundle's path, timeout a float (acme annotates them as
    # bool and int).
    return client.ClientNetwork(jwk, alg=ES256, verify_ssl=directory.verify,  # type: ignore[arg-type]
                                user_agent=USER_AGENT, timeout=timeout)  # type: ignore[arg-type]


def terms_of_service(directory: AcmeDirectory, timeout: float = 30.0) -> str | None:
    """The directory's terms-of-service URL, to show the operator before they agree."""
    from acme import client

    net = _network(directory, None, timeout)
    terms = client.ClientV2.get_directory(directory.url, net).meta.terms_of_service
    return str(terms) if terms else None


class AcmeDnsIssuer:
    """Issues certificates from one ACME directory with DNS-01 through one RFC 2136 zone."""

    def __init__(self, directory: AcmeDirectory, store: SecretStore, dns: Rfc2136, *, email: str,
                 tos_agreed: bool, guard: RateLimitGuard | None = None, nameserver_port: int = 53,
                 progress: Progress = no_progress,
                 cancel: CancelToken | None = None, timeout: float = 300.0, propagation_timeout: float = 300.0,
                 first_poll: float = 0.05, network_timeout: float = 30.0) -> None:
        self.directory = directory
        self.store = store
        self.dns = dns
        self.email = email
        self.tos_agreed = tos_agreed
        self.guard = guard
        self.nameserver_port = nameserver_port
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.timeout = timeout
        self.propagation_timeout = propagation_timeout
        self.first_poll = first_poll
        self.network_timeout = network_timeout

    # -- account ------------------------------------------------------------------------------------------------

    def account_key(self) -> JWKEC:
        """The account key (a JWK), generated and stored 0600 the first time, reused ever after."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = self.store.read_secret(ACCOUNT_KEY)
        if pem is None:
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            self.store.write_secret(ACCOUNT_KEY, pem)
            self.progress("account", "generated a new ACME account key (stored 0600 in the session)")
        from josepy.jwk import JWKEC

        return JWKEC(key=serialization.load_pem_private_key(pem, password=None))

    def _client(self, jwk: JWK) -> ClientV2:
        """A client logged in to the directory: the stored account when there is one, else a new registration."""
        from acme import client, messages

        net = _network(self.directory, jwk, self.network_timeout)
        acme = client.ClientV2(client.ClientV2.get_directory(self.directory.url, net), net)
        stored = self.store.read_secret(_account_record_name(self.directory.url))
        if stored is not None:
            net.account = messages.RegistrationResource.json_loads(stored)
            self.progress("account", f"using the existing account {net.account.uri}")
        else:
            self._register(acme)
        return acme

    def _register(self, acme: ClientV2) -> None:
        """Register the account key with the directory (terms agreed explicitly) and remember the account."""
        from acme import errors, messages

        tos = acme.directory.meta.terms_of_service
        if tos and not self.tos_agreed:
            raise TermsNotAgreed(tos)
        registration = messages.NewRegistration.from_data(email=self.email or None,
                                                          terms_of_service_agreed=True if tos else None)
        acme.net.account = None  # a registration is signed with the key itself (JWK), not an account URL
        try:
            regr = acme.new_account(registration)
        except errors.ConflictError as exists:  # the CA already knows this key: adopt that account
            regr = messages.RegistrationResource(uri=str(exists), body=messages.Registration())
            acme.net.account = regr
        self.store.write_secret(_account_record_name(self.directory.url), regr.json_dumps())
        self.progress("account", f"registered account {regr.uri}" + (f" (terms agreed: {tos})" if tos else ""))

    def _new_order(self, acme: ClientV2, csr_pem: bytes) -> messages.OrderResource:
        """A new order; when the CA has forgotten the stored account (a test CA restarted, an account
        deactivated), the same key registers again once."""
        from acme import messages

        try:
            return acme.new_order(csr_pem)
        except messages.Error as exc:
            if exc.code != "accountDoesNotExist":
                raise
        self.progress("account", "the CA no longer knows the stored account: registering the same key again")
        self._register(acme)
        return acme.new_order(csr_pem)

    # -- issuance -----------------------------------------------------------------------------------------------

    def issue(self, names: Sequence[str]) -> Issued:
        """One certificate for ``names``: the key is new, the account is reused."""
        import requests
        from acme import errors, messages

        names = list(dict.fromkeys(name.lower().rstrip(".") for name in names))
        if not names:
            raise AcmeDnsError("no names to issue a certificate for")
        if self.guard is not None:
            self.guard.check_order(names, self.directory.production)
        self.cancel.check()
        try:
            return self._issue(names)
        except (AcmeDnsError, DnsUpdateError, PropagationTimeout):
            raise
        except messages.Error as exc:
            raise AcmeDnsError(f"the ACME server refused: {exc.detail or exc.typ}") from None
        except errors.Error as exc:
            raise AcmeDnsError(f"ACME error: {exc}") from None
        except requests.exceptions.RequestException as exc:
            raise AcmeDnsError(f"cannot reach the ACME server {self.directory.url}: "
                               f"{type(exc).__name__}: {exc}") from None

    def _issue(self, names: list[str]) -> Issued:
        from acme import challenges, crypto_util, messages
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.progress("account", f"contacting {self.directory.url}")
        jwk = self.account_key()
        acme = self._client(jwk)
        self.cancel.check()

        self.progress("order", f"ordering a certificate for {', '.join(names)}")
        cert_key = ec.generate_private_key(ec.SECP256R1())
        key_pem = cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        orderr = self._new_order(acme, crypto_util.make_csr(key_pem, names))
        records: dict[str, list[str]] = defaultdict(list)
        pending: list[tuple[messages.AuthorizationResource, messages.ChallengeBody]] = []  # not yet valid
        for authzr in orderr.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue
            challb = next((c for c in authzr.body.challenges if isinstance(c.chall, challenges.DNS01)), None)
            domain = authzr.body.identifier.value
            if challb is None:
                raise AcmeDnsError(f"the CA offers no DNS-01 challenge for {domain}")
            records[challb.chall.validation_domain_name(domain)].append(challb.chall.validation(jwk))
            pending.append((authzr, challb))

        published: dict[str, list[str]] = {}
        try:
            if records:
                self.progress("publish", f"publishing {sum(map(len, records.values()))} TXT record(s) via "
                                         f"{self.dns.server}:{self.dns.port}")
                try:
                    self.dns.add_txt(records)
                except DnsUpdateError as exc:
                    if exc.uncertain:
                        published = dict(records)
                    raise
                published = dict(records)
                self.cancel.check()
                self.progress("propagate", "waiting until every authoritative nameserver serves the records")
                wait_until_served(records, self._nameservers(), timeout=self.propagation_timeout,
                                  progress=self.progress, cancel=self.cancel)
                self._validate(acme, jwk, pending, names)
            issued = self._finalize(acme, orderr, names, key_pem)
        except BaseException:  # failure, timeout, Ctrl-C, cancel: the records go, then the cause propagates
            if published:
                self._remove(published)
            raise
        if published:
            problem = self._remove(published)
            if problem:
                issued.warnings.append(problem)
        return issued

    def _remove(self, records: dict[str, list[str]]) -> str:
        """Remove the challenge records; return what went wrong (cleanup must never hide the original error)."""
        try:
            self.dns.remove_txt(records)
        except DnsUpdateError as exc:
            problem = f"could not remove the challenge TXT records {', '.join(records)}: {exc}; remove them by hand"
            self.progress("publish", problem)
            return problem
        self.progress("publish", "removed the challenge TXT records")
        return ""

    def _nameservers(self) -> list[Nameserver]:
        import dns.exception

        try:
            return authoritative_nameservers(self.dns.zone, self.dns.address(), self.dns.port,
                                             nameserver_port=self.nameserver_port)
        except (dns.exception.DNSException, OSError) as exc:
            raise PropagationTimeout(f"cannot list the authoritative nameservers of {self.dns.zone}: "
                                     f"{type(exc).__name__}: {exc}") from None

    def _validate(self, acme: ClientV2, jwk: JWK,
                  pending: list[tuple[messages.AuthorizationResource, messages.ChallengeBody]],
                  names: list[str]) -> None:
        from acme import messages

        deadline = Deadline(self.timeout)
        self.progress("validate", f"answering the challenges: the CA now checks {len(pending)} name(s)")
        for _authzr, challb in pending:
            self.cancel.check()
            acme.answer_challenge(challb, challb.chall.response(jwk))
        backoff = Backoff(first=self.first_poll, maximum=5.0)
        waiting = [authzr for authzr, _ in pending]
        while waiting:
            still, retry = [], None
            for authzr in waiting:
                updated, response = acme.poll(authzr)
                status = updated.body.status
                domain = updated.body.identifier.value
                if status == messages.STATUS_VALID:
                    self.progress("validate", f"{domain} validated")
                elif status in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                    still.append(updated)
                    after = _retry_after(response)
                    retry = after if retry is None or (after is not None and after > retry) else retry
                else:
                    problems = [c.error.detail or c.error.typ for c in updated.body.challenges if c.error]
                    if self.guard is not None:
                        self.guard.record(names, self.directory.production, passed=False)
                    raise ValidationFailed(f"the CA could not validate {domain}: "
                                           f"{'; '.join(problems) or status.name}")
            waiting = still
            if waiting:
                if deadline.passed:
                    raise IssuanceTimeout(f"the CA did not finish validating within {self.timeout:g} s")
                self.cancel.wait(min(backoff.interval(retry), deadline.remaining))
        if self.guard is not None:
            self.guard.record(names, self.directory.production, passed=True)

    def _finalize(self, acme: ClientV2, orderr: messages.OrderResource, names: list[str], key_pem: bytes) -> Issued:
        from acme import messages

        self.cancel.check()
        self.progress("finalize", "sending the certificate request")
        deadline = Deadline(self.timeout)
        backoff = Backoff(first=self.first_poll, maximum=5.0)
        orderr = acme.begin_finalization(orderr)
        body, response = orderr.body, None
        while True:
            if body.status == messages.STATUS_VALID and body.certificate:
                break
            if body.status == messages.STATUS_INVALID:
                raise AcmeDnsError(f"the CA abandoned the order: {body.error.detail if body.error else 'no reason'}")
            if body.status == messages.STATUS_READY:
                orderr = acme.begin_finalization(orderr)
                body = orderr.body
                continue
            if deadline.passed:
                raise IssuanceTimeout(f"the CA did not issue the certificate within {self.timeout:g} s")
            self.cancel.wait(min(backoff.interval(_retry_after(response)), deadline.remaining))
            # POST-as-GET on the order URL (RFC 8555 7.1.3); the library's own loop sleeps a fixed second.
            response = acme._post_as_get(orderr.uri)
            body = messages.Order.from_json(response.json())
        fullchain = acme._post_as_get(body.certificate).text.encode()
        self.progress("finalize", "certificate issued; chain fetched")
        return self._issued(acme, names, fullchain, key_pem)

    def _issued(self, acme: ClientV2, names: list[str], fullchain: bytes, key_pem: bytes) -> Issued:
        from acme import errors

        from wizard.https import certs

        leaf = certs.load_chain(fullchain)[0]
        missing = certs.uncovered(leaf, names)
        if missing:
            raise AcmeDnsError(f"the CA issued a certificate that does not cover {', '.join(missing)}")
        warnings = []
        source = "lifetime"
        when = leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) * 2 / 3
        try:
            suggested, _next_check = acme.renewal_time(certs.dump_chain([leaf]))
            if suggested is not None:
                when, source = suggested, "ari"
        except errors.ARIError as exc:
            warnings.append(f"renewal information (ARI) unavailable: {exc}; renewing at two thirds of the lifetime")
        return Issued(names=names, fullchain_pem=fullchain, key_pem=key_pem,
                      not_after=_iso(leaf.not_valid_after_utc), renewal_time=_iso(when), renewal_source=source,
                      directory_url=self.directory.url, warnings=warnings,
                      account_url=acme.net.account.uri if acme.net.account is not None else "")
