"""Reserved-IP diagnosis: the provider's word where it has one, otherwise a per-provider explanation and the
operator's confirmation."""

import pytest

from wizard.diagnosis import Status
from wizard.dns.reserved_ip import GUIDES, check_reserved_ip, explanation

IP = "203.0.113.10"


def test_digitalocean_reports_the_reserved_ip():
    result = check_reserved_ip(IP, "198.51.100.4", "digitalocean", True, reserved_ip=IP)
    assert result.status is Status.OK
    assert result.summary == f"{IP} is this droplet's reserved IP (reported by DigitalOcean)"


def test_digitalocean_domain_points_at_the_droplets_own_ip_instead_of_the_reserved_one():
    result = check_reserved_ip("198.51.100.4", "198.51.100.4", "digitalocean", True, reserved_ip=IP)
    assert result.status is Status.ERROR
    assert result.fix == f"Use {IP} as the reserved IP and point the domain's A record at it."


def test_digitalocean_without_a_reserved_ip_warns_even_when_confirmed():
    result = check_reserved_ip(IP, IP, "digitalocean", False, confirmed=True)
    assert result.status is Status.WARNING
    assert "destroyed or rebuilt" in result.details
    assert "doctl compute reserved-ip create" in result.fix


def test_ip_that_is_not_the_vms_public_ip():
    result = check_reserved_ip(IP, "198.51.100.4", "gcp", None, confirmed=True)
    assert result.status is Status.ERROR
    assert result.summary == f"{IP} is not this VM's public IP 198.51.100.4 on Google Cloud"
    assert "--addresses 198.51.100.4" in result.fix


@pytest.mark.parametrize("provider, words", [
    ("gcp", "static external IP"), ("aws", "Elastic IP"), ("azure", "--allocation-method Static"),
    ("hetzner", "auto-delete"), ("digitalocean", "reserved IP"),
])
def test_unconfirmed_ip_explains_the_providers_way(provider, words):
    result = check_reserved_ip(IP, IP, provider, None)
    assert result.status is Status.WARNING
    assert result.summary == f"is {IP} reserved? {GUIDES[provider].name} does not say: please confirm"
    assert words in result.details
    assert result.details == explanation(provider, IP)


def test_gcp_explanation_names_the_address_to_promote():
    assert f"gcloud compute addresses create tljh-hub --addresses {IP}" in explanation("gcp", IP)
    assert "released when the VM is stopped" in explanation("gcp", IP)


@pytest.mark.parametrize("provider", ["gcp", "aws", "azure", "hetzner", None, "unknown"])
def test_operator_confirmation_makes_it_ok(provider):
    result = check_reserved_ip(IP, IP if provider else None, provider, None, confirmed=True)
    assert result.status is Status.OK
    assert "confirmed by the operator" in result.summary


def test_unknown_provider_and_ip():
    result = check_reserved_ip(IP, None, None, None)
    assert result.status is Status.WARNING
    assert "the provider is unknown" in result.summary
    assert result.fix.endswith("Then confirm it in the wizard.")
