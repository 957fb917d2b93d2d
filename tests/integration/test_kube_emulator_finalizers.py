"""Graceful deletion in the Kubernetes API emulator: finalizers and namespaces that terminate, as kube-apiserver does."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
    "metadata": {"name": "held", "namespace": "shop", "finalizers": ["example.com/hold"]},
    "spec": {"secretName": "held-tls", "dnsNames": ["shop.example.com"], "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer"}},
}


@pytest.fixture
def api(kube_emulator):
    emulator = kube_emulator.emulator
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    return emulator


def _update(api, obj):
    meta = obj["metadata"]
    return api.request("PUT", api.path_for(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]), obj)


def _status(raised):
    return json.loads(raised.value.body)


def test_a_namespace_without_finalized_content_is_gone_at_once_with_its_objects(api):
    api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}, "data": {}})
    answer = api.delete("v1", "Namespace", "shop")
    assert answer["status"]["phase"] == "Terminating" and answer["metadata"]["deletionTimestamp"]
    assert api.get("v1", "Namespace", "shop") is None
    assert api.list("v1", "ConfigMap", "shop") == []


def test_an_object_with_a_finalizer_is_only_marked_for_deletion(api):
    api.create(CERTIFICATE)
    answer = api.delete("cert-manager.io/v1", "Certificate", "held", "shop")
    assert answer["kind"] == "Certificate" and answer["metadata"]["deletionTimestamp"]
    held = api.get("cert-manager.io/v1", "Certificate", "held", "shop")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["deletionGracePeriodSeconds"] == 0


def test_removing_the_last_finalizer_completes_the_deletion(api):
    api.create(CERTIFICATE)
    api.delete("cert-manager.io/v1", "Certificate", "held", "shop")
    held = api.get("cert-manager.io/v1", "Certificate", "held", "shop")
    held["metadata"]["finalizers"] = []
    _update(api, held)
    assert api.get("cert-manager.io/v1", "Certificate", "held", "shop") is None


def test_a_namespace_held_by_a_finalizer_stays_terminating_and_names_it(api):
    api.create(CERTIFICATE)
    api.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}})
    api.delete("v1", "Namespace", "shop")
    namespace = api.get("v1", "Namespace", "shop")
    assert namespace["status"]["phase"] == "Terminating"
    messages = {c["type"]: c["message"] for c in namespace["status"]["conditions"]}
    assert messages["NamespaceFinalizersRemaining"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    assert messages["NamespaceContentRemaining"] == \
        "Some resources are remaining: certificates.cert-manager.io has 1 resource instances"
    assert api.get("v1", "Secret", "s", "shop") is None


def test_a_terminating_namespace_refuses_new_content_with_403(api, kube_emulator):
    api.create(CERTIFICATE)
    api.delete("v1", "Namespace", "shop")
    core = kube_emulator.dynamic().resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(ApiException) as raised:
        core.create(body={"metadata": {"name": "late"}, "data": {}}, namespace="shop")
    body = _status(raised)
    assert raised.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('configmaps "late" is forbidden: unable to create new content in namespace shop '
                               "because it is being terminated")


def test_the_namespace_goes_when_its_last_held_object_is_released(api):
    api.create(CERTIFICATE)
    api.delete("v1", "Namespace", "shop")
    held = api.get("cert-manager.io/v1", "Certificate", "held", "shop")
    held["metadata"]["finalizers"] = []
    _update(api, held)
    assert api.get("v1", "Namespace", "shop") is None


def test_a_namespace_with_its_own_finalizer_waits_for_it(api):
    namespace = api.get("v1", "Namespace", "shop")
    namespace["metadata"]["finalizers"] = ["example.com/ns-hold"]
    _update(api, namespace)
    api.delete("v1", "Namespace", "shop")
    namespace = api.get("v1", "Namespace", "shop")
    assert namespace["status"]["phase"] == "Terminating"
    namespace["metadata"]["finalizers"] = []
    _update(api, namespace)
    assert api.get("v1", "Namespace", "shop") is None
