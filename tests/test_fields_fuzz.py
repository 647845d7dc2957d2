"""Property tests: every field validator answers any input with a value or a ValidationError — never a traceback."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.answers import SECTIONS, Answers
from wizard.fields import ValidationError

ALL_FIELDS = [(section, item) for section, spec in SECTIONS.items() for item in spec.fields]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True),
    st.text(max_size=80), st.text(alphabet="0123456789.:-_ GgMmKkTtiB%$`'\";\\\n", max_size=20),
    st.sampled_from(["$(touch /tmp/canary)", "`id`", "'; rm -rf ~; '", "a\nb: c", "ünïcødé", "0", "-1", "1e309",
                     "2Gi", "1.5G", "hub.example.edu", "::1", "[::1]:53", "300.1.1.1"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=5), st.dictionaries(st.text(max_size=5), scalars, max_size=3))


@pytest.mark.parametrize("section,item", ALL_FIELDS, ids=[f"{s}.{f.name}" for s, f in ALL_FIELDS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=values)
def test_every_validator_returns_a_value_or_a_validation_error(section, item, raw):
    key = f"{section}.{item.name}"
    try:
        value = item.check(raw, key)
    except ValidationError as exc:
        assert exc.key == key
        assert exc.message and "Traceback" not in exc.message
        return
    if value is None:
        return
    # An accepted value is stable: validating it again gives the same value.
    assert item.check(value, key) == value
    # and it can be stored in answers and never carries a line break into YAML keys.
    answers = Answers()
    answers.set(key, value)
    if isinstance(value, str) and not item.secret:
        assert "\n" not in value
