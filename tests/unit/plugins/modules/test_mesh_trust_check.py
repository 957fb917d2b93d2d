"""The mesh_trust_check module's input handling (the checks themselves: test_mesh_trust.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.modules import mesh_trust_check


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            mesh_trust_check.main()
    return json.loads(capsys.readouterr().out)


def test_roots_that_are_not_pem_are_refused_before_any_cluster_is_read(capsys):
    result = run_module(capsys, clusters=[{"name": "east", "host": "https://127.0.0.1:1", "api_key": "x"}],
                        roots="-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert result["failed"] and result["msg"].startswith("roots: ")


def test_an_unreachable_cluster_is_one_failed_result_naming_it(capsys, tmp_path):
    from tests.support.pki_factory import make_root

    root = tmp_path / "root.pem"
    root.write_text(make_root().pem)
    result = run_module(capsys, clusters=[{"name": "gone", "host": "https://127.0.0.1:9", "api_key": "x",
                                           "validate_certs": False}],
                        roots=str(root), fail=False)
    assert not result["summary"]["ok"]
    assert result["failures"][0].startswith("cluster gone: cannot read cluster gone")


def test_a_missing_kubeconfig_is_named_by_its_path_not_masked(capsys, tmp_path):
    """A kubeconfig path is not a secret: kubernetes.core's no_log on the option masked it as ********."""
    from tests.support.pki_factory import make_root

    root = tmp_path / "root.pem"
    root.write_text(make_root().pem)
    path = str(tmp_path / "no-such-kubeconfig.yaml")
    result = run_module(capsys, clusters=[{"name": "east", "kubeconfig": path, "context": "east"}], roots=str(root),
                        fail=False)
    assert "********" not in json.dumps(result)
    assert "cannot connect with kubeconfig %s, context east" % path in result["failures"][0], result["failures"]


def test_an_inline_kubeconfig_stays_masked(capsys, tmp_path):
    from tests.support.pki_factory import make_root

    root = tmp_path / "root.pem"
    root.write_text(make_root().pem)
    inline = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
              "users": [{"name": "u", "user": {"token": "very-secret-token-value"}}]}
    result = run_module(capsys, clusters=[{"name": "east", "kubeconfig": inline}], roots=str(root), fail=False)
    assert "very-secret-token-value" not in json.dumps(result)


def test_trust_bundle_name_reaches_the_snapshot_and_a_missing_bundle_fails_the_trust_bundle_check(capsys, tmp_path, monkeypatch):
    from ansible_collections.certmesh.istio.plugins.module_utils import kube, mesh_trust
    from tests.support.pki_factory import make_root

    root = tmp_path / "root.pem"
    root.write_text(make_root().pem)
    seen = {}

    def snapshot(client, settings):
        seen.update(settings)
        return {"trust_bundle": None}

    monkeypatch.setattr(kube, "api_client", lambda auth: object())
    monkeypatch.setattr(mesh_trust, "snapshot", snapshot)
    # An api_key of one letter would be masked (no_log) inside every message.
    result = run_module(capsys, clusters=[{"name": "east", "host": "https://127.0.0.1:9", "api_key": "unused-token-0"}],
                        roots=str(root), trust_bundle_name="istio-mesh-roots", checks=["trust_bundle"], fail=False)
    assert seen["trust_bundle_name"] == "istio-mesh-roots" and seen["trust_bundle_key"] == "ca.pem"
    (failure,) = result["failures"]
    assert failure.startswith("cluster east: Bundle istio-mesh-roots does not exist (likely cause: trust-manager is on")
