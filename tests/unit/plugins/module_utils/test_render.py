"""The render sink writes one file per object, keeps Secrets private, and is idempotent."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pathlib
import stat

import pytest
import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import render, render_cluster

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
    changes, diffs = render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [RELEASE], secret_objects=[SECRET])
    assert {os.path.relpath(c["path"], str(tmp_path)) for c in changes} == {
        "secrets/mesh_ca/cert-manager.secret.istio-ca-key-pair.yaml", "mesh_ca/clusterissuer.istio-ca.yaml",
        "mesh_ca/kustomization.yaml", "mesh_ca/helm/kustomization.yaml", "mesh_ca/helm/cert-manager.values.yaml",
    }
    assert render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [RELEASE], secret_objects=[SECRET]) == ([], [])


def test_key_bearing_secrets_go_to_the_not_for_git_part_and_out_of_the_kustomization(tmp_path):
    render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [], secret_objects=[SECRET])
    path = tmp_path / "secrets" / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load((tmp_path / "mesh_ca" / "kustomization.yaml").read_text())["resources"] == ["clusterissuer.istio-ca.yaml"]


def test_a_component_may_not_take_a_folder_render_keeps_for_itself(tmp_path):
    with pytest.raises(render.RenderPathError, match="keeps for itself"):
        render.sync_component(str(tmp_path), "secrets", [ISSUER], [])


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
    render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [], secret_objects=[SECRET])
    render.sync_component(str(tmp_path), "cert_manager", [], [RELEASE])
    assert render_cluster.sync_cluster(str(tmp_path), "kustomize") != []
    index = (tmp_path / "INDEX.md").read_text()
    assert "ClusterIssuer istio-ca" in index and "chart cert-manager v1.21.1 as cert-manager in cert-manager" in index
    assert "1. `namespaces`\n2. `cert_manager`\n3. `mesh_ca`" in index
    assert "`secrets/mesh_ca/cert-manager.secret.istio-ca-key-pair.yaml`: key-bearing Secret" in index
    assert render_cluster.sync_cluster(str(tmp_path), "kustomize") == []


def test_an_object_without_a_name_is_refused_with_the_component_named():
    problem = render.validate_object({"apiVersion": "v1", "kind": "Secret", "metadata": {}}, "mesh_ca")
    assert "mesh_ca" in problem and "metadata.name" in problem


def test_pem_text_is_written_as_a_readable_block():
    text = render.to_yaml({"data": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"})
    assert "data: |" in text


HOSTILE_SCALARS = [
    "value\nextra: injected",
    "line one\nline two\n",
    "  leading and trailing  \n\tindented\n  ",
    "' \"quoted\": \"yes\" '",
    "{{ lookup('env', 'HOME') }} {% raw %}",
    "../../../etc/passwd",
    "Zürich – 東京 ☃ 😀",
    "\x85 next line \u2028 line separator \u2029 paragraph \ufeff bom \r\n crlf",
    "true", "1", "null", "~", "2026-01-01", "- item", "? key", "# comment", "",
]


@pytest.mark.parametrize("value", HOSTILE_SCALARS, ids=repr)
def test_every_string_is_written_as_one_scalar_that_reads_back_equal(value):
    document = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"value": value, "list": [value]}}
    assert yaml.safe_load(render.to_yaml(document)) == document


def test_rendered_files_hold_non_ascii_text_as_utf8_and_read_back_equal(tmp_path):
    obj = dict(ISSUER, metadata={"name": "istio-ca", "annotations": {"note": "Zürich\n東京: x"}})
    render.sync_component(str(tmp_path), "mesh_ca", [obj], [])
    text = (tmp_path / "mesh_ca" / "clusterissuer.istio-ca.yaml").read_bytes().decode("utf-8")
    assert yaml.safe_load(text) == obj
    assert render.sync_component(str(tmp_path), "mesh_ca", [obj], []) == ([], [])


def test_an_object_name_with_dot_dot_slashes_stays_inside_the_component_folder(tmp_path):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "../../../../tmp/evil", "namespace": "/etc"}}
    changes, diffs = render.sync_component(str(tmp_path / "render"), "mesh_ca", [obj], [])
    written = [pathlib.Path(c["path"]) for c in changes]
    assert all(p.resolve().parent == (tmp_path / "render" / "mesh_ca").resolve() for p in written)
    assert sorted(p.name for p in (tmp_path / "render" / "mesh_ca").iterdir()) == [
        "etc.configmap.tmp-evil.yaml", "kustomization.yaml"]


@pytest.mark.parametrize("component", ["../elsewhere", "/tmp/abs", "a/b", "..", ".hidden", ""])
def test_a_component_that_is_not_a_plain_folder_name_is_refused(tmp_path, component):
    with pytest.raises(render.RenderPathError, match="not a plain folder name"):
        render.sync_component(str(tmp_path), component, [ISSUER], [])
    assert list(tmp_path.iterdir()) == []


def test_a_symlinked_component_folder_is_refused_and_nothing_is_written_through_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "render").mkdir()
    (tmp_path / "render" / "mesh_ca").symlink_to(outside)
    with pytest.raises(render.RenderPathError, match="mesh_ca is a symlink"):
        render.sync_component(str(tmp_path / "render"), "mesh_ca", [ISSUER], [])
    assert list(outside.iterdir()) == []


def test_a_symlinked_object_file_is_refused_before_it_is_read_or_replaced(tmp_path):
    secret_elsewhere = tmp_path / "elsewhere.txt"
    secret_elsewhere.write_text("not for diffs")
    folder = tmp_path / "render" / "mesh_ca"
    folder.mkdir(parents=True)
    (folder / "clusterissuer.istio-ca.yaml").symlink_to(secret_elsewhere)
    with pytest.raises(render.RenderPathError, match="clusterissuer.istio-ca.yaml is a symlink"):
        render.sync_component(str(tmp_path / "render"), "mesh_ca", [SECRET, ISSUER], [])
    assert secret_elsewhere.read_text() == "not for diffs"
    assert sorted(p.name for p in folder.iterdir()) == ["clusterissuer.istio-ca.yaml"]


def test_a_stale_symlink_that_would_be_pruned_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "render" / "mesh_ca"
    folder.mkdir(parents=True)
    (folder / "old.yaml").symlink_to(tmp_path / "target.yaml")
    with pytest.raises(render.RenderPathError, match="old.yaml is a symlink"):
        render.sync_component(str(tmp_path / "render"), "mesh_ca", [ISSUER], [])
    assert sorted(p.name for p in folder.iterdir()) == ["old.yaml"]


def test_a_symlinked_render_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "render").symlink_to(real)
    with pytest.raises(render.RenderPathError, match="render is a symlink"):
        render.sync_component(str(tmp_path / "render"), "mesh_ca", [ISSUER], [])
    assert list(real.iterdir()) == []


def test_a_temporary_file_left_as_a_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_text("untouched")
    folder = tmp_path / "render" / "mesh_ca"
    folder.mkdir(parents=True)
    (folder / ".clusterissuer.istio-ca.yaml.tmp").symlink_to(target)
    render.sync_component(str(tmp_path / "render"), "mesh_ca", [ISSUER], [])
    assert target.read_text() == "untouched"
    assert yaml.safe_load((folder / "clusterissuer.istio-ca.yaml").read_text()) == ISSUER


def test_a_path_outside_the_render_folder_is_refused(tmp_path):
    with pytest.raises(render.RenderPathError, match="outside the render folder"):
        render.check_path(str(tmp_path / "render"), str(tmp_path / "render" / ".." / "elsewhere.yaml"))


def test_two_objects_that_would_share_a_file_are_refused_naming_both(tmp_path):
    first = dict(ISSUER, metadata={"name": "istio_ca"})
    second = dict(ISSUER, metadata={"name": "istio/ca"})
    with pytest.raises(render.RenderPathError, match="ClusterIssuer istio_ca and ClusterIssuer istio/ca would both"):
        render.sync_component(str(tmp_path), "mesh_ca", [first, second], [])
    assert list(tmp_path.iterdir()) == []


def test_the_index_keeps_a_name_with_a_newline_on_one_line(tmp_path):
    obj = dict(ISSUER, metadata={"name": "istio-ca\n## injected heading"})
    render.sync_component(str(tmp_path), "mesh_ca", [obj], [])
    render_cluster.sync_cluster(str(tmp_path), "kustomize")
    index = (tmp_path / "INDEX.md").read_text()
    assert "\n## injected heading" not in index
    assert "istio-ca\\n## injected heading" in index
