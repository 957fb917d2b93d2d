"""Kubernetes reads through a K8SClient-shaped fake (the emulator-backed test is in
tests/integration/test_rotation_check_kube.py)."""

import base64
import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import kube
from tests.support.pki_factory import MeshPKI


class ResourceNotFoundError(Exception):
    pass


class FakeResponse:
    def __init__(self, body):
        self.data = json.dumps(body).encode()


class FakeClient:
    """Serves lists like kube-apiserver: namespaced or cluster-wide, label selectors of the
    form key=value, pages of ``limit`` items with a continue token."""

    def __init__(self, objects, kinds=("Secret", "ConfigMap", "Certificate"), fail=None):
        self.objects = objects
        self.kinds = kinds
        self.fail = fail
        self.calls = []

    def resource(self, kind, api_version):
        if kind not in self.kinds:
            raise ResourceNotFoundError("no %s in %s" % (kind, api_version))
        return kind

    def get(self, resource, **params):
        self.calls.append((resource, params))
        if self.fail:
            raise self.fail
        items = [o for o in self.objects if o["kind"] == resource]
        if params.get("name"):
            found = [o for o in items if o["metadata"]["name"] == params["name"]
                     and o["metadata"]["namespace"] == params["namespace"]]
            if not found:
                raise Exception("secrets \"%s\" not found" % params["name"])
            return FakeResponse(found[0])
        if params.get("namespace"):
            items = [o for o in items if o["metadata"]["namespace"] == params["namespace"]]
        if params.get("label_selector"):
            key, value = params["label_selector"].split("=")
            items = [o for o in items if (o["metadata"].get("labels") or {}).get(key) == value]
        start = int(params.get("_continue") or 0)
        page = items[start:start + params["limit"]]
        more = start + params["limit"] < len(items)
        return FakeResponse({"items": page, "metadata": {"continue": str(start + params["limit"]) if more else None}})


def secret(namespace, name, pem, kind_type="kubernetes.io/tls", labels=None):
    return {"kind": "Secret", "type": kind_type,
            "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
            "data": {"tls.crt": base64.b64encode(pem.encode()).decode(), "tls.key": "c2VjcmV0"}}


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def test_only_tls_and_istio_ca_secrets_are_listed(mesh):
    client = FakeClient([secret("a", "tls", mesh.gateway.pem), secret("a", "token", "", "Opaque"),
                         secret("istio-system", "cacerts", mesh.intermediate.pem, "Opaque")])
    names = sorted(s["metadata"]["name"] for s in kube.list_tls_secrets(client))
    assert names == ["cacerts", "tls"]


def test_listing_follows_continue_tokens_across_pages(mesh, monkeypatch):
    monkeypatch.setattr(kube, "PAGE_SIZE", 2)
    client = FakeClient([secret("a", "tls%d" % n, mesh.gateway.pem) for n in range(5)])
    assert len(kube.list_tls_secrets(client)) == 5
    assert len(client.calls) == 3


def test_namespaces_and_label_selector_are_passed_to_the_api(mesh):
    client = FakeClient([secret("a", "one", mesh.gateway.pem, labels={"app": "shop"}),
                         secret("b", "two", mesh.gateway.pem, labels={"app": "shop"}),
                         secret("a", "three", mesh.gateway.pem)])
    found = kube.list_tls_secrets(client, ["a"], "app=shop")
    assert [s["metadata"]["name"] for s in found] == ["one"]
    assert client.calls[0][1]["namespace"] == "a" and client.calls[0][1]["label_selector"] == "app=shop"


def test_certificates_are_an_empty_list_without_cert_manager_crds():
    assert kube.list_certificates(FakeClient([], kinds=("Secret",))) == []


def test_only_istio_root_configmaps_are_kept():
    client = FakeClient([
        {"kind": "ConfigMap", "metadata": {"namespace": "a", "name": "istio-ca-root-cert"}, "data": {}},
        {"kind": "ConfigMap", "metadata": {"namespace": "a", "name": "other"}, "data": {}}])
    assert [c["metadata"]["name"] for c in kube.list_root_configmaps(client)] == ["istio-ca-root-cert"]


def test_read_secret_returns_the_object_or_names_it_in_the_error(mesh):
    client = FakeClient([secret("a", "tls", mesh.gateway.pem)])
    assert kube.read_secret(client, "a", "tls")["metadata"]["name"] == "tls"
    with pytest.raises(kube.KubeError) as caught:
        kube.read_secret(client, "a", "missing")
    assert "Secret a/missing" in str(caught.value)


def test_a_cluster_that_fails_to_answer_becomes_one_invalid_record():
    records = kube.records_for_cluster("west", FakeClient([], fail=RuntimeError("connection refused")))
    assert len(records) == 1
    assert records[0]["error"] == "cluster west: connection refused" and records[0]["source"] == "cluster"


def test_records_for_a_cluster_cover_secrets_certificates_and_configmaps(mesh):
    client = FakeClient([
        secret("shop", "gw-tls", mesh.gateway.pem),
        {"kind": "Certificate", "metadata": {"namespace": "shop", "name": "gw"},
         "spec": {"secretName": "gw-tls", "renewBefore": "720h"}},
        {"kind": "ConfigMap", "metadata": {"namespace": "shop", "name": "istio-ca-root-cert"},
         "data": {"root-cert.pem": mesh.root.pem}}])
    records = kube.records_for_cluster("east", client)
    assert sorted((r["source"], r["name"]) for r in records) == [
        ("certificate", "gw"), ("configmap", "istio-ca-root-cert")]
    assert all(r["cluster"] == "east" for r in records)


def test_auth_keys_are_kubernetes_cores():
    assert {"kubeconfig", "context", "host", "api_key", "validate_certs"} <= set(kube.auth_keys())


def test_a_bad_kubeconfig_is_a_kube_error_naming_the_problem(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("not: [a, kubeconfig")
    with pytest.raises(kube.KubeError) as caught:
        kube.api_client({"kubeconfig": str(config)})
    assert "cannot connect" in str(caught.value)


def test_a_connection_is_described_by_the_path_and_context_the_user_set():
    assert kube.describe_connection({"kubeconfig": "/home/u/.kube/east", "context": "east"}) == (
        "kubeconfig /home/u/.kube/east, context east")
    assert kube.describe_connection({"kubeconfig": {"users": [{"user": {"token": "t0ken"}}]}}) == "inline kubeconfig"
    assert kube.describe_connection({"host": "https://10.0.0.1:6443", "api_key": "t0ken"}) == "host https://10.0.0.1:6443"
    assert "default kubeconfig" in kube.describe_connection({})


class _Module:
    def __init__(self, params, secrets):
        self.params = params
        self.no_log_values = set(secrets)


def test_kubeconfig_paths_are_revealed_but_secrets_stay_masked():
    module = _Module({"kubeconfig": "/k/east", "api_key": "/k/west",
                      "clusters": [{"name": "west", "kubeconfig": "/k/west"}, {"name": "x", "kubeconfig": {"a": "b"}}]},
                     {"/k/east", "/k/west", "b"})
    kube.reveal_kubeconfig_paths(module)
    assert module.no_log_values == {"/k/west", "b"}
