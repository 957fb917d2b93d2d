"""The rotation_state module: the state marker of rotate.yml, phase by phase."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.modules import rotation_state

CLUSTERS = ["east", "west", "north"]


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rotation_state.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def marker(tmp_path):
    return str(tmp_path / "test" / "rotation-state.json")


def test_the_first_plan_writes_the_marker_and_runs_every_phase(capsys, marker):
    result = run_module(capsys, path=marker, clusters=CLUSTERS)
    assert result["changed"] and result["plan"]["run"][0] == "prepare" and len(result["plan"]["run"]) == 6
    assert result["plan"]["settings"]["publish"]["expected_roots"] == ["current", "next"]
    assert json.load(open(marker))["clusters"] == CLUSTERS
    again = run_module(capsys, path=marker, clusters=CLUSTERS)
    assert not again["changed"] and again["plan"]["id"] == result["plan"]["id"]


def test_check_mode_shows_the_plan_writes_nothing_and_reports_no_change(capsys, marker):
    result = run_module(capsys, path=marker, clusters=CLUSTERS, _ansible_check_mode=True)
    assert not result["changed"] and result["plan"]["descriptions"][0]["runs_now"]
    with pytest.raises(FileNotFoundError):
        open(marker)


def test_phases_are_recorded_and_a_failure_resumes_at_its_phase(capsys, marker):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    for phase in ("prepare", "publish"):
        assert run_module(capsys, path=marker, action="begin", phase=phase)["changed"]
        assert run_module(capsys, path=marker, action="complete", phase=phase)["changed"]
    run_module(capsys, path=marker, action="begin", phase="switch")
    failed = run_module(capsys, path=marker, action="fail", phase="switch", reason="injected")
    assert failed["state"]["history"][-1]["message"] == "injected"
    plan = run_module(capsys, path=marker, clusters=CLUSTERS)["plan"]
    assert plan["resume_at"] == "switch" and plan["completed"] == ["prepare", "publish"]
    assert not run_module(capsys, path=marker, action="complete", phase="publish")["changed"]


def test_a_phase_out_of_order_fails_with_the_reason(capsys, marker):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    result = run_module(capsys, path=marker, action="begin", phase="switch")
    assert result["failed"] and "before phase prepare" in result["msg"]


def test_recording_without_a_plan_says_so(capsys, marker):
    result = run_module(capsys, path=marker, action="begin", phase="prepare")
    assert result["failed"] and "run the plan first" in result["msg"]


def test_drain_reports_the_seconds_left(capsys, marker):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    for phase in ("prepare", "publish", "switch"):
        run_module(capsys, path=marker, action="begin", phase=phase)
        run_module(capsys, path=marker, action="complete", phase=phase)
    assert 3590 <= run_module(capsys, path=marker, action="drain", drain_period="1h")["remaining_seconds"] <= 3600
    assert run_module(capsys, path=marker, action="drain", drain_period="0s")["remaining_seconds"] == 0
    assert "drain_period" in run_module(capsys, path=marker, action="drain", drain_period="soon")["msg"]


def test_promote_moves_the_folders_once(capsys, marker, tmp_path):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    (tmp_path / "root").mkdir()
    (tmp_path / "root-next").mkdir()
    moves = [{"current": str(tmp_path / "root"), "next": str(tmp_path / "root-next"), "retired": str(tmp_path / "root-old")}]
    assert run_module(capsys, path=marker, action="promote", moves=moves)["changed"]
    assert (tmp_path / "root-old").is_dir() and not (tmp_path / "root-next").exists()
    assert not run_module(capsys, path=marker, action="promote", moves=moves)["changed"]


def test_a_rotation_with_other_clusters_is_refused(capsys, marker):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    result = run_module(capsys, path=marker, clusters=["east"])
    assert result["failed"] and "missing: north, west" in result["msg"]


def test_status_reads_what_the_clusters_trust_without_writing(capsys, marker):
    assert run_module(capsys, path=marker, action="status")["trust"] is None
    run_module(capsys, path=marker, clusters=CLUSTERS)
    for phase in ("prepare", "publish"):
        run_module(capsys, path=marker, action="begin", phase=phase)
        run_module(capsys, path=marker, action="complete", phase=phase)
    result = run_module(capsys, path=marker, action="status")
    assert not result["changed"] and result["trust"]["expected_roots"] == ["current", "next"]


def _through(capsys, marker, phases):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    for phase in phases:
        run_module(capsys, path=marker, action="begin", phase=phase)
        run_module(capsys, path=marker, action="complete", phase=phase)


def test_an_abort_after_publish_is_planned_recorded_and_then_nothing_is_left(capsys, marker):
    _through(capsys, marker, ["prepare", "publish"])
    plan = run_module(capsys, path=marker, clusters=CLUSTERS, abort=True)["plan"]
    assert plan["run"] == ["abort"] and plan["settings"]["abort"]["expected_roots"] == ["current"]
    assert plan["descriptions"][-1] == dict(phase="abort", description=plan["descriptions"][-1]["description"],
                                            done=False, runs_now=True)
    assert run_module(capsys, path=marker, action="begin", phase="abort")["changed"]
    done = run_module(capsys, path=marker, action="complete", phase="abort")
    assert done["changed"] and done["state"]["aborted_at"] and done["state"]["facts"]["aborted_after"] == "publish"
    assert run_module(capsys, path=marker, action="status")["trust"] is None
    again = run_module(capsys, path=marker, clusters=CLUSTERS, abort=True)
    assert not again["changed"] and again["plan"]["run"] == [] and again["plan"]["aborted"]
    assert run_module(capsys, path=marker, clusters=CLUSTERS)["plan"]["run"] == []
    fresh = run_module(capsys, path=marker, clusters=CLUSTERS, new=True)["plan"]
    assert fresh["new"] and fresh["run"][0] == "prepare" and not fresh["aborted"]


def test_an_abort_after_the_switch_is_refused_saying_to_roll_forward(capsys, marker):
    _through(capsys, marker, ["prepare", "publish", "switch"])
    result = run_module(capsys, path=marker, clusters=CLUSTERS, abort=True)
    assert result["failed"] and "cannot be aborted" in result["msg"] and "Roll forward" in result["msg"]
    assert "resumes at phase drain" in result["msg"]


def test_set_aside_moves_the_new_folders_once(capsys, marker, tmp_path):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    (tmp_path / "root-next").mkdir()
    folders = [{"path": str(tmp_path / "root-next"), "dest": str(tmp_path / "root-next-aborted")}]
    assert run_module(capsys, path=marker, action="set_aside", folders=folders, _ansible_check_mode=True)["changed"]
    assert (tmp_path / "root-next").is_dir()
    assert run_module(capsys, path=marker, action="set_aside", folders=folders)["changed"]
    assert (tmp_path / "root-next-aborted").is_dir() and not (tmp_path / "root-next").exists()
    assert not run_module(capsys, path=marker, action="set_aside", folders=folders)["changed"]


def test_a_marker_missing_a_field_fails_naming_the_file_and_the_field(capsys, marker):
    run_module(capsys, path=marker, clusters=CLUSTERS)
    with open(marker) as stream:
        state = json.load(stream)
    del state["completed"]
    with open(marker, "w") as stream:
        json.dump(state, stream)
    result = run_module(capsys, path=marker, action="begin", phase="prepare")
    assert result["failed"] and marker in result["msg"] and "'completed' is missing" in result["msg"]
