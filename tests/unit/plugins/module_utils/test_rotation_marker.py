"""The rotation state marker loader never raises anything but RotationError naming the file
(issue 9: a marker with missing fields raised KeyError), and the abort of a rotation."""

import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import rotation

CLUSTERS = ["east", "west"]


def _good():
    return rotation.new_state("root", CLUSTERS)


def _load(tmp_path, content):
    path = tmp_path / "rotation-state.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.mark.parametrize("field", ["kind", "id", "clusters", "phases", "completed", "current", "started_at",
                                   "finished_at", "facts", "history"])
def test_a_marker_missing_a_field_names_the_file_and_the_field(tmp_path, field):
    state = _good()
    del state[field]
    path = _load(tmp_path, state)
    with pytest.raises(rotation.RotationError) as caught:
        rotation.load(path)
    assert path in str(caught.value) and "field %r is missing" % field in str(caught.value)


@pytest.mark.parametrize("field, value", [
    ("kind", 7), ("id", None), ("clusters", "east"), ("clusters", [1, 2]), ("phases", {}),
    ("phases", ["prepare"]), ("completed", "prepare"), ("completed", ["publish"]), ("completed", ["nope"]),
    ("current", 3), ("current", "later"), ("started_at", "yesterday"), ("finished_at", 12), ("facts", []),
    ("facts", {"switch_completed_at": "soon"}), ("history", {}), ("history", ["started"]), ("kind", "leaf"),
    ("aborted_at", "not a time"), ("version", True),
])
def test_a_marker_field_of_the_wrong_type_names_the_file_and_the_field(tmp_path, field, value):
    state = _good()
    state[field] = value
    path = _load(tmp_path, state)
    with pytest.raises(rotation.RotationError, match="not a valid certmesh rotation state marker") as caught:
        rotation.load(path)
    assert path in str(caught.value)


@pytest.mark.parametrize("content", ["", "[]", "null", "\"text\"", "{\"version\": 1}", "[" * 100000,
                                     "{\"version\": 1, \"kind\": \"root\"", "\xff\xfe"])
def test_a_marker_that_is_no_marker_names_the_file(tmp_path, content):
    path = _load(tmp_path, content)
    with pytest.raises(rotation.RotationError) as caught:
        rotation.load(path)
    assert path in str(caught.value)


def test_undecodable_bytes_in_the_marker_name_the_file(tmp_path):
    path = tmp_path / "rotation-state.json"
    path.write_bytes(b"{\"version\": 1, \"id\": \"\xff\"}")
    with pytest.raises(rotation.RotationError, match="cannot read the rotation state marker"):
        rotation.load(str(path))


def test_a_marker_from_before_aborts_existed_loads(tmp_path):
    state = _good()
    del state["aborted_at"]
    loaded = rotation.load(_load(tmp_path, state))
    assert loaded["aborted_at"] is None and not rotation.aborted(loaded)


def _through(phases):
    state = _good()
    for phase in phases:
        rotation.begin(state, phase)
        rotation.complete(state, phase)
    return state


@pytest.mark.parametrize("done", [[], ["prepare"], ["prepare", "publish"]])
def test_a_rotation_before_its_switch_can_be_aborted_to_the_old_root_alone(done):
    state = _through(done)
    summary = rotation.plan(state, "root", CLUSTERS, abort=True)[1]
    assert summary["run"] == ["abort"] and summary["resume_at"] == "abort"
    settings = rotation.phase_settings("root", "abort")
    assert (settings["signing_root"], settings["extra_trusted_roots"], settings["expected_roots"]) == (
        "current", [], ["current"])


def test_an_abort_is_recorded_and_closes_the_rotation():
    state = _through(["prepare", "publish"])
    rotation.begin(state, "abort")
    assert state["current"] == "abort" and rotation.trust_now(state)["phase"] == "publish"
    rotation.complete(state, "abort")
    assert rotation.aborted(state) and rotation.closed(state) and not rotation.finished(state)
    assert state["completed"] == ["prepare", "publish"] and rotation.trust_now(state) is None
    assert [e["event"] for e in state["history"][-2:]] == ["started", "completed"]
    assert rotation.plan(state, "root", CLUSTERS)[1]["run"] == []
    with pytest.raises(rotation.RotationError, match="was aborted"):
        rotation.begin(state, "switch")
    assert rotation.plan(state, "intermediate", ["west"], start_new=True)[1]["new"]


def test_an_abort_that_failed_half_way_runs_again():
    state = _through(["prepare", "publish"])
    rotation.begin(state, "abort")
    rotation.record_failure(state, "abort", "a cluster lagged")
    assert rotation.plan(state, "root", CLUSTERS, abort=True)[1]["run"] == ["abort"]


@pytest.mark.parametrize("done, current, word", [
    (["prepare", "publish"], "switch", "begun"), (["prepare", "publish", "switch"], None, "completed"),
    (["prepare", "publish", "switch", "drain"], None, "completed")])
def test_an_abort_once_the_switch_has_begun_is_refused_saying_to_roll_forward(done, current, word):
    state = _through(done)
    if current:
        rotation.begin(state, current)
    with pytest.raises(rotation.RotationError) as caught:
        rotation.plan(state, "root", CLUSTERS, abort=True)
    message = str(caught.value)
    assert "switch phase has %s" % word in message and "Roll forward" in message
    assert "resumes at phase %s" % rotation.pending(state)[0] in message
    with pytest.raises(rotation.RotationError):
        rotation.begin(state, "abort")


def test_there_is_nothing_to_abort_without_a_rotation_or_after_it_finished():
    with pytest.raises(rotation.RotationError, match="no rotation to abort"):
        rotation.plan(None, "root", CLUSTERS, abort=True)
    with pytest.raises(rotation.RotationError, match="nothing to abort"):
        rotation.plan(_through(rotation.PHASES["root"]), "root", CLUSTERS, abort=True)


def test_an_abort_keeps_the_rotations_clusters_and_kind():
    state = _through(["prepare"])
    with pytest.raises(rotation.RotationError, match="missing: west"):
        rotation.plan(state, "root", ["east"], abort=True)
    with pytest.raises(rotation.RotationError, match="rotation_kind=root"):
        rotation.plan(state, "intermediate", CLUSTERS, abort=True)


def test_set_aside_skips_what_is_not_there_and_refuses_to_overwrite(tmp_path):
    (tmp_path / "next").mkdir()
    (tmp_path / "taken").mkdir()
    assert rotation.set_aside([{"path": str(tmp_path / "gone"), "dest": str(tmp_path / "x")}]) == []
    with pytest.raises(rotation.RotationError, match="exists already"):
        rotation.set_aside([{"path": str(tmp_path / "next"), "dest": str(tmp_path / "taken")}])
