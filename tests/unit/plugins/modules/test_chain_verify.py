"""The chain_verify module: arguments in, exit_json/fail_json out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.modules import chain_verify
from tests.support.pki_factory import MeshPKI, bundle, days, make_workload_svid, now


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            chain_verify.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def test_a_valid_chain_exits_unchanged_with_its_summary(capsys, mesh):
    result = run_module(capsys, chain=bundle(mesh.workload, mesh.intermediate), roots=mesh.root.pem,
                        trust_domain="cluster.local")
    assert result["valid"] is True and result["changed"] is False and result["problems"] == []
    assert result["chain"][0]["spiffe_id"] == "spiffe://cluster.local/ns/shop/sa/frontend"
    assert len(result["results"]) == 1


def test_files_and_lists_of_files_are_accepted(capsys, mesh, tmp_path):
    leaf = mesh.workload.write(tmp_path / "leaf.pem")
    inter = mesh.intermediate.write(tmp_path / "inter.pem")
    root = mesh.root.write(tmp_path / "root.pem")
    assert run_module(capsys, chain=[str(leaf), str(inter)], roots=str(root))["valid"]


def test_an_invalid_chain_fails_listing_every_problem(capsys, mesh):
    leaf = make_workload_svid(mesh.intermediate, not_before=now() - days(3), lifetime=days(1),
                              uris=["spiffe://other/ns/a/sa/b"])
    result = run_module(capsys, chain=bundle(leaf, mesh.intermediate), roots=mesh.root.pem,
                        trust_domain="cluster.local")
    assert result["failed"] is True and result["valid"] is False
    assert "[expired]" in result["msg"] and "[trust_domain_mismatch]" in result["msg"]
    assert "2 problem(s)" in result["msg"]


def test_fail_on_invalid_false_returns_the_problems_without_failing(capsys, mesh):
    result = run_module(capsys, chain="garbage", roots=mesh.root.pem, fail_on_invalid=False)
    assert "failed" not in result and result["valid"] is False
    assert [p["code"] for p in result["problems"]] == ["malformed"]
    assert result["problems"][0]["input"] == "chain"


def test_malformed_roots_are_reported_as_malformed(capsys, mesh):
    result = run_module(capsys, chain=mesh.workload.pem, roots="nope", fail_on_invalid=False)
    assert result["problems"][0]["code"] == "malformed" and result["problems"][0]["message"].startswith("roots")


def test_several_chains_are_verified_in_one_task_with_their_own_purpose(capsys, mesh):
    result = run_module(capsys, roots=mesh.root.pem, fail_on_invalid=False, chains=[
        {"name": "svid", "chain": bundle(mesh.workload, mesh.intermediate)},
        {"name": "gateway", "chain": bundle(mesh.gateway, mesh.intermediate), "purpose": "gateway",
         "dns_names": ["other.example.com"]},
        {"name": "issuer", "chain": mesh.intermediate.pem, "purpose": "ca"},
    ])
    assert [r["valid"] for r in result["results"]] == [True, False, True]
    assert [(p["input"], p["code"]) for p in result["problems"]] == [("gateway", "dns_name_mismatch")]


def test_min_remaining_and_at_are_parsed(capsys, mesh):
    result = run_module(capsys, chain=bundle(mesh.gateway, mesh.intermediate), roots=mesh.root.pem,
                        purpose="gateway", min_remaining="2160h", fail_on_invalid=False)
    assert [p["code"] for p in result["problems"]] == ["expires_soon"]
    later = (now() + days(200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_module(capsys, chain=bundle(mesh.gateway, mesh.intermediate), roots=mesh.root.pem,
                        purpose="gateway", at=later, fail_on_invalid=False)
    assert [p["code"] for p in result["problems"]] == ["expired"]


def test_a_bad_duration_fails_with_the_accepted_forms(capsys, mesh):
    result = run_module(capsys, chain=mesh.workload.pem, roots=mesh.root.pem, min_remaining="soon")
    assert result["failed"] and "24h" in result["msg"]


def test_without_any_chain_the_module_says_what_to_give(capsys, mesh):
    result = run_module(capsys, roots=mesh.root.pem)
    assert result["failed"] and "'chain', 'secret' or 'chains'" in result["msg"]


def test_without_roots_the_module_asks_for_them(capsys, mesh):
    result = run_module(capsys, chain=mesh.workload.pem)
    assert result["failed"] and "roots" in result["msg"]


def test_a_secret_is_read_through_kubernetes_core(capsys, mesh, monkeypatch):
    import base64
    from ansible.module_utils import _internal
    # Once any controller code (ansible.errors, a filter plugin) is imported in this process,
    # ansible-core 2.19 sends module warnings to the display instead of the result.
    monkeypatch.setattr(_internal, "is_controller", False)
    seen = {}

    def fake_client(auth):
        seen["auth"] = auth
        return "client"

    def fake_read(client, namespace, name):
        seen["read"] = (client, namespace, name)
        return {"type": "kubernetes.io/tls", "data": {
            "tls.crt": base64.b64encode(bundle(mesh.gateway, mesh.intermediate).encode()).decode(),
            "ca.crt": base64.b64encode(mesh.root.pem.encode()).decode()}}

    monkeypatch.setattr(chain_verify.kube, "api_client", fake_client)
    monkeypatch.setattr(chain_verify.kube, "read_secret", fake_read)
    result = run_module(capsys, secret={"namespace": "istio-ingress", "name": "shop-tls", "context": "east"},
                        purpose="gateway", dns_names=["shop.example.com"], kubeconfig="/tmp/kc")
    assert result["valid"], result
    assert seen["auth"] == {"kubeconfig": "/tmp/kc", "context": "east"}
    assert seen["read"] == ("client", "istio-ingress", "shop-tls")
    assert "its own ca.crt is trusted" in json.dumps(result.get("warnings"))
