"""Limits: memory/CPU/culling validators and the sizing calculator, checked against hand-computed cases."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard import limits
from wizard.diagnosis import Status
from wizard.fields import Field, ValidationError
from wizard.limits import GIB, MIB, HostFacts, SizingInputs

# --------------------------------------------------------------------------------------------------------------
# Memory


@pytest.mark.parametrize("text, size", [
    ("512M", 512 * MIB),
    ("2G", 2 * GIB),
    ("1.5G", 1536 * MIB),
    ("1T", 1024 * GIB),
    ("64K", 64 * 1024),
    ("2g", 2 * GIB),
    (" 2 G ", 2 * GIB),
    (".5G", 512 * MIB),
])
def test_parse_memory(text, size):
    assert limits.parse_memory(text) == size


@pytest.mark.parametrize("size, text", [
    (512 * MIB, "512M"),
    (2 * GIB, "2G"),
    (1536 * MIB, "1.5G"),
    (1024 * GIB, "1T"),
    (1000 * MIB, "1000M"),
    (512, "0.5K"),
])
def test_format_memory(size, text):
    assert limits.format_memory(size) == text
    assert limits.parse_memory(text) == size


@pytest.mark.parametrize("raw, normalised", [
    ("512M", "512M"),
    ("2g", "2G"),
    ("1.50G", "1.5G"),
    ("2.0G", "2G"),
    ("0.5G", "0.5G"),
    (".5G", "0.5G"),
    ("0512M", "512M"),
    (" 4 G", "4G"),
])
def test_memory_limit_normalises(raw, normalised):
    assert limits.memory_limit(raw) == normalised


@pytest.mark.parametrize("raw, expected_in_message", [
    ("2Gi", "use '2G'"),
    ("512Mi", "use '512M'"),
    ("2GB", "use '2G'"),
    ("2", "has no unit"),
    (2, "has no unit"),
    (2.5, "has no unit"),
    ("0G", "zero"),
    ("0M", "zero"),
    ("-1G", "negative"),
    ("512K", "at least 32M"),
    ("2X", "512M, 2G or 1.5G"),
    ("", "512M, 2G or 1.5G"),
    ("lots", "512M, 2G or 1.5G"),
    ("1e3G", "512M, 2G or 1.5G"),
    (True, "512M, 2G or 1.5G"),
    (None, "512M, 2G or 1.5G"),
    ("99999999T", "more than any VM"),
])
def test_memory_limit_refusals_explain_the_accepted_form(raw, expected_in_message):
    with pytest.raises(ValidationError) as caught:
        limits.memory_limit(raw)
    assert expected_in_message in caught.value.message


@given(st.integers(min_value=1, max_value=2**53))
def test_format_then_parse_is_identity(size):
    assert limits.parse_memory(limits.format_memory(size)) == size


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from("KMGT"))
def test_memory_limit_then_parse_keeps_the_value(number, unit):
    text = f"{number}{unit}"
    try:
        normalised = limits.memory_limit(text)
    except ValidationError:
        assert limits.parse_memory(text) < limits.MIN_MEMORY or limits.parse_memory(text) > limits.MAX_MEMORY
        return
    assert normalised == text
    assert limits.parse_memory(normalised) == limits.parse_memory(text)


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers())))
@settings(max_examples=300)
def test_memory_validators_raise_only_validation_errors(raw):
    for validate in (limits.memory_limit, limits.parse_memory):
        try:
            validate(raw)
        except ValidationError as exc:
            assert exc.message


@given(st.text(alphabet="0123456789.KMGTkmgtiB -", max_size=12))
@settings(max_examples=500)
def test_memory_limit_output_is_always_tljh_form(raw):
    try:
        value = limits.memory_limit(raw)
    except ValidationError:
        return
    assert limits._MEMORY.fullmatch(value) and value[-1] in "KMGT" and value == value.strip()
    assert limits.parse_memory(value) == limits.parse_memory(raw)


# --------------------------------------------------------------------------------------------------------------
# CPU


@pytest.mark.parametrize("raw, value", [("0.5", 0.5), ("1", 1), (2, 2), (1.0, 1), ("2.0", 2), (0.25, 0.25)])
def test_cpu_limit(raw, value):
    result = limits.cpu_limit(raw)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("raw", ["0", 0, "-1", -0.5, "two", True, None, float("nan"), float("inf"), "1e3", "2000"])
def test_cpu_limit_refusals(raw):
    with pytest.raises(ValidationError) as caught:
        limits.cpu_limit(raw)
    assert "CPU" in caught.value.message


def test_tljh_200_refuses_fractional_cpu_and_offers_the_nearest_whole_number():
    with pytest.raises(ValidationError) as caught:
        limits.cpu_for_tljh(0.5, "2.0.0")
    assert caught.value.message == (
        "TLJH 2.0.0 accepts only whole CPUs for limits.cpu (its schema rejects 0.5); use 1"
    )
    with pytest.raises(ValidationError, match="rejects 2.4.*use 2$"):
        limits.cpu_for_tljh("2.4", "2.0.0")
    with pytest.raises(ValidationError, match="use 3$"):
        limits.cpu_for_tljh("2.5", "2.0.0")
    with pytest.raises(ValidationError, match="use 4$"):
        limits.cpu_for_tljh(3.7, "1.0.0")


def test_tljh_200_keeps_whole_cpus_and_later_versions_keep_fractions():
    assert limits.cpu_for_tljh("2", "2.0.0") == 2
    assert limits.cpu_for_tljh(2.0, "2.0.0") == 2
    assert limits.cpu_for_tljh("0.5", "2.1.0") == 0.5
    assert limits.cpu_for_tljh("0.5", "2.0.1.dev0") == 0.5
    assert limits.cpu_for_tljh("0.5", "3.0.0") == 0.5


def test_unknown_tljh_version_is_treated_as_200():
    with pytest.raises(ValidationError, match="unknown \\(assumed 2.0.0\\).*use 1"):
        limits.cpu_for_tljh(0.5, "")


def test_tljh_200_rule_agrees_with_the_schemas():
    """The rule is the schemas' own: 2.0.0 declares an integer, main a number."""
    import json
    from importlib import resources

    def cpu_type(name):
        schema = json.loads(resources.files("wizard").joinpath(f"data/tljh/{name}").read_text())
        return json.dumps(schema["definitions"]["Limits"]["properties"]["cpu"])

    assert '"integer"' in cpu_type("config-schema-2.0.0.json")
    assert '"number"' in cpu_type("config-schema-main.json")


# --------------------------------------------------------------------------------------------------------------
# Culling


@pytest.mark.parametrize("validate, raw, seconds", [
    (limits.cull_timeout, "600", 600),
    (limits.cull_timeout, 3600, 3600),
    (limits.cull_timeout, "1h", 3600),
    (limits.cull_timeout, "10 min", 600),
    (limits.cull_every, "60", 60),
    (limits.cull_every, "5m", 300),
    (limits.cull_max_age, 0, 0),
    (limits.cull_max_age, "0", 0),
    (limits.cull_max_age, "8h", 8 * 3600),
    (limits.cull_max_age, "2d", 2 * 86400),
])
def test_culling_values(validate, raw, seconds):
    assert validate(raw) == seconds


@pytest.mark.parametrize("validate, raw, message", [
    (limits.cull_timeout, "60", "between 5m and 30d, got 1m"),
    (limits.cull_timeout, "31d", "between 5m and 30d"),
    (limits.cull_timeout, "-600", "cannot be negative"),
    (limits.cull_timeout, "soon", "such as 600 (seconds), 10m"),
    (limits.cull_timeout, True, "not true/false"),
    (limits.cull_every, 5, "between 10s and 1d, got 5s"),
    (limits.cull_every, "2d", "between 10s and 1d"),
    (limits.cull_max_age, "30m", "between 1h and 365d"),
    (limits.cull_max_age, "400d", "between 1h and 365d"),
])
def test_culling_refusals(validate, raw, message):
    with pytest.raises(ValidationError) as caught:
        validate(raw)
    assert message in caught.value.message


def test_culling_cross_checks():
    assert limits.check_culling(600, 60, 0) == []
    warnings = limits.check_culling(600, 3600, 300)
    assert [d.id for d in warnings] == ["limits.cull.every", "limits.cull.max_age"]
    assert all(d.status is Status.WARNING for d in warnings)


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none(), st.booleans()))
def test_culling_validators_raise_only_validation_errors(raw):
    for validate in (limits.cull_timeout, limits.cull_every, limits.cull_max_age, limits.cpu_limit):
        try:
            validate(raw)
        except ValidationError as exc:
            assert exc.message


def test_validators_plug_into_fields():
    memory = Field("memory", "str", "Memory per user", "", limits.memory_limit)
    with pytest.raises(ValidationError) as caught:
        memory.check("2Gi", "limits.memory")
    assert caught.value.key == "limits.memory" and "use '2G'" in caught.value.message


# --------------------------------------------------------------------------------------------------------------
# Sizing calculator


def test_issue_example_100_users_half_active():
    sizing = limits.size_hub(SizingInputs(100, 0.5, GIB, 1, 5 * GIB, headroom=0.3))
    assert sizing.concurrent_users == 50
    assert sizing.ram == 50 * GIB + 128 * MIB
    assert sizing.ram / GIB == 50.125
    assert sizing.cpus == 50.2
    assert sizing.disk == 502 * GIB
    assert limits.format_gb(sizing.ram) == "50.125 GB"
    # 50.125 x 1.3 = 65.16 GB -> 96 GB; 50.2 x 1.3 = 65.26 CPUs -> 96; 502 x 1.3 = 652.6 GB -> 660 GB
    assert (sizing.suggested_ram, sizing.suggested_cpus, sizing.suggested_disk) == (96 * GIB, 96, 660 * GIB)
    assert sizing.suggestion == "96 vCPU, 96 GB RAM, 660 GB disk"


def test_small_class():
    # 30 users, 40% active -> 12 at once; 512M and 0.5 CPU each; 2G disk each; 20% headroom
    sizing = limits.size_hub(SizingInputs(30, 0.4, 512 * MIB, 0.5, 2 * GIB, headroom=0.2))
    assert sizing.concurrent_users == 12
    assert sizing.ram == 12 * 512 * MIB + 128 * MIB  # 6.125 GB
    assert sizing.cpus == 6.2
    assert sizing.disk == 62 * GIB
    # 6.125 x 1.2 = 7.35 GB -> 8 GB; 6.2 x 1.2 = 7.44 -> 8 vCPU; 62 x 1.2 = 74.4 -> 80 GB
    assert sizing.suggestion == "8 vCPU, 8 GB RAM, 80 GB disk"


def test_fractional_concurrency_rounds_up():
    assert limits.concurrent_users(7, 0.5) == 4
    assert limits.concurrent_users(10, 0.3) == 3  # 10 x 0.3 is 3.0000000000000004 in floating point
    assert limits.concurrent_users(1, 0.01) == 1


def _diagnosis(sizing, id_):
    return next(d for d in sizing.diagnoses if d.id == id_)


def test_ram_warning_threshold():
    inputs = SizingInputs(10, 0.5, GIB, 1, GIB)  # 5 concurrent: 5G + 128M
    needed = 5 * GIB + 128 * MIB
    at = limits.size_hub(inputs, HostFacts(ram=needed, cpus=64, disk=100 * GIB))
    assert _diagnosis(at, "limits.ram").status is Status.OK
    over = limits.size_hub(inputs, HostFacts(ram=needed - 1, cpus=64, disk=100 * GIB))
    ram = _diagnosis(over, "limits.ram")
    assert ram.status is Status.WARNING
    assert "5 concurrent users need 5.125 GB RAM" in ram.summary


def test_single_user_over_90_percent_of_ram_is_an_error():
    host_ram = 10 * GIB
    at = limits.size_hub(SizingInputs(1, 1, 9 * GIB, 1, GIB), HostFacts(ram=host_ram, cpus=4, disk=100 * GIB))
    assert _diagnosis(at, "limits.ram").status is Status.OK  # exactly 90%: 9G + 128M fits 10G
    over = limits.size_hub(SizingInputs(1, 1, 9 * GIB + MIB, 1, GIB), HostFacts(ram=host_ram, cpus=4, disk=100 * GIB))
    ram = _diagnosis(over, "limits.ram")
    assert ram.status is Status.ERROR
    assert "exceeds 90%" in ram.summary and "at most 9G" in ram.fix


def test_single_user_error_wins_over_the_concurrency_warning():
    sizing = limits.size_hub(SizingInputs(100, 0.5, 8 * GIB, 1, GIB), HostFacts(ram=8 * GIB, cpus=64, disk=GIB * 999))
    assert _diagnosis(sizing, "limits.ram").status is Status.ERROR


def test_cpu_warning_threshold():
    inputs = SizingInputs(10, 0.5, 256 * MIB, 1, GIB)  # 5 concurrent: 5.2 CPUs
    assert _diagnosis(limits.size_hub(inputs, HostFacts(ram=64 * GIB, cpus=5.2, disk=GIB * 99)),
                      "limits.cpu").status is Status.OK
    over = limits.size_hub(inputs, HostFacts(ram=64 * GIB, cpus=5, disk=GIB * 99))
    cpu = _diagnosis(over, "limits.cpu")
    assert cpu.status is Status.WARNING and "need 5.2 CPUs; the VM has 5" in cpu.summary


def test_disk_warning_threshold():
    inputs = SizingInputs(10, 0.5, 256 * MIB, 1, 5 * GIB)  # 52 GB
    assert _diagnosis(limits.size_hub(inputs, HostFacts(ram=64 * GIB, cpus=64, disk=52 * GIB)),
                      "limits.disk").status is Status.OK
    disk = _diagnosis(limits.size_hub(inputs, HostFacts(ram=64 * GIB, cpus=64, disk=52 * GIB - 1)), "limits.disk")
    assert disk.status is Status.WARNING and "10 users need 52 GB" in disk.summary


def test_unknown_host_facts_are_skipped_not_guessed():
    sizing = limits.size_hub(SizingInputs(10, 0.5, GIB, 1, GIB))
    assert [d.status for d in sizing.diagnoses] == [Status.SKIPPED] * 3


# Typed: a percentage with its sign. An answers file's number: the fraction itself (what the wizard writes).
@pytest.mark.parametrize("raw, value", [("50%", 0.5), (" 40 % ", 0.4), (0.6, 0.6), (1, 1.0), ("100%", 1.0),
                                        ("12.5%", 0.125)])
def test_active_share(raw, value):
    assert limits.active_share(raw) == pytest.approx(value)


@pytest.mark.parametrize("raw", ["0%", "-5%", "101%", "half", None, True, "nan%", 60, 0])
def test_active_share_refusals(raw):
    with pytest.raises(ValidationError):
        limits.active_share(raw)


@pytest.mark.parametrize("raw, value", [("30%", 0.3), ("0%", 0.0), ("200%", 2.0), (0.2, 0.2), (1.5, 1.5), (0, 0.0)])
def test_headroom(raw, value):
    assert limits.headroom(raw) == pytest.approx(value)


@pytest.mark.parametrize("validate, raw", [(limits.headroom, "2"), (limits.headroom, "3"), (limits.headroom, "0.3"),
                                           (limits.active_share, "50"), (limits.active_share, "0.5")])
def test_a_typed_number_without_percent_sign_is_refused_naming_the_form(validate, raw):
    """``2`` as 200% but ``3`` as 3% misled: a typed number without % is refused in one line naming the form."""
    with pytest.raises(ValidationError) as refused:
        validate(raw)
    message = refused.value.message
    assert "as a percentage with %, e.g. " in message and f"(got {raw!r})" in message and "\n" not in message


@pytest.mark.parametrize("value, shown", [(0.3, "30%"), (1.5, "150%"), (0.125, "12.5%"), (0.0, "0%"), (2, "200%")])
def test_a_fraction_is_shown_back_as_the_percentage_typed(value, shown):
    assert limits.percentage_text(value) == shown
    assert limits.headroom(shown) == pytest.approx(value)


@pytest.mark.parametrize("raw", [3, 2.5, -0.1])
def test_an_answers_file_number_out_of_range_names_the_percentage(raw):
    with pytest.raises(ValidationError, match=r"between 0% and 200%, got -?\d+%"):
        limits.headroom(raw)


@given(
    st.integers(min_value=1, max_value=100_000),
    st.floats(min_value=0.01, max_value=1.0),
    st.integers(min_value=limits.MIN_MEMORY, max_value=64 * GIB),
    st.floats(min_value=0.1, max_value=16),
    st.integers(min_value=0, max_value=100 * GIB),
    st.floats(min_value=0, max_value=2),
)
def test_suggested_vm_always_covers_the_estimate(users, share, memory, cpu, disk, room):
    sizing = limits.size_hub(SizingInputs(users, share, memory, cpu, disk, room))
    assert sizing.suggested_ram >= sizing.ram
    assert sizing.suggested_cpus >= sizing.cpus
    assert sizing.suggested_disk >= sizing.disk
    assert 1 <= sizing.concurrent_users <= users


def test_host_facts_from_the_hubs_gathered_facts():
    from wizard.hub.facts import HostFacts as GatheredFacts

    gathered = GatheredFacts(
        os={}, tljh_version="2.0.0", memory={"total": 8 * GIB, "available": 6 * GIB}, cpus=4,
        disks={"root": {"path": "/", "total": 40 * GIB, "free": 30 * GIB},
               "home": {"path": "/home", "total": 200 * GIB, "free": 190 * GIB}, "prefix": None},
        home_mount=None, root_mount=None, home_on_root_device=False, config_text=None, user_environment={},
        cloud=None)
    assert HostFacts.from_hub(gathered) == HostFacts(ram=8 * GIB, cpus=4, disk=200 * GIB)
    assert HostFacts.from_hub(None) == HostFacts()


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.text())))
@settings(max_examples=300)
def test_sizing_validators_raise_only_validation_errors(raw):
    for validate in (limits.active_share, limits.headroom, limits.parse_duration):
        try:
            value = validate(raw)
        except ValidationError as exc:
            assert exc.message
            continue
        if validate is limits.active_share:
            assert 0 < value <= 1
        elif validate is limits.headroom:
            assert 0 <= value <= 2
        else:
            assert isinstance(value, int) and value >= 0


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "s", "m", "h", "d", " min", "hours"]))
def test_durations_parse_to_the_seconds_they_say(number, unit):
    factor = {"": 1, "s": 1, "m": 60, " min": 60, "h": 3600, "hours": 3600, "d": 86400}[unit]
    assert limits.parse_duration(f"{number}{unit}") == number * factor
