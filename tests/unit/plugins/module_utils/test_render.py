"""The render sink writes one file per object, keeps Secrets private, and is idempotent."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import render

ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "istio-ca"}, "spec": {"ca": {"secretName": "k"}}}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "istio-ca-key-pair", "namespace": "cert-manager"},
    "type": "kubernetes.io/tls",
    "data": {"tls.key": "c2VjcmV0LWtleS1tYXRlcmlhbA=="},
}
RELEASE = {
    "name": "cert-manager", "namespace": "cert-manager", "chart": "cert-manager", "version": "v1.21.1",
    "repo": "https://charts.jetstack.io", "values": {"crds": {"enabled": True}},
}


def test_objects_are_named_by_namespace_kind_and_name():
    assert render.object_filename(SECRET) == "cert-manager.secret.istio-ca-key-pair.yaml"
    assert render.object_filename(ISSUER) == "clusterissuer.istio-ca.yaml"


def test_first_sync_creates_files_and_second_changes_nothing(tmp_path):
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [SECRET, ISSUER], [RELEASE])
    assert {os.path.basename(c["path"]) for c in changes} == {
        "cert-manager.secret.istio-ca-key-pair.yaml", "clusterissuer.istio-ca.yaml", "kustomization.yaml",
        "helm-cert-manager.release.yaml", "helm-cert-manager.values.yaml",
    }
    assert render.sync_component(str(tmp_path), "mesh_ca", [SECRET, ISSUER], [RELEASE]) == ([], [])


def test_secret_files_are_0600_and_their_data_never_appears_in_diffs(tmp_path):
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [SECRET], [])
    path = tmp_path / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "c2VjcmV0" not in repr(diffs)
    changed = dict(SECRET, data={"tls.key": "b3RoZXI="})
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [changed], [])
    assert diffs and "b3RoZXI=" not in repr(diffs) and "c2VjcmV0" not in repr(diffs)


def test_a_file_with_loose_permissions_is_tightened(tmp_path):
    render.sync_component(str(tmp_path), "mesh_ca", [SECRET], [])
    path = tmp_path / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml"
    os.chmod(path, 0o644)
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [SECRET], [])
    assert [c["action"] for c in changes] == ["mode"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_check_mode_reports_but_writes_nothing(tmp_path):
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [], check_mode=True)
    assert changes and diffs
    assert not (tmp_path / "mesh_ca").exists()


def test_objects_no_longer_desired_are_pruned(tmp_path):
    render.sync_component(str(tmp_path), "mesh_ca", [SECRET, ISSUER], [])
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [])
    assert {"path": str(tmp_path / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml"), "action": "removed"} in changes
    assert not (tmp_path / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml").exists()


def test_kustomization_lists_the_component_objects(tmp_path):
    render.sync_component(str(tmp_path), "mesh_ca", [SECRET, ISSUER], [RELEASE])
    kustomization = yaml.safe_load((tmp_path / "mesh_ca" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["cert-manager.secret.istio-ca-key-pair.yaml", "clusterissuer.istio-ca.yaml"]


def test_index_describes_every_component_and_is_stable(tmp_path):
    render.sync_component(str(tmp_path), "mesh_ca", [SECRET, ISSUER], [])
    render.sync_component(str(tmp_path), "cert_manager", [], [RELEASE])
    assert render.sync_index(str(tmp_path)) is not None
    index = (tmp_path / "INDEX.md").read_text()
    assert "ClusterIssuer istio-ca" in index and "Helm release cert-manager (chart cert-manager v1.21.1)" in index
    assert render.sync_index(str(tmp_path)) is None


def test_an_object_without_a_name_is_refused_with_the_component_named():
    problem = render.validate_object({"apiVersion": "v1", "kind": "Secret", "metadata": {}}, "mesh_ca")
    assert "mesh_ca" in problem and "metadata.name" in problem


def test_pem_text_is_written_as_a_readable_block():
    text = render.to_yaml({"data": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"})
    assert "data: |" in text
