"""Every field's text form round-trips: what a front-end shows back (``Field.format``) is accepted again as the same
value (``check(format(v)) == v``) — a list answer shown on resume is never refused, a headroom of 150% never
becomes 1.5%. Property-tested over every field of every section with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from wizard.answers import SECTIONS
from wizard.fields import ValidationError

FIELDS = [(f"{section.name}.{spec.name}", spec) for section in SECTIONS.values() for spec in section.fields]

TOKEN = st.text(alphabet="abcxyz0123456789.-_", min_size=1, max_size=10)
RAW = st.one_of(
    st.text(alphabet="abcxyz019.-_:@/ =,<>%GMKT[]", max_size=40),
    st.lists(TOKEN, max_size=4).map(" ".join),
    st.lists(TOKEN, max_size=4).map(", ".join),
    st.lists(TOKEN, max_size=4),
    st.integers(-5, 200000),
    st.floats(0, 300, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["2G", "1.5G", "512M", "0.5", "1", "30%", "150%", "0.3", "hub.example.edu", "203.0.113.10",
                     "2001:db8::10", "numpy scipy=1.13", "pandas>=2,<3", "alice, bob", "org-a team-b",
                     "admin@example.edu", "/opt/tljh", "127.0.0.1:53", "https://auth.example.edu/oauth"]),
)


def roundtrip(key, spec, raw):
    try:
        value = spec.check(raw, key)
    except ValidationError:
        return None
    if value in (None, [], {}):  # an empty answer is shown as an empty field, which means "unanswered"
        assert spec.check(spec.format(value), key) in (None, [], {})
        return None
    shown = spec.format(value)
    assert isinstance(shown, str)
    assert spec.check(shown, key) == value, (key, raw, shown)
    return value


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                   HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), raw=RAW)
@example(field=next(f for f in FIELDS if f[0] == "limits.cpu"), raw=1e-05)
def test_every_field_accepts_its_own_text_form(field, raw):
    key, spec = field
    value = roundtrip(key, spec, raw)
    assume(value is not None)


@pytest.mark.parametrize("key, spec", FIELDS, ids=[key for key, _ in FIELDS])
def test_each_fields_example_and_default_round_trip(key, spec):
    for raw in (spec.example, spec.default):
        if raw not in (None, ""):
            roundtrip(key, spec, raw)


@pytest.mark.parametrize("key, raw, shown", [
    ("environment.conda_packages", "numpy scipy=1.13", "numpy scipy=1.13"),  # not "numpy, scipy=1.13"
    ("environment.pip_packages", "pandas>=2,<3 dask[array]", "pandas>=2,<3 dask[array]"),
    ("authenticator.allowed_users", "alice bob", "alice, bob"),
    ("limits.headroom", "30%", "30%"),
    ("limits.headroom", "150%", "150%"),
    ("limits.active_share", "12.5%", "12.5%"),
    ("limits.cpu", "2", "2"),
    ("limits.memory", "1.50G", "1.5G"),
])
def test_known_shapes(key, raw, shown):
    from wizard.answers import field_for

    spec = field_for(key)
    value = spec.check(raw, key)
    assert spec.format(value) == shown
    assert spec.check(shown, key) == value


def test_a_long_refused_value_is_quoted_at_most_80_characters():
    from wizard.answers import field_for

    with pytest.raises(ValidationError) as refused:
        field_for("domain.name").check("a" * 2000 + ".example.edu", "domain.name")
    assert len(str(refused.value)) < 250 and "2012 characters" in str(refused.value)
