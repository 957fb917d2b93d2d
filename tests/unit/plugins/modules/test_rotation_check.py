"""The rotation_check module: files in, classified certificates and reports out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.modules import rotation_check
from tests.support.pki_factory import MeshPKI, bundle, days, make_workload_svid, now


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rotation_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


@pytest.fixture
def pki_dir(tmp_path, mesh):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "root-cert.pem").write_text(mesh.root.pem)
    (tmp_path / "pki" / "gateway.pem").write_text(bundle(mesh.gateway, mesh.intermediate))
    expired = make_workload_svid(mesh.intermediate, not_before=now() - days(2), lifetime=days(1))
    (tmp_path / "pki" / "old-svid.pem").write_text(expired.pem)
    return tmp_path / "pki"


def test_files_are_classified_and_nothing_changes(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)])
    assert result["changed"] is False
    assert result["summary"]["counts"]["expired"] == 1 and result["summary"]["total"] == 4
    assert result["certificates"][0]["name"] == "old-svid.pem"


def test_the_default_result_lists_only_what_needs_attention_and_counts_everything(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)])
    assert result["result_detail"] == "attention"
    assert result["summary"]["total"] == 4 and result["summary"]["needs_attention"] == 1
    assert [(e["name"], e["status"]) for e in result["certificates"]] == [("old-svid.pem", "expired")]


def test_result_detail_full_returns_every_certificate(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)], result_detail="full")
    assert result["result_detail"] == "full" and len(result["certificates"]) == 4
    assert sorted(e["status"] for e in result["certificates"]) == ["expired", "ok", "ok", "ok"]


def test_the_report_files_list_every_certificate_whatever_the_result_holds(capsys, pki_dir, tmp_path):
    result = run_module(capsys, paths=[str(pki_dir)], report={"dest": str(tmp_path / "out"), "formats": ["json"]})
    written = json.loads((tmp_path / "out" / "rotation-check.json").read_text())
    assert len(result["certificates"]) == 1 and len(written["certificates"]) == 4


def test_fail_on_returns_the_compact_result_too(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)], fail_on=["expired"])
    assert result["failed"] and [e["status"] for e in result["certificates"]] == ["expired"]


def test_reports_are_written_in_every_format(capsys, pki_dir, tmp_path):
    result = run_module(capsys, paths=[str(pki_dir)], report={"dest": str(tmp_path / "out")})
    assert sorted(result["report_files"]) == ["html", "json", "junit", "markdown", "timeline"]
    assert json.loads((tmp_path / "out" / "rotation-check.json").read_text())["summary"]["total"] == 4


def test_fail_on_fails_naming_the_certificates(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)], fail_on=["expired"])
    assert result["failed"] and "old-svid.pem" in result["msg"] and "[expired]" in result["msg"]


def test_check_mode_gives_the_same_answer(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)], _ansible_check_mode=True)
    assert result["changed"] is False and result["summary"]["total"] == 4


def test_bad_thresholds_fail_before_scanning(capsys, pki_dir):
    result = run_module(capsys, paths=[str(pki_dir)], warn_within="soonish")
    assert result["failed"] and "soonish" in result["msg"]


def test_clusters_are_scanned_through_kube_with_merged_auth(capsys, monkeypatch, mesh):
    seen = []

    def fake_client(auth):
        seen.append(auth)
        return auth["context"]

    def fake_records(cluster, client, namespaces, label_selector):
        from ansible_collections.certmesh.istio.plugins.module_utils import expiry
        return [expiry.record(mesh.root.cert, "configmap", "istio-ca-root-cert", cluster, "default")]

    monkeypatch.setattr(rotation_check.kube, "api_client", fake_client)
    monkeypatch.setattr(rotation_check.kube, "records_for_cluster", fake_records)
    result = run_module(capsys, kubeconfig="/tmp/kc", result_detail="full",
                        clusters=[{"name": "east", "context": "e"}, {"name": "west", "context": "w"}])
    assert seen == [{"kubeconfig": "/tmp/kc", "context": "e"}, {"kubeconfig": "/tmp/kc", "context": "w"}]
    assert sorted(e["cluster"] for e in result["certificates"]) == ["east", "west"]


def test_a_cluster_without_a_usable_config_is_reported_invalid(capsys, monkeypatch, tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("garbage: [")
    result = run_module(capsys, clusters=[{"name": "broken", "kubeconfig": str(config)}])
    assert result["certificates"][0]["status"] == "invalid"
    assert result["certificates"][0]["reason"].startswith("cluster broken:")
