"""The helm stand-in records releases in the emulator and creates what later steps wait for."""

import base64
import json
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.fixture
def helm(tmp_path, kube_emulator_factory, helm_standin):
    """Run ``helm`` (the stand-in unless a real one is on PATH) against a fresh cluster without CRDs."""
    if not helm_standin.is_standin:
        pytest.skip("a real helm is on PATH; these tests describe the stand-in")
    cluster = kube_emulator_factory("helm", crds=False)
    env = dict(os.environ, **cluster.env)
    env.update(helm_standin.env)

    def run(*args, check=True):
        completed = subprocess.run(["helm"] + list(args), env=env, capture_output=True, text=True, check=False)
        if check:
            assert completed.returncode == 0, completed.stderr
        return completed

    run.cluster = cluster
    return run


def _values_file(tmp_path, name, values):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return "--values=%s" % path


def test_release_is_stored_as_helm_3_does_and_listed(helm):
    helm("repo", "add", "jetstack", "https://charts.jetstack.io")
    helm("upgrade", "-i", "cert-manager", "jetstack/cert-manager", "--version", "v1.21.1", "--namespace", "cert-manager",
         "--create-namespace", "--set", "crds.enabled=true", "--wait")
    helm("upgrade", "-i", "cert-manager", "jetstack/cert-manager", "--version", "v1.21.1", "--namespace", "cert-manager",
         "--set", "crds.enabled=true", "--set", "replicaCount=2")
    emulator = helm.cluster.emulator
    secrets = emulator.list("v1", "Secret", "cert-manager", label_selector="owner=helm,name=cert-manager")
    assert {(s["metadata"]["name"], s["metadata"]["labels"]["status"]) for s in secrets} == {
        ("sh.helm.release.v1.cert-manager.v1", "superseded"), ("sh.helm.release.v1.cert-manager.v2", "deployed")}
    assert emulator.get("apps/v1", "Deployment", "cert-manager", "cert-manager")["spec"]["replicas"] == 2
    listed = yaml.safe_load(helm("list", "--output=yaml", "--namespace", "cert-manager").stdout)
    assert [(r["name"], r["revision"], r["chart"]) for r in listed] == [("cert-manager", "2", "cert-manager-v1.21.1")]
    values = yaml.safe_load(helm("get", "values", "cert-manager", "--output=yaml", "--namespace", "cert-manager").stdout)
    assert values == {"crds": {"enabled": True}, "replicaCount": 2}
    release = secrets[0] if secrets[0]["metadata"]["labels"]["version"] == "2" else secrets[1]
    import gzip  # pylint: disable=import-outside-toplevel
    record = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(release["data"]["release"]))))
    assert record["chart"]["metadata"]["version"] == "v1.21.1" and record["namespace"] == "cert-manager"


def test_uninstall_keeps_cert_manager_crds_by_resource_policy(helm):
    helm("install", "cert-manager", "cert-manager", "--repo", "https://charts.jetstack.io", "-n", "cert-manager",
         "--create-namespace", "--set", "crds.enabled=true")
    out = helm("uninstall", "cert-manager", "-n", "cert-manager").stdout
    assert 'release "cert-manager" uninstalled' in out
    emulator = helm.cluster.emulator
    assert emulator.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "certificates.cert-manager.io")
    assert emulator.get("apps/v1", "Deployment", "cert-manager", "cert-manager") is None
    assert emulator.list("v1", "Secret", "cert-manager", label_selector="owner=helm") == []


def test_existing_crds_not_owned_by_the_release_are_refused(helm):
    helm.cluster.emulator.apply_crds()
    failed = helm("install", "cert-manager", "cert-manager", "--repo", "https://charts.jetstack.io", "-n", "cert-manager",
                  "--create-namespace", "--set", "crds.enabled=true", check=False)
    assert failed.returncode == 1
    assert "exists and cannot be imported into the current release: invalid ownership metadata" in failed.stderr


def test_unknown_chart_version_and_missing_namespace_fail_like_helm(helm):
    unknown = helm("install", "x", "nginx", "--repo", "https://charts.jetstack.io", check=False)
    assert unknown.stderr.startswith('Error: chart "nginx" not found in https://charts.jetstack.io repository')
    version = helm("install", "cm", "cert-manager", "--repo", "https://charts.jetstack.io", "--version", "v1.0.0",
                   check=False)
    assert 'version "v1.0.0" not found' in version.stderr
    namespace = helm("install", "cm", "cert-manager", "--repo", "https://charts.jetstack.io", "-n", "nowhere",
                     check=False)
    assert 'namespaces "nowhere" not found' in namespace.stderr


def test_istio_charts_and_istio_csr_trust_root(helm, tmp_path):
    emulator = helm.cluster.emulator
    helm("install", "cert-manager", "cert-manager", "--repo", "https://charts.jetstack.io", "-n", "cert-manager",
         "--create-namespace", "--set", "crds.enabled=true")
    emulator.create({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "bootstrap"},
                     "spec": {"selfSigned": {}}})
    emulator.create({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                     "metadata": {"name": "mesh-root", "namespace": "cert-manager"},
                     "spec": {"isCA": True, "commonName": "mesh-root", "secretName": "mesh-root",
                              "issuerRef": {"name": "bootstrap", "kind": "ClusterIssuer"}}})
    emulator.create({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "mesh-ca"},
                     "spec": {"ca": {"secretName": "mesh-root"}}})
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    csr_values = {"app": {"certmanager": {"issuer": {"name": "mesh-ca", "kind": "ClusterIssuer"}},
                          "tls": {"trustDomain": "mesh.example"}}}
    helm("install", "istio-csr", "cert-manager-istio-csr", "--repo", "https://charts.jetstack.io", "-n", "cert-manager",
         _values_file(tmp_path, "csr.yaml", csr_values))
    root = base64.b64decode(emulator.get("v1", "Secret", "mesh-root", "cert-manager")["data"]["tls.crt"]).decode()
    assert emulator.get("v1", "ConfigMap", "istio-ca-root-cert", "istio-system")["data"]["root-cert.pem"] == root
    istiod_certificate = emulator.get("cert-manager.io/v1", "Certificate", "istiod", "istio-system")
    assert istiod_certificate["spec"]["uris"] == ["spiffe://mesh.example/ns/istio-system/sa/istiod-service-account"]
    assert emulator.get("v1", "Secret", "istiod-tls", "istio-system")["type"] == "kubernetes.io/tls"
    service = emulator.get("v1", "Service", "cert-manager-istio-csr", "cert-manager")
    assert service["spec"]["ports"][0]["port"] == 443

    istio = "https://istio-release.storage.googleapis.com/charts"
    helm("install", "istio-base", "base", "--repo", istio, "--version", "1.30.3", "-n", "istio-system")
    assert emulator.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "peerauthentications.security.istio.io")
    istiod_values = {"global": {"caAddress": "cert-manager-istio-csr.cert-manager.svc:443"},
                     "pilot": {"env": {"ENABLE_CA_SERVER": "false"}},
                     "meshConfig": {"trustDomain": "mesh.example"}}
    helm("install", "istiod", "istiod", "--repo", istio, "-n", "istio-system",
         _values_file(tmp_path, "istiod.yaml", istiod_values))
    mesh = yaml.safe_load(emulator.get("v1", "ConfigMap", "istio", "istio-system")["data"]["mesh"])
    assert mesh["trustDomain"] == "mesh.example"
    env = {e["name"]: e["value"] for e in emulator.get("apps/v1", "Deployment", "istiod", "istio-system")
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"ENABLE_CA_SERVER": "false", "CA_ADDRESS": "cert-manager-istio-csr.cert-manager.svc:443"}
    helm("install", "ingress", "gateway", "--repo", istio, "-n", "istio-system")
    assert emulator.get("v1", "Service", "ingress", "istio-system")["spec"]["ports"][1]["port"] == 443


def test_ambient_charts_create_ready_daemonsets_and_gateway_values_keep_its_schema(helm, tmp_path):
    istio = "https://istio-release.storage.googleapis.com/charts"
    helm("install", "istio-cni", "cni", "--repo", istio, "--version", "1.30.3", "-n", "istio-system",
         "--create-namespace", "--set", "ambient.enabled=true")
    ztunnel_values = {"caAddress": "cert-manager-istio-csr.cert-manager.svc:443", "multiCluster": {"clusterName": "east"}}
    helm("install", "ztunnel", "ztunnel", "--repo", istio, "-n", "istio-system",
         _values_file(tmp_path, "ztunnel.yaml", ztunnel_values))
    emulator = helm.cluster.emulator
    ztunnel = emulator.get("apps/v1", "DaemonSet", "ztunnel", "istio-system")
    env = {e["name"]: e["value"] for e in ztunnel["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CA_ADDRESS"] == "cert-manager-istio-csr.cert-manager.svc:443" and env["CLUSTER_ID"] == "east"
    assert ztunnel["status"]["numberReady"] == ztunnel["status"]["desiredNumberScheduled"] > 0
    assert emulator.get("apps/v1", "DaemonSet", "istio-cni-node", "istio-system")["status"]["numberReady"] > 0
    refused = helm("install", "ingress", "gateway", "--repo", istio, "-n", "istio-system", "--set", "replicas=2",
                   check=False)
    assert refused.returncode == 1
    assert "values don't meet the specifications of the schema(s)" in refused.stderr
    assert "'replicas' was unexpected" in refused.stderr


def test_helm_standin_runs_with_this_python(helm):
    assert "v3." in helm("version").stdout
    assert os.path.basename(sys.executable).startswith("python")
