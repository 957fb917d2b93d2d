"""The manifest_render module refuses paths that leave its folder, naming them, and writes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.modules import manifest_render

ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "istio-ca"},
          "spec": {"ca": {"secretName": "istio-ca-key-pair"}}}


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            manifest_render.main()
    return json.loads(capsys.readouterr().out)


def test_a_component_that_climbs_out_of_dest_is_refused_and_nothing_is_written(capsys, tmp_path):
    result = run_module(capsys, dest=str(tmp_path / "render"), component="../escaped", objects=[ISSUER])
    assert result["failed"] and "component '../escaped' is not a plain folder name" in result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_a_symlinked_index_is_refused_before_the_component_is_written(capsys, tmp_path):
    dest = tmp_path / "render"
    dest.mkdir()
    (dest / "INDEX.md").symlink_to(tmp_path / "elsewhere.md")
    result = run_module(capsys, dest=str(dest), component="mesh_ca", objects=[ISSUER])
    assert result["failed"] and "%s is a symlink" % (dest / "INDEX.md") in result["msg"]
    assert "component mesh_ca" in result["msg"]
    assert sorted(p.name for p in dest.iterdir()) == ["INDEX.md"]


def test_an_object_named_with_dot_dot_slashes_is_written_inside_its_component(capsys, tmp_path):
    obj = dict(ISSUER, metadata={"name": "../../../outside"})
    result = run_module(capsys, dest=str(tmp_path / "render"), component="mesh_ca", objects=[obj])
    assert result["changed"]
    assert sorted(p.name for p in (tmp_path / "render" / "mesh_ca").iterdir()) == [
        "clusterissuer.outside.yaml", "kustomization.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render"]
