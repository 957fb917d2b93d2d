"""Mesh trust checks over plain Kubernetes objects (plugins/module_utils/mesh_trust.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust
from tests.support.pki_factory import (
    MeshPKI, bundle, days, make_gateway_cert, make_intermediate, make_root, make_workload_svid, now)

SETTINGS = mesh_trust.settings_with_defaults({})


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _ready(status="True", reason="Ready"):
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": "m"}]}


def _snapshot(mesh, gateway=None, roots_pem=None):
    gateway = gateway or mesh.gateway
    roots_pem = roots_pem or mesh.root.pem
    return {
        "issuer": {"kind": "ClusterIssuer", "metadata": {"name": "istio-ca"}, "status": _ready()},
        "istio_csr_deployment": {
            "metadata": {"name": "cert-manager-istio-csr"},
            "spec": {"template": {"spec": {"containers": [{"args": ["--trust-domain=cluster.local"]}]}}},
            "status": {"conditions": [{"type": "Available", "status": "True"}]}},
        "istio_csr_service": {"metadata": {"name": "cert-manager-istio-csr"}},
        "root_ca_secret": {"metadata": {"name": "istio-root-ca"}},
        "istiod_self_signed_secret": None,
        "istiod_deployments": [{"metadata": {"name": "istiod"}, "spec": {"template": {"spec": {"containers": [{"env": [
            {"name": "ENABLE_CA_SERVER", "value": "false"},
            {"name": "CA_ADDRESS", "value": "cert-manager-istio-csr.cert-manager.svc:443"}]}]}}}}],
        "istio_configmaps": [{"metadata": {"name": "istio"}, "data": {"mesh": "trustDomain: cluster.local\n"}}],
        "certificates": [
            {"metadata": {"name": "app", "namespace": "istio-system"}, "status": _ready(),
             "spec": {"secretName": "app-tls", "dnsNames": ["shop.example.com"]}},
            {"metadata": {"name": "probe", "namespace": "istio-system"}, "status": _ready(),
             "spec": {"secretName": "probe", "uris": ["spiffe://cluster.local/ns/shop/sa/frontend"]}},
        ],
        "secrets": {
            "istio-system/app-tls": {"data": {"tls.crt": _b64(bundle(gateway, mesh.intermediate))}},
            "istio-system/probe": {"data": {"tls.crt": _b64(bundle(mesh.workload, mesh.intermediate))}},
        },
        "namespaces": ["default", "istio-system"],
        "root_configmaps": [{"metadata": {"name": "istio-ca-root-cert", "namespace": ns}, "data": {"root-cert.pem": roots_pem}}
                            for ns in ("default", "istio-system")],
        "peer_authentications": [{"metadata": {"name": "mesh-wide"}, "spec": {"mtls": {"mode": "STRICT"}}}],
        "gateways": [_gateway()],
        "events": [],
    }


def _checks(mesh, snap, roots=None, trust_domain="cluster.local"):
    store = chain.load_store([r.cert for r in roots] if roots else [mesh.root.cert])
    expected = [mesh_trust.fingerprints(r.pem)[0] for r in (roots_issued(mesh, roots))]
    return mesh_trust.cluster_checks("east", snap, store, expected, trust_domain, SETTINGS)


def roots_issued(mesh, roots):
    return [mesh.root] if roots is None else roots


def _failed(results):
    return [(r["check"], r["object"]) for r in results if not r["ok"]]


def test_a_healthy_cluster_passes_every_check(mesh):
    results = _checks(mesh, _snapshot(mesh))
    assert _failed(results) == []
    assert set(r["check"] for r in results) == set(mesh_trust.CHECKS) - {"trust_bundle"}  # trust-manager off


def test_an_issuer_without_its_ca_secret_names_the_secret(mesh):
    snap = _snapshot(mesh)
    snap["issuer"]["status"] = _ready("False", "ErrGetKeyPair")
    result = mesh_trust.check_issuer("east", snap, SETTINGS)
    assert not result["ok"] and result["object"] == "ClusterIssuer istio-ca"
    assert "cert-manager/istio-ca-key-pair is missing" in result["cause"]


def test_a_missing_issuer_says_to_run_site(mesh):
    snap = _snapshot(mesh)
    snap["issuer"] = None
    assert "run playbooks/site.yml for cluster east" in mesh_trust.check_issuer("east", snap, SETTINGS)["cause"]


def test_istio_csr_not_available_is_named(mesh):
    snap = _snapshot(mesh)
    snap["istio_csr_deployment"]["status"]["conditions"][0]["status"] = "False"
    result = mesh_trust.check_istio_csr("east", snap, SETTINGS)
    assert not result["ok"] and result["object"] == "Deployment cert-manager/cert-manager-istio-csr"


def test_istio_csr_without_its_pinned_root_is_named(mesh):
    snap = _snapshot(mesh)
    snap["root_ca_secret"] = None
    assert mesh_trust.check_istio_csr("east", snap, SETTINGS)["object"] == "Secret cert-manager/istio-root-ca"


def test_istiod_with_its_own_ca_server_fails(mesh):
    snap = _snapshot(mesh)
    snap["istiod_deployments"][0]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "true"
    result = mesh_trust.check_istiod("east", snap, SETTINGS)
    assert not result["ok"] and "ENABLE_CA_SERVER" in result["message"]


def test_istiod_pointing_elsewhere_fails(mesh):
    snap = _snapshot(mesh)
    snap["istiod_deployments"][0]["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] = "istiod:15012"
    assert "not istio-csr" in mesh_trust.check_istiod("east", snap, SETTINGS)["message"]


def test_a_self_signed_istiod_ca_secret_fails(mesh):
    snap = _snapshot(mesh)
    snap["istiod_self_signed_secret"] = {"metadata": {"name": "istio-ca-secret"}}
    result = mesh_trust.check_istiod("east", snap, SETTINGS)
    assert not result["ok"] and result["object"] == "Secret istio-system/istio-ca-secret"


def test_an_expired_gateway_certificate_is_named_with_its_cause(mesh):
    expired = make_gateway_cert(mesh.intermediate, not_before=now() - days(100), not_after=now() - days(10))
    results = _checks(mesh, _snapshot(mesh, gateway=expired))
    failed = [r for r in results if not r["ok"]]
    assert [(r["check"], r["object"]) for r in failed] == [
        ("certificate_chains", "Certificate istio-system/app"), ("gateway_credentials", "Secret istio-system/app-tls")]
    assert "expired" in failed[0]["cause"] and failed[0]["details"]["purpose"] == "gateway"
    assert "Gateway istio-system/mesh-gateway serves" in failed[1]["message"]


def test_a_certificate_from_another_root_is_untrusted(mesh):
    other_root = make_root("another mesh root", key_slot="another-root")
    other = make_intermediate(other_root, "another intermediate", key_slot="another-intermediate", path_length=0)
    snap = _snapshot(mesh)
    snap["secrets"]["istio-system/probe"]["data"]["tls.crt"] = _b64(bundle(make_workload_svid(other, "cluster.local", "shop", "frontend"), other))
    failed = [r for r in _checks(mesh, snap) if not r["ok"]]
    assert failed[0]["object"] == "Certificate istio-system/probe" and "does not chain" in failed[0]["cause"]


def test_a_certificate_never_issued_is_named(mesh):
    snap = _snapshot(mesh)
    del snap["secrets"]["istio-system/app-tls"]
    failed = [r for r in _checks(mesh, snap) if not r["ok"]]
    assert "was never issued" in failed[0]["message"] and "not issued" in failed[0]["cause"]


def test_a_workload_in_another_trust_domain_fails(mesh):
    failed = _failed(_checks(mesh, _snapshot(mesh), trust_domain="prod.example.com"))
    assert failed == [("certificate_chains", "Certificate istio-system/probe")]


def test_a_wrong_root_in_one_namespace_names_that_configmap(mesh):
    snap = _snapshot(mesh)
    snap["root_configmaps"][0]["data"]["root-cert.pem"] = make_root("stranger").pem
    failed = _failed(_checks(mesh, snap))
    assert failed == [("root_configmaps", "ConfigMap default/istio-ca-root-cert")]


def test_a_namespace_without_the_root_configmap_is_named(mesh):
    snap = _snapshot(mesh)
    snap["namespaces"].append("shop")
    failed = [r for r in _checks(mesh, snap) if not r["ok"]]
    assert failed[0]["object"] == "ConfigMap shop/istio-ca-root-cert" and "is missing" in failed[0]["message"]


def test_bundle_status_sees_both_roots_only_when_both_are_there(mesh):
    new_root = make_root("next root", key_slot="root-next")
    both = mesh_trust.fingerprints(mesh.root.pem) + mesh_trust.fingerprints(new_root.pem)
    configmaps = [{"metadata": {"namespace": "a"}, "data": {"root-cert.pem": mesh.root.pem + new_root.pem}},
                  {"metadata": {"namespace": "b"}, "data": {"root-cert.pem": mesh.root.pem}}]
    status = mesh_trust.bundle_status(configmaps, both)
    assert status["a"]["ok"] and not status["b"]["ok"] and status["b"]["missing"] == both[1:]


def test_strict_mtls_missing_fails_only_where_required(mesh):
    snap = _snapshot(mesh)
    snap["peer_authentications"] = [{"metadata": {"name": "mesh-wide"}, "spec": {"mtls": {"mode": "PERMISSIVE"}}}]
    assert not mesh_trust.check_strict_mtls("east", snap, SETTINGS)["ok"]
    assert mesh_trust.check_strict_mtls("east", snap, dict(SETTINGS, strict_mtls=False))["ok"]


def test_the_mesh_has_one_trust_domain_and_one_root(mesh):
    expected = mesh_trust.fingerprints(mesh.root.pem)
    summaries = [mesh_trust.cluster_summary(name, _snapshot(mesh), "cluster.local") for name in ("east", "west")]
    assert all(r["ok"] for r in mesh_trust.mesh_checks(summaries, expected))


def test_clusters_disagreeing_on_trust_domain_or_root_are_named(mesh):
    expected = mesh_trust.fingerprints(mesh.root.pem)
    east = mesh_trust.cluster_summary("east", _snapshot(mesh), "cluster.local")
    west = mesh_trust.cluster_summary("west", _snapshot(mesh, roots_pem=make_root("west's own").pem), "west.local")
    domain, root = mesh_trust.mesh_checks([east, west], expected)
    assert not domain["ok"] and "west.local: west" in domain["message"]
    assert not root["ok"] and "cluster(s) west publish" in root["message"]


def test_failure_lines_name_cluster_object_and_cause(mesh):
    snap = _snapshot(mesh)
    snap["root_configmaps"][0]["data"]["root-cert.pem"] = make_root("stranger").pem
    lines = mesh_trust.failure_lines(_checks(mesh, snap))
    assert lines[0].startswith("cluster east: ConfigMap default/istio-ca-root-cert: ")
    assert "likely cause" in lines[0]


def test_reports_are_written_as_json_junit_and_markdown(mesh, tmp_path):
    snap = _snapshot(mesh)
    snap["root_configmaps"][0]["data"]["root-cert.pem"] = make_root("stranger").pem
    files = mesh_trust.write_report(_checks(mesh, snap), {"clusters": []}, str(tmp_path / "r"))
    assert sorted(files) == ["json", "junit", "markdown"]
    assert 'failures="1"' in (tmp_path / "r" / "mesh-trust.junit.xml").read_text()
    assert "**FAILED**" in (tmp_path / "r" / "mesh-trust.md").read_text()


def _gateway(credential="app-tls", hosts=("shop.example.com",)):
    return {"metadata": {"name": "mesh-gateway", "namespace": "istio-system"},
            "spec": {"servers": [{"hosts": list(hosts), "port": {"number": 443, "protocol": "HTTPS"},
                                  "tls": {"mode": "SIMPLE", "credentialName": credential}},
                                 {"hosts": ["*"], "port": {"number": 80, "protocol": "HTTP"}}]}}


def test_a_gateway_serving_a_valid_certificate_passes(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway()]
    results = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert [r["ok"] for r in results] == [True]


def test_a_gateway_whose_credential_secret_is_missing_is_named(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway(credential="other-tls")]
    (result,) = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert not result["ok"] and result["object"] == "Secret istio-system/other-tls"
    assert "Gateway istio-system/mesh-gateway" in result["message"] and "gateway's namespace" in result["cause"]


def test_a_gateway_certificate_for_other_hosts_fails(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway(hosts=("api.example.com",))]
    (result,) = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert not result["ok"] and "other hosts" in result["cause"]


def _gateway_api_gateway(secret="app-tls", secret_namespace=None, hostname="shop.example.com"):
    ref = {"group": "", "kind": "Secret", "name": secret}
    if secret_namespace:
        ref["namespace"] = secret_namespace
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "mesh-gateway", "namespace": "ingress" if secret_namespace else "istio-system"},
            "spec": {"gatewayClassName": "istio", "listeners": [
                {"name": "https-app", "hostname": hostname, "port": 443, "protocol": "HTTPS",
                 "tls": {"mode": "Terminate", "certificateRefs": [ref]}},
                {"name": "http", "port": 80, "protocol": "HTTP"}]}}


def test_a_gateway_api_gateway_serving_a_valid_certificate_from_another_namespace_passes(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway_api_gateway(secret_namespace="istio-system")]
    results = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert [(r["ok"], r["object"]) for r in results] == [(True, "Secret istio-system/app-tls")]


def test_a_gateway_api_gateway_whose_certificate_ref_has_no_secret_is_named(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway_api_gateway(secret="other-tls")]
    (result,) = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert not result["ok"] and result["object"] == "Secret istio-system/other-tls"
    assert "certificateRef other-tls" in result["message"]


def test_a_gateway_api_listener_for_other_hosts_fails(mesh):
    snap = _snapshot(mesh)
    snap["gateways"] = [_gateway_api_gateway(hostname="api.example.com")]
    (result,) = mesh_trust.check_gateway_credentials("east", snap, chain.load_store([mesh.root.cert]))
    assert not result["ok"] and "other hosts" in result["cause"]


def test_events_are_attached_to_the_failed_object_only(mesh):
    snap = _snapshot(mesh)
    snap["issuer"]["status"] = _ready("False", "ErrGetKeyPair")
    events = [{"type": "Warning", "reason": "ErrGetKeyPair", "message": "secret not found",
               "involvedObject": {"kind": "ClusterIssuer", "name": "istio-ca"}},
              {"type": "Normal", "reason": "Issuing", "message": "x",
               "involvedObject": {"kind": "Certificate", "name": "app", "namespace": "istio-system"}}]
    results = mesh_trust.attach_events(_checks(mesh, snap), events)
    issuer = next(r for r in results if r["check"] == "issuer_ready")
    assert [e["reason"] for e in issuer["details"]["events"]] == ["ErrGetKeyPair"]
    assert all("events" not in r["details"] for r in results if r["ok"])


class _Status:
    status = "certificates/status"


class _FakeDynamic:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def patch(self, **kwargs):
        if self.fail:
            raise RuntimeError("forbidden")
        self.calls.append(kwargs)


class _FakeClient:
    def __init__(self, fail=False):
        self.client = _FakeDynamic(fail)

    @staticmethod
    def resource(kind, api_version):
        assert (kind, api_version) == ("Certificate", "cert-manager.io/v1")
        return _Status()


def test_certificates_from_the_old_root_are_renewal_candidates(mesh):
    new_root = make_root("next mesh root", key_slot="next-root")
    results = _checks(mesh, _snapshot(mesh), roots=[new_root])
    candidates = mesh_trust.renewal_candidates(results)
    assert sorted(r["object"] for r in candidates) == ["Certificate istio-system/app", "Certificate istio-system/probe"]


def test_an_expired_certificate_from_the_right_root_is_no_renewal_candidate(mesh):
    expired = make_gateway_cert(mesh.intermediate, not_before=now() - days(100), not_after=now() - days(10))
    assert mesh_trust.renewal_candidates(_checks(mesh, _snapshot(mesh, gateway=expired))) == []


def test_renewal_sets_the_issuing_condition_like_cmctl_renew(mesh):
    new_root = make_root("next mesh root", key_slot="next-root")
    item = mesh_trust.renewal_candidates(_checks(mesh, _snapshot(mesh), roots=[new_root]))[0]
    client = _FakeClient()
    mesh_trust.trigger_renewal(client, item, "2026-11-25T06:00:00Z")
    (call,) = client.client.calls
    assert (call["name"], call["namespace"], call["resource"]) == ("app", "istio-system", "certificates/status")
    conditions = call["body"]["status"]["conditions"]
    assert conditions[0]["type"] == "Ready" and conditions[-1]["type"] == "Issuing"
    assert conditions[-1]["reason"] == "ManuallyTriggered" and call["content_type"] == "application/merge-patch+json"


def test_a_refused_renewal_names_the_certificate(mesh):
    new_root = make_root("next mesh root", key_slot="next-root")
    item = mesh_trust.renewal_candidates(_checks(mesh, _snapshot(mesh), roots=[new_root]))[0]
    with pytest.raises(mesh_trust.kube.KubeError, match="Certificate istio-system/app: cannot trigger its renewal"):
        mesh_trust.trigger_renewal(_FakeClient(fail=True), item, "2026-11-25T06:00:00Z")


def _fingerprints_in(message):
    """Every colon-separated hex run in a message (a fingerprint or a piece of one)."""
    return re.findall(r"\b[0-9A-F]{1,2}(?::[0-9A-F]{1,2})+\b", message)


def test_root_messages_print_whole_fingerprints(mesh):
    """A fingerprint cut mid-byte (48:F7:F0:E7:98:E) cannot be compared with openssl's output."""
    stranger = make_root("stranger")
    snap = _snapshot(mesh)
    snap["root_configmaps"][0]["data"]["root-cert.pem"] = stranger.pem
    configmap = [r for r in _checks(mesh, snap) if not r["ok"]][0]
    east = mesh_trust.cluster_summary("east", _snapshot(mesh), "cluster.local")
    west = mesh_trust.cluster_summary("west", _snapshot(mesh, roots_pem=stranger.pem), "cluster.local")
    one_root = mesh_trust.mesh_checks([east, west], mesh_trust.fingerprints(mesh.root.pem))[1]
    expected = set(mesh_trust.fingerprints(mesh.root.pem) + mesh_trust.fingerprints(stranger.pem))
    for message in (configmap["message"], one_root["message"]):
        printed = _fingerprints_in(message)
        assert printed and set(printed) <= expected, message
