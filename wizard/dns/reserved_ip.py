"""Is the hub's public IP reserved (static)? An ephemeral IP can change or vanish, and then the domain points at
someone else's machine: the hub is unreachable and Let's Encrypt cannot renew.

The hub's facts (cloud metadata, gathered over SSH by ``wizard.hub.facts``) say which provider runs the VM and its
public IP; only DigitalOcean's metadata says whether a reserved IP is attached. Everywhere else the wizard explains
what goes wrong on that provider and asks the operator to confirm; the answers keep that confirmation
(``domain.ip_reserved_confirmed``). The engine takes plain values so it depends on neither the facts nor the
answers model.
"""

from __future__ import annotations

from dataclasses import dataclass

from wizard.diagnosis import Diagnosis, Status


@dataclass(frozen=True)
class ProviderGuide:
    name: str  # the provider as operators know it
    term: str  # what the provider calls a reserved address
    risk: str  # what happens to an ephemeral address there
    how: str  # how to reserve the address the VM has now ({ip}: that address)

    def steps(self, ip: str | None) -> str:
        return self.how.replace("{ip}", ip or "ADDRESS")


GUIDES: dict[str, ProviderGuide] = {
    "gcp": ProviderGuide(
        "Google Cloud", "static external IP address",
        "An ephemeral external IP is released when the VM is stopped and a different one is assigned at start.",
        "Promote the current address: gcloud compute addresses create tljh-hub --addresses {ip} --region REGION "
        "(VPC network > IP addresses > Reserve in the console)."),
    "aws": ProviderGuide(
        "AWS", "Elastic IP",
        "An auto-assigned public IPv4 changes every time the instance is stopped and started.",
        "Allocate an Elastic IP and associate it with the instance (aws ec2 allocate-address, then aws ec2 "
        "associate-address --instance-id ID --allocation-id ALLOC), then point the domain at it."),
    "digitalocean": ProviderGuide(
        "DigitalOcean", "reserved IP",
        "A droplet keeps its own IP across power cycles but loses it when the droplet is destroyed or rebuilt "
        "(restoring a snapshot creates a new droplet with a new IP).",
        "Assign a reserved IP to the droplet (Networking > Reserved IPs, or doctl compute reserved-ip create "
        "--droplet-id ID) and point the domain at the reserved IP."),
    "azure": ProviderGuide(
        "Azure", "static public IP address",
        "A dynamic public IP is released when the VM is stopped (deallocated) and may come back different.",
        "Set the VM's public IP resource to static: az network public-ip update -g GROUP -n NAME "
        "--allocation-method Static (Standard SKU addresses are always static)."),
    "hetzner": ProviderGuide(
        "Hetzner Cloud", "primary IP (with auto-delete off)",
        "A server keeps its primary IP while it exists, but with auto-delete on (the default) the IP is released "
        "when the server is deleted or replaced, e.g. when rebuilding from a snapshot.",
        "Turn off auto-delete for the server's primary IPv4 (Primary IPs > the address > Auto delete: off), or use "
        "a floating IP."),
}

GENERIC = ProviderGuide(
    "your provider", "reserved or static IP",
    "Most clouds hand out ephemeral public IPs that change when the VM is stopped, deallocated or rebuilt.",
    "Reserve the VM's current public IP at your provider (static/reserved/elastic IP) and point the domain at it.")


def guide_for(provider: str | None) -> ProviderGuide:
    return GUIDES.get((provider or "").lower(), GENERIC)


def explanation(provider: str | None, ip: str | None = None) -> str:
    """What to show before asking the operator to confirm the IP is reserved."""
    guide = guide_for(provider)
    return (f"{guide.risk} The domain would then point at an address that is not this hub (perhaps someone "
            f"else's): visitors and Let's Encrypt renewals fail until DNS is fixed. On {guide.name}, use a "
            f"{guide.term}. {guide.steps(ip)}")


def check_reserved_ip(expected_ip: str, public_ip: str | None, provider: str | None,
                      provider_says_reserved: bool | None, confirmed: bool = False,
                      reserved_ip: str | None = None) -> Diagnosis:
    """``expected_ip``: the address the domain must point at (the answers' reserved IPv4).
    ``public_ip``/``provider``: from the hub's cloud metadata (None when unknown).
    ``provider_says_reserved``: True/False when the metadata tells (DigitalOcean), None otherwise; ``reserved_ip``
    is then the reserved address itself. ``confirmed``: the operator's recorded confirmation."""
    guide = guide_for(provider)
    on = f" on {guide.name}" if guide is not GENERIC else ""
    data = {"expected_ip": expected_ip, "public_ip": public_ip, "provider": provider, "reserved_ip": reserved_ip,
            "provider_says_reserved": provider_says_reserved, "confirmed": confirmed}
    if provider_says_reserved and reserved_ip:
        if expected_ip == reserved_ip:
            return Diagnosis("ip.reserved", Status.OK, f"{expected_ip} is this droplet's {guide.term} (reported by "
                             f"{guide.name})", data=data)
        return Diagnosis("ip.reserved", Status.ERROR, f"the domain should point at the {guide.term} {reserved_ip}, "
                         f"not {expected_ip}", f"{guide.name} reports {reserved_ip} as the {guide.term} of this VM. "
                         + guide.risk, f"Use {reserved_ip} as the reserved IP and point the domain's A record at it.",
                         data)
    if public_ip and expected_ip != public_ip:
        return Diagnosis("ip.reserved", Status.ERROR, f"{expected_ip} is not this VM's public IP {public_ip}{on}",
                         f"The cloud metadata of the hub says its public IP is {public_ip}; traffic to "
                         f"{expected_ip} does not reach it.",
                         f"Point the domain at {public_ip} (after reserving it: {guide.steps(public_ip)}), or attach "
                         f"{expected_ip} to this VM.", data)
    if provider_says_reserved is False:
        return Diagnosis("ip.reserved", Status.WARNING, f"{guide.name} reports no {guide.term} on this VM",
                         explanation(provider, expected_ip), guide.steps(expected_ip), data)
    if confirmed:
        return Diagnosis("ip.reserved", Status.OK, f"{expected_ip} is reserved{on} (confirmed by the operator)",
                         data=data)
    where = f"{guide.name} does not say" if guide is not GENERIC else "the provider is unknown, so nothing tells"
    return Diagnosis("ip.reserved", Status.WARNING, f"is {expected_ip} reserved? {where}: please confirm",
                     explanation(provider, expected_ip), guide.steps(expected_ip) + " Then confirm it in the wizard.",
                     data)
