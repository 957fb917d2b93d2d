"""Inputs the fuzz targets (tests/support/fuzzing.py) found to escape a parser's contract,
kept as named regression tests once the parser's owner fixed them (issue 9)."""

import datetime
import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import pki, rotation

UTC = datetime.timezone.utc


def _marker(tmp_path, **changes):
    state = rotation.new_state("root", ["prod-eu1", "prod-us1"], datetime.datetime(2026, 11, 25, tzinfo=UTC))
    for key, value in changes.items():
        if value is KeyError:
            del state[key]
        else:
            state[key] = value
    path = tmp_path / "rotation-state.json"
    path.write_text(json.dumps(state))
    return str(path)


@pytest.mark.parametrize("changes", [
    {"clusters": KeyError}, {"completed": KeyError}, {"id": KeyError},
    {"clusters": 0.0}, {"completed": 6.0e16}, {"clusters": ["prod-eu1", None]},
    {"phases": {"0": False, "": []}},
], ids=["no clusters", "no completed", "no id", "clusters a number", "completed a number",
        "a null cluster", "phases a mapping"])
def test_a_rotation_marker_with_a_missing_or_retyped_field_is_a_rotation_error(tmp_path, changes):
    with pytest.raises(rotation.RotationError):
        rotation.load(_marker(tmp_path, **changes))


@pytest.mark.parametrize("value", [int("2" * 400), datetime.timedelta(days=-9734)],
                         ids=["a 400-digit number of seconds", "a negative timedelta"])
def test_a_duration_out_of_range_is_a_value_error_not_an_overflow(value):
    with pytest.raises(ValueError):
        pki.parse_duration(value)
