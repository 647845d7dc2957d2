"""``tljh-wizard dns-check`` against real BIND: exit codes 0/1/2, text and JSON output, refused input."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.rig.bind import DnsWorld, ZoneSpec
from wizard.dns import cli

HUB_V4 = "203.0.113.10"
ROOT = Path(__file__).resolve().parent.parent

ZONES = {
    "good.test": ZoneSpec(f"hub IN A {HUB_V4}"),
    "bad.test": ZoneSpec(f"hub IN A {HUB_V4}\nhub IN AAAA 2001:db8::5"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("dns-cli-world"), ZONES) as started:
        yield started


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def resolver_args(resolvers):
    return [arg for resolver in resolvers for arg in ("--resolver", resolver)]


def test_all_ok_exits_0(world, capsys):
    assert cli.run(parse("hub.good.test", "--expect-ip", HUB_V4, *resolver_args(world.resolvers))) == 0
    out = capsys.readouterr().out
    assert "OK       dns.a: hub.good.test -> 203.0.113.10" in out
    assert out.rstrip().endswith("9 ok, 0 warning(s), 0 error(s)")


def test_warnings_exit_1(world, capsys):
    code = cli.run(parse("hub.good.test", "--expect-ip", HUB_V4, "--timeout", "0.5",
                         *resolver_args([*world.resolvers, world.dead_resolver])))
    assert code == 1
    assert f"WARNING  dns.resolvers: resolver not answering: {world.dead_resolver}" in capsys.readouterr().out


def test_errors_exit_2_and_json_lists_the_diagnoses(world, capsys):
    code = cli.run(parse("hub.bad.test", "--expect-ip", HUB_V4, "--json", *resolver_args(world.resolvers)))
    assert code == 2
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "error"
    assert report["domain"] == "hub.bad.test"
    statuses = {d["id"]: d["status"] for d in report["diagnoses"]}
    assert statuses["dns.aaaa"] == "error" and statuses["dns.a"] == "ok"
    aaaa = next(d for d in report["diagnoses"] if d["id"] == "dns.aaaa")
    assert aaaa["fix"].startswith("Delete the AAAA record 2001:db8::5 for hub.bad.test")


def run_command(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "wizard", "dns-check", *argv], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)


def test_the_installed_command_end_to_end(world):
    done = run_command("hub.good.test", "--expect-ip", HUB_V4, "--json", *resolver_args(world.resolvers))
    assert done.returncode == 0, done.stderr
    assert {d["status"] for d in json.loads(done.stdout)["diagnoses"]} == {"ok"}
    done = run_command("hub.bad.test", "--expect-ip", HUB_V4, *resolver_args(world.resolvers))
    assert done.returncode == 2
    assert "ERROR    dns.aaaa" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["not a domain", "--expect-ip", HUB_V4], "DOMAIN: 'not a domain' is not a valid host name"),
    (["hub.good.test", "--expect-ip", "203.0.113"], "--expect-ip: '203.0.113' is not an IPv4 address"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--expect-ipv6", "fe80::zz"], "--expect-ipv6:"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--resolver", "dns.example"], "--resolver: a resolver must be an IP"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--timeout", "0"], "--timeout: expected a positive number"),
])
def test_refused_input_exits_2_with_the_reason(argv, message):
    done = run_command(*argv)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def web_on_port_80():
    """A JupyterHub-like /hub/api on port 80 of a spare loopback address (root), nothing on its port 443."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.rig.bind import spare_loopback_addresses

    class HubApi(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = json.dumps({"version": "5.3.0"}).encode()
            self.send_response(200 if self.path == "/hub/api" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    address = spare_loopback_addresses(1)[0]
    server = ThreadingHTTPServer((address, 80), HubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield address
    server.shutdown()
    server.server_close()


def test_reach_adds_the_reachability_checks(world, web_on_port_80, capsys):
    world.replace("web.good.test.", "A", web_on_port_80)
    code = cli.run(parse("web.good.test", "--expect-ip", web_on_port_80, "--reach", "--json",
                         *resolver_args(world.resolvers)))
    report = {d["id"]: d for d in json.loads(capsys.readouterr().out)["diagnoses"]}
    assert report["dns.a"]["status"] == "ok"
    assert report["reach.http"]["status"] == "ok"
    assert report["reach.https"]["status"] == "warning"  # nothing on 443 before the HTTPS step
    assert report["reach.hub"]["status"] == "warning"  # a JupyterHub answers; no SSH here to compare with its own
    assert report["reach.hub"]["data"]["answer"] == {"version": "5.3.0"}
    assert code == 1


def test_a_pasted_url_checks_its_host_name_with_a_note(world, capsys):
    code = cli.run(parse("https://Hub.Good.test/hub/", "--expect-ip", HUB_V4, *resolver_args(world.resolvers)))
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("note: 'https://Hub.Good.test/hub/' is a URL: checking its host name hub.good.test\n")
    assert "OK       dns.a: hub.good.test -> 203.0.113.10" in out
    assert cli.run(parse("hub.good.test/hub", "--expect-ip", HUB_V4, "--json", *resolver_args(world.resolvers))) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["domain"] == "hub.good.test" and report["input"] == "hub.good.test/hub"
    assert report["notes"] == ["'hub.good.test/hub' is a URL: checking its host name hub.good.test"]


@pytest.mark.parametrize("text, expected, note", [
    ("bücher.example.edu", "xn--bcher-kva.example.edu", "bücher.example.edu is xn--bcher-kva.example.edu in DNS"),
    ("https://Bücher.Example.edu:8443/hub/", "xn--bcher-kva.example.edu", "is a URL: checking its host name"),
    ("HUB.Example.EDU.", "hub.example.edu", None),
])
def test_domain_input_forms(text, expected, note):
    host, notes = cli.domain_from_input(text)
    assert host == expected
    assert (note is None and not notes) or any(note in line for line in notes)


@pytest.mark.parametrize("text", ["", "https:///hub/", "xn--a.example.edu" * 20, "a..b.example", "☃ ☃.example"])
def test_domain_input_refusals_are_one_line(text):
    from wizard.fields import ValidationError

    with pytest.raises(ValidationError) as refused:
        cli.domain_from_input(text)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 220


@pytest.mark.parametrize("argv, field", [
    (["", "--expect-ip", HUB_V4], "DOMAIN"),
    ([], "DOMAIN"),
    (["hub.good.test"], "--expect-ip"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--timeout", "soon"], "--timeout"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--https-mode", "certbot"], "--https-mode"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--account-uri", "https://acme/acct/1"], "--account-uri"),
    (["hub.good.test", "--expect-ip", HUB_V4, "--no-such-option"], "arguments"),
    (["hub.good.test", "--expect-ip"], "--expect-ip"),
])
def test_json_refusals_are_json_objects(argv, field):
    done = run_command(*argv, "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert set(report) == {"error", "field"} and report["field"] == field and report["error"]
    assert done.stderr == ""


@given(st.text(max_size=120))
@example("0000000000\x1f\x1f\x1f\x1f\x08\U00011af9\U00011ef9\U00018cd6\U00018d09\U00018d09\U00018d09\U0001fbcb")
def test_any_domain_input_is_a_host_or_a_one_line_refusal(text):
    from wizard.fields import ValidationError

    try:
        host, notes = cli.domain_from_input(text)
    except ValidationError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300
    else:
        assert host.isascii() and host == host.lower() and "." in host and all(isinstance(n, str) for n in notes)
