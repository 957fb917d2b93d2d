"""render_drift agrees with manifest_render: nothing to do after the module wrote, a difference
for anything the module would change, and "cannot tell" (never an exception) for the rest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils.render_drift import render_drift
from tests.unit.plugins.modules.test_manifest_render import ISSUER, run_module

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "istio-ca-key-pair", "namespace": "cert-manager"},
          "type": "kubernetes.io/tls", "data": {"tls.key": "c2VjcmV0"}}
RELEASE = {"name": "cert-manager", "namespace": "cert-manager", "chart": "cert-manager", "version": "v1.21.1",
           "repo": "https://charts.jetstack.io", "values": {"crds": {"enabled": True}}}


def _args(tmp_path, **changes):
    args = dict(dest=str(tmp_path / "env" / "east"), component="mesh_ca", objects=[ISSUER], secret_objects=[SECRET],
                helm_releases=[RELEASE], engine="flux", cluster="east", git={"path": "env/east"},
                summary_dir=str(tmp_path / "env"))
    args.update(changes)
    return args


def _drift(args):
    args = dict(args)
    return render_drift(args.pop("dest"), args.pop("component"), **args)


@pytest.mark.parametrize("engine", ["kustomize", "flux", "argocd"])
def test_nothing_to_do_right_after_the_module_wrote(capsys, tmp_path, engine):
    args = _args(tmp_path, engine=engine)
    assert _drift(args)  # a fresh folder: everything would be created
    assert run_module(capsys, **args)["changed"]
    assert _drift(args) == []
    assert run_module(capsys, **args)["changed"] is False


def test_every_change_the_module_would_make_is_seen(capsys, tmp_path):
    args = _args(tmp_path)
    run_module(capsys, **args)
    dest = args["dest"]
    changed_issuer = dict(ISSUER, spec={"ca": {"secretName": "other"}})
    assert [p for p in _drift(dict(args, objects=[changed_issuer])) if p.endswith("clusterissuer.istio-ca.yaml")]
    assert _drift(dict(args, helm_releases=[dict(RELEASE, version="v1.22.0")]))
    assert _drift(dict(args, git={"path": "elsewhere"}))
    assert _drift(dict(args, engine="kustomize"))
    assert _drift(dict(args, objects=[]))  # the Issuer's file would be pruned
    issuer_file = os.path.join(dest, "mesh_ca", "clusterissuer.istio-ca.yaml")
    with open(issuer_file, "a", encoding="utf-8") as handle:
        handle.write("# edited by hand\n")
    assert _drift(args) == [issuer_file]
    run_module(capsys, **args)
    secret_file = [os.path.join(root, name) for root, _d, names in os.walk(os.path.join(dest, "secrets")) for name in names][0]
    os.chmod(secret_file, 0o644)
    assert _drift(args) == [secret_file]
    os.chmod(secret_file, 0o600)
    os.unlink(os.path.join(args["summary_dir"], "INDEX.md"))
    assert _drift(args) == [os.path.join(args["summary_dir"], "INDEX.md")]


@pytest.mark.parametrize("changes", [
    {"component": "../escaped"},
    {"objects": [{"kind": "ClusterIssuer"}]},
    {"helm_releases": [dict(RELEASE, unknown="x")]},
    {"helm_releases": [dict(RELEASE, values="not a mapping")]},
    {"git": {"no_such_option": "x"}},
    {"objects": [object()]},
], ids=["escaping-component", "nameless-object", "unknown-release-key", "values-not-a-mapping", "unknown-git-option",
        "not-json"])
def test_what_the_module_would_refuse_is_a_difference_never_an_exception(tmp_path, changes):
    found = _drift(_args(tmp_path, **changes))
    assert len(found) == 1 and found[0].startswith("cannot tell: ")


def test_a_symlink_on_the_way_is_a_difference_and_nothing_is_written(tmp_path):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "east").symlink_to(tmp_path)
    found = _drift(_args(tmp_path))
    assert len(found) == 1 and found[0].startswith("cannot tell: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env"]
