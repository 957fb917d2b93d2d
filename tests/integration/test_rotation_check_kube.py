"""rotation_check and chain_verify against the Kubernetes API emulator, through kubernetes.core's
client: TLS Secrets, cert-manager Certificates issued by the CA stand-in, istio-ca-root-cert
ConfigMaps, and a cluster that cannot be reached."""

import base64
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, kube, pki
from ansible_collections.certmesh.istio.plugins.modules import chain_verify, rotation_check
from tests.support.pki_factory import MeshPKI, bundle, days, make_workload_svid, now

pytest.importorskip("kubernetes")


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _namespace(cluster, name):
    cluster.emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


@pytest.fixture
def mesh_cluster(kube_emulator):
    """An emulated cluster with a mesh CA ClusterIssuer, a gateway Certificate issued by the
    stand-in, a hand-made expired SVID Secret and the root ConfigMap."""
    mesh = MeshPKI(key_type="rsa")
    api = kube_emulator.emulator
    for name in ("cert-manager", "istio-ingress", "shop"):
        _namespace(kube_emulator, name)
    api.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"namespace": "cert-manager", "name": "mesh-ca"},
                "data": {"tls.crt": _b64(bundle(mesh.intermediate, mesh.root)), "tls.key": _b64(mesh.intermediate.key_pem),
                         "ca.crt": _b64(mesh.root.pem)}})
    api.create({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "mesh-ca"},
                "spec": {"ca": {"secretName": "mesh-ca"}}})
    api.create({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"namespace": "istio-ingress", "name": "shop-gateway"},
                "spec": {"secretName": "shop-gateway-tls", "dnsNames": ["shop.example.com"],
                         "duration": "2160h", "renewBefore": "720h",
                         "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}})
    expired = make_workload_svid(mesh.intermediate, not_before=now() - days(2), lifetime=days(1))
    api.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"namespace": "shop", "name": "old-svid", "labels": {"app": "shop"}},
                "data": {"tls.crt": _b64(expired.pem), "tls.key": _b64(expired.key_pem)}})
    api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "shop", "name": "istio-ca-root-cert"},
                "data": {"root-cert.pem": mesh.root.pem}})
    return kube_emulator, mesh


def _run(module, capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_the_stand_in_issued_the_gateway_secret(mesh_cluster):
    cluster, _mesh = mesh_cluster
    secret = cluster.emulator.get("v1", "Secret", "shop-gateway-tls", "istio-ingress")
    assert secret is not None and secret["type"] == "kubernetes.io/tls"


def test_kube_reads_see_secrets_certificates_and_configmaps(mesh_cluster):
    cluster, _mesh = mesh_cluster
    client = kube.api_client({"kubeconfig": cluster.kubeconfig, "context": cluster.context})
    secrets, certificates, configmaps = kube.scan_cluster(client)
    assert {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in secrets} >= {
        ("cert-manager", "mesh-ca"), ("istio-ingress", "shop-gateway-tls"), ("shop", "old-svid")}
    assert [c["metadata"]["name"] for c in certificates] == ["shop-gateway"]
    assert ("shop", "istio-ca-root-cert") in {(c["metadata"]["namespace"], c["metadata"]["name"]) for c in configmaps}


def test_rotation_check_classifies_the_cluster_now_and_two_months_later(mesh_cluster):
    cluster, mesh = mesh_cluster
    client = kube.api_client({"kubeconfig": cluster.kubeconfig, "context": cluster.context})
    records = kube.records_for_cluster("east", client)
    today = dict(((e["namespace"], e["name"], e["key"]), e) for e in expiry.rotation_result(records)["certificates"])
    gateway = today[("istio-ingress", "shop-gateway", "tls.crt#0")]
    assert (gateway["source"], gateway["secret_name"], gateway["status"]) == ("certificate", "shop-gateway-tls", "ok")
    assert today[("shop", "old-svid", "tls.crt")]["status"] == "expired"
    assert today[("shop", "istio-ca-root-cert", "root-cert.pem")]["subject"] == "CN=certmesh mesh root"
    later = expiry.rotation_result(records, now() + days(61))["certificates"]
    gateway_later = [e for e in later if e["name"] == "shop-gateway" and e["key"] == "tls.crt#0"][0]
    assert gateway_later["status"] == "renew_soon" and "renewBefore 30d" in gateway_later["reason"]


def test_the_rotation_check_module_covers_two_clusters_and_writes_reports(mesh_cluster, capsys, tmp_path):
    cluster, _mesh = mesh_cluster
    result = _run(rotation_check, capsys, clusters=[
        {"name": "east", "kubeconfig": cluster.kubeconfig, "context": cluster.context},
        {"name": "gone", "host": "https://127.0.0.1:9", "api_key": "not-a-real-token", "validate_certs": False},
    ], label_selector=None, report={"dest": str(tmp_path / "report"), "formats": ["json", "junit"]})
    assert result["changed"] is False
    clusters = {e["cluster"] for e in result["certificates"]}
    assert clusters == {"east", "gone"}
    gone = [e for e in result["certificates"] if e["cluster"] == "gone"][0]
    assert gone["status"] == "invalid" and gone["source"] == "cluster", result["certificates"]
    assert result["summary"]["counts"]["expired"] == 1
    assert (tmp_path / "report" / "rotation-check.junit.xml").exists()


def test_namespaces_and_label_selector_narrow_the_scan(mesh_cluster, capsys):
    cluster, _mesh = mesh_cluster
    result = _run(rotation_check, capsys, clusters=[{"name": "east", "kubeconfig": cluster.kubeconfig,
                                                     "context": cluster.context}],
                  namespaces=["shop"], label_selector="app=shop", result_detail="full")
    names = sorted((e["name"], e["key"]) for e in result["certificates"])
    assert names == [("istio-ca-root-cert", "root-cert.pem"), ("old-svid", "tls.crt")]


def test_chain_verify_reads_the_gateway_secret_from_the_cluster(mesh_cluster, capsys):
    cluster, mesh = mesh_cluster
    result = _run(chain_verify, capsys, secret={"namespace": "istio-ingress", "name": "shop-gateway-tls",
                                                "kubeconfig": cluster.kubeconfig, "context": cluster.context},
                  roots=mesh.root.pem, purpose="gateway", dns_names=["shop.example.com"])
    assert result["valid"] is True, result.get("msg")
    assert result["chain"][0]["dns_names"] == ["shop.example.com"]
    assert pki.parse_time(result["chain"][0]["not_after"]) > now() + days(89)


def test_chain_verify_names_a_missing_secret(mesh_cluster, capsys):
    cluster, mesh = mesh_cluster
    result = _run(chain_verify, capsys, secret={"namespace": "shop", "name": "nope",
                                                "kubeconfig": cluster.kubeconfig, "context": cluster.context},
                  roots=mesh.root.pem)
    assert result["failed"] and "Secret shop/nope" in result["msg"]


def test_a_host_and_token_cluster_after_a_kubeconfig_cluster_talks_to_its_own_host(mesh_cluster):
    # kubernetes.core builds on the python client's default configuration, which loading the
    # first cluster's kubeconfig left with a hook that reloads that kubeconfig on each request.
    cluster, _mesh = mesh_cluster
    kube.api_client({"kubeconfig": cluster.kubeconfig, "context": cluster.context})
    with pytest.raises(kube.KubeError):
        gone = kube.api_client({"host": "https://127.0.0.1:9", "api_key": "not-a-real-token",
                                "validate_certs": False})
        assert gone.configuration.host == "https://127.0.0.1:9"
        kube.scan_cluster(gone)  # connection refused, instead of the first cluster's Secrets
