"""The rotation phase plan and state marker (plugins/module_utils/rotation.py)."""

import datetime
import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import rotation

CLUSTERS = ["east", "west", "north"]
T0 = datetime.datetime(2026, 11, 25, 6, 0, tzinfo=datetime.timezone.utc)


def _run(state, phases, at=T0):
    for phase in phases:
        rotation.begin(state, phase, at)
        rotation.complete(state, phase, at)
    return state


def test_a_new_root_rotation_plans_every_phase_in_order():
    state, summary = rotation.plan(None, "root", CLUSTERS, at=T0)
    assert summary["new"] and summary["run"] == ["prepare", "publish", "switch", "drain", "retire", "promote"]
    assert summary["resume_at"] == "prepare" and state["id"] == "20261125T060000Z"


def test_an_intermediate_rotation_has_no_publish_or_retire_phase():
    summary = rotation.plan(None, "intermediate", ["west"])[1]
    assert summary["run"] == ["prepare", "switch", "drain", "promote"]


def test_stop_after_limits_the_run_to_the_phases_up_to_it():
    summary = rotation.plan(None, "root", CLUSTERS, stop_after="publish")[1]
    assert summary["run"] == ["prepare", "publish"]


def test_stop_after_an_unknown_phase_is_refused():
    with pytest.raises(rotation.RotationError, match="not a phase of a root rotation"):
        rotation.plan(None, "root", CLUSTERS, stop_after="retire-everything")


def test_a_rotation_resumes_at_the_phase_that_failed():
    state = rotation.plan(None, "root", CLUSTERS, at=T0)[0]
    _run(state, ["prepare", "publish"])
    rotation.begin(state, "switch", T0)
    rotation.record_failure(state, "switch", "injected")
    state, summary = rotation.plan(state, "root", CLUSTERS)
    assert not summary["new"] and summary["resume_at"] == "switch" and summary["in_progress"] == "switch"
    assert summary["run"] == ["switch", "drain", "retire", "promote"]
    assert [e["event"] for e in state["history"] if e.get("phase") == "switch"] == ["started", "failed"]


def test_a_phase_cannot_start_before_the_previous_one_is_complete():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    with pytest.raises(rotation.RotationError, match="cannot start before phase prepare"):
        rotation.begin(state, "publish")


def test_completing_a_phase_that_was_not_started_is_refused():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    with pytest.raises(rotation.RotationError, match="was not started"):
        rotation.complete(state, "prepare")


def test_begin_and_complete_are_idempotent_for_a_completed_phase():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    _run(state, ["prepare"])
    before = json.dumps(state, sort_keys=True)
    rotation.begin(state, "prepare")
    rotation.complete(state, "prepare")
    assert json.dumps(state, sort_keys=True) == before


def test_a_finished_rotation_has_nothing_left_until_a_new_one_is_asked_for():
    state = rotation.plan(None, "root", CLUSTERS, at=T0)[0]
    _run(state, rotation.PHASES["root"])
    assert state["finished_at"] == "2026-11-25T06:00:00Z"
    state, summary = rotation.plan(state, "root", CLUSTERS)
    assert summary["run"] == [] and summary["finished"] and summary["resume_at"] is None
    later = T0 + datetime.timedelta(days=1)
    fresh, summary = rotation.plan(state, "root", CLUSTERS, start_new=True, at=later)
    assert summary["new"] and fresh["id"] == "20261126T060000Z" and fresh["completed"] == []
    assert fresh["history"][-1] == {"event": "previous rotation", "id": "20261125T060000Z"}


def test_another_kind_is_refused_while_a_rotation_is_in_progress():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    _run(state, ["prepare"])
    with pytest.raises(rotation.RotationError, match="root rotation .* is in progress, at phase publish"):
        rotation.plan(state, "intermediate", CLUSTERS)


def test_a_rotation_keeps_its_clusters_until_it_is_finished():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    with pytest.raises(rotation.RotationError, match="missing: north; new: none"):
        rotation.plan(state, "root", ["east", "west"])


def test_the_bundle_carries_both_roots_from_publish_until_retire():
    settings = dict((p, rotation.phase_settings("root", p)) for p in rotation.PHASES["root"])
    assert settings["publish"]["expected_roots"] == ["current", "next"]
    assert settings["publish"]["signing_root"] == "current" and settings["publish"]["extra_trusted_roots"] == ["next"]
    assert settings["switch"]["signing_root"] == "next" and settings["switch"]["extra_trusted_roots"] == ["current"]
    assert settings["drain"]["chain_roots"] == ["next"] and settings["drain"]["expected_roots"] == ["current", "next"]
    assert settings["retire"]["expected_roots"] == ["next"] and settings["retire"]["extra_trusted_roots"] == []


def test_an_intermediate_rotation_never_trusts_another_root():
    for phase in rotation.PHASES["intermediate"]:
        settings = rotation.phase_settings("intermediate", phase)
        assert settings["signing_root"] == "current" and settings["expected_roots"] == ["current"]


def test_phase_settings_of_a_phase_the_kind_does_not_have_is_refused():
    with pytest.raises(rotation.RotationError, match="not a phase of a intermediate rotation"):
        rotation.phase_settings("intermediate", "publish")


def test_an_unknown_kind_is_refused():
    with pytest.raises(rotation.RotationError, match="root, intermediate"):
        rotation.plan(None, "leaf", CLUSTERS)


def test_the_marker_round_trips_and_is_written_atomically(tmp_path):
    path = tmp_path / "env" / "rotation-state.json"
    state = rotation.plan(None, "root", CLUSTERS)[0]
    rotation.save(str(path), state)
    assert rotation.load(str(path)) == state
    assert [p.name for p in path.parent.iterdir()] == ["rotation-state.json"]


def test_a_missing_marker_means_no_rotation(tmp_path):
    assert rotation.load(str(tmp_path / "none.json")) is None


def test_an_unreadable_marker_is_named(tmp_path):
    path = tmp_path / "rotation-state.json"
    path.write_text("{not json")
    with pytest.raises(rotation.RotationError, match="cannot read the rotation state marker"):
        rotation.load(str(path))
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(rotation.RotationError, match="is not a valid certmesh rotation state marker .*version is 99"):
        rotation.load(str(path))


def test_the_drain_counts_from_the_switch():
    state = rotation.plan(None, "root", CLUSTERS, at=T0)[0]
    _run(state, ["prepare", "publish", "switch"], at=T0)
    assert rotation.drain_remaining(state, 3600, T0 + datetime.timedelta(minutes=20)) == 2400
    assert rotation.drain_remaining(state, 3600, T0 + datetime.timedelta(hours=2)) == 0


def test_the_drain_needs_a_completed_switch():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    with pytest.raises(rotation.RotationError, match="switch phase to be complete"):
        rotation.drain_remaining(state, 60)


def _folders(tmp_path):
    current, following = tmp_path / "mesh-root", tmp_path / "mesh-root-next"
    current.mkdir()
    following.mkdir()
    (current / "root-ca.crt").write_text("old")
    (following / "root-ca.crt").write_text("new")
    return {"current": str(current), "next": str(following), "retired": str(tmp_path / "mesh-root-retired-1")}


def test_promote_moves_next_into_place_and_keeps_the_old_folder(tmp_path):
    move = _folders(tmp_path)
    actions = rotation.promote([move])
    assert len(actions) == 2
    assert (tmp_path / "mesh-root" / "root-ca.crt").read_text() == "new"
    assert (tmp_path / "mesh-root-retired-1" / "root-ca.crt").read_text() == "old"
    assert rotation.promote([move]) == []


def test_promote_resumes_after_the_old_folder_was_moved(tmp_path):
    move = _folders(tmp_path)
    (tmp_path / "mesh-root").rename(tmp_path / "mesh-root-retired-1")
    assert rotation.promote([move]) == ["move %s to %s" % (move["next"], move["current"])]
    assert (tmp_path / "mesh-root" / "root-ca.crt").read_text() == "new"


def test_promote_in_dry_run_changes_nothing(tmp_path):
    move = _folders(tmp_path)
    assert len(rotation.promote([move], dry_run=True)) == 2
    assert (tmp_path / "mesh-root" / "root-ca.crt").read_text() == "old"


def test_promote_refuses_to_overwrite_a_retired_folder(tmp_path):
    move = _folders(tmp_path)
    (tmp_path / "mesh-root-retired-1").mkdir()
    with pytest.raises(rotation.RotationError, match="move it away"):
        rotation.promote([move])


def test_promote_with_no_folder_at_all_says_the_files_are_lost(tmp_path):
    with pytest.raises(rotation.RotationError, match="lost"):
        rotation.promote([{"current": str(tmp_path / "a"), "next": str(tmp_path / "b"), "retired": str(tmp_path / "c")}])


def test_what_the_clusters_trust_follows_the_last_completed_phase():
    state = rotation.plan(None, "root", CLUSTERS)[0]
    assert rotation.trust_now(state) is None
    _run(state, ["prepare", "publish"])
    trust = rotation.trust_now(state)
    assert trust["phase"] == "publish" and trust["expected_roots"] == ["current", "next"]
    _run(state, ["switch", "drain", "retire", "promote"])
    assert rotation.trust_now(state) is None
