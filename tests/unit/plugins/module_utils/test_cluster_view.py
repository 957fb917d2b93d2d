"""Preflight's view of a cluster: what it reads, and when the roles may trust it (never when unsure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import cluster_view, kube
from tests.unit.plugins.module_utils.test_noop import CERT_MANAGER, _release_secret


class ResourceNotFoundError(Exception):
    pass


class NotFound(Exception):
    status = 404


class Response:
    def __init__(self, body):
        self.data = json.dumps(body).encode()


class Client:
    """Lists and gets like kube-apiserver (one page), for the kinds it serves."""

    def __init__(self, objects, kinds=("Deployment", "Issuer", "ClusterIssuer", "Secret", "Certificate"), fail=None):
        self.objects, self.kinds, self.fail = objects, kinds, fail

    def resource(self, kind, api_version):
        if kind not in self.kinds:
            raise ResourceNotFoundError(kind)
        return kind

    def get(self, resource, **params):
        if self.fail:
            raise self.fail
        items = [o for o in self.objects if o["kind"] == resource]
        if params.get("namespace"):
            items = [o for o in items if o["metadata"].get("namespace") == params["namespace"]]
        if params.get("name"):
            found = [o for o in items if o["metadata"]["name"] == params["name"]]
            if not found:
                raise NotFound(params["name"])
            return Response(found[0])
        if params.get("label_selector"):
            name, value = params["label_selector"].split("=")
            items = [o for o in items if (o["metadata"].get("labels") or {}).get(name) == value]
        return Response({"items": items, "metadata": {}})


def _obj(kind, namespace, name, condition=None, status="True", generation=1, seen=1, labels=None, **extra):
    obj = {"kind": kind, "metadata": {"name": name, "generation": generation, "labels": labels or {}}, "status": {}}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if condition:
        obj["status"] = {"observedGeneration": seen, "conditions": [{"type": condition, "status": status}]}
    obj.update(extra)
    return obj


def _helm_secret(*args):
    secret = _release_secret(*args)
    secret["metadata"]["labels"] = {"owner": "helm"}
    return secret


CLUSTER = [
    _obj("Deployment", "cert-manager", "cert-manager-webhook", "Available"),
    _obj("Deployment", "cert-manager", "cert-manager-istio-csr", "Available", status="False"),
    # Updated, not rolled out yet: its Available=True describes the previous generation.
    _obj("Deployment", "istio-system", "istiod", "Available", generation=2, seen=1),
    _obj("Deployment", "elsewhere", "not-observed", "Available"),
    _obj("ClusterIssuer", None, "istio-ca", "Ready"),
    _obj("Issuer", "istio-system", "local-ca", "Ready", status="False"),
    _obj("Secret", "cert-manager", "istio-root-ca"),
    _helm_secret("cert-manager", "cert-manager", 1, "deployed", "cert-manager", "v1.21.1", {"crds": {"enabled": True}}),
    _obj("Certificate", "istio-system", "probe", "Ready", labels={"app.kubernetes.io/managed-by": "certmesh.istio"},
         apiVersion="cert-manager.io/v1",
         spec={"secretName": "probe", "duration": "1h", "usages": ["server auth"], "privateKey": {"size": 2048}}),
    _obj("Certificate", "istio-system", "other", "Ready"),
]


@pytest.fixture()
def view():
    return cluster_view.observe(Client(CLUSTER), ["cert-manager", "istio-system"],
                                [{"namespace": "cert-manager", "name": "istio-root-ca"},
                                 {"namespace": "cert-manager", "name": "missing"}],
                                "app.kubernetes.io/managed-by=certmesh.istio")


def test_the_view_says_ready_only_for_a_true_condition_of_the_current_generation(view):
    def ready(*args):
        return cluster_view.known_ready(view, *args)

    assert ready("apps/v1", "Deployment", "cert-manager", "cert-manager-webhook")
    assert not ready("apps/v1", "Deployment", "cert-manager", "cert-manager-istio-csr")
    assert not ready("apps/v1", "Deployment", "istio-system", "istiod")
    assert not ready("apps/v1", "Deployment", "elsewhere", "not-observed")
    assert ready("cert-manager.io/v1", "ClusterIssuer", "", "istio-ca")
    assert not ready("cert-manager.io/v1", "Issuer", "istio-system", "local-ca")
    assert not ready("other.io/v1", "ClusterIssuer", "", "istio-ca")
    assert ready("v1", "Secret", "cert-manager", "istio-root-ca")
    assert not ready("v1", "Secret", "cert-manager", "missing")


@pytest.mark.parametrize("observed", [{}, None, "text", {"ready": []}, {"ready": {"apps/Deployment/a/b": "yes"}}])
def test_an_empty_or_odd_view_knows_nothing(observed):
    assert cluster_view.known_ready(observed, "apps/v1", "Deployment", "a", "b") is False
    assert cluster_view.covers_releases(observed, [CERT_MANAGER]) is False


def test_the_view_holds_release_summaries_without_values(view):
    summary = view["helm_releases"]["cert-manager/cert-manager"]
    assert summary["status"] == "deployed" and summary["chart_version"] == "v1.21.1"
    assert "enabled" not in json.dumps(view)
    assert cluster_view.covers_releases(view, [CERT_MANAGER])
    assert not cluster_view.covers_releases(view, [dict(CERT_MANAGER, namespace="elsewhere")])
    from ansible_collections.certmesh.istio.plugins.module_utils.noop import helm_releases_to_apply
    assert helm_releases_to_apply([CERT_MANAGER], view["helm_releases"]) == []
    changed = dict(CERT_MANAGER, values={"crds": {"enabled": False}})
    assert helm_releases_to_apply([changed], view["helm_releases"]) == [changed]


def test_the_view_lists_the_selected_certificates_and_knows_an_unchanged_probe(view):
    assert [c["metadata"]["name"] for c in view["certificates"]] == ["probe"]
    probe = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
             "metadata": {"name": "probe", "namespace": "istio-system",
                          "labels": {"app.kubernetes.io/managed-by": "certmesh.istio"}},
             "spec": {"secretName": "probe", "duration": "1h", "usages": ["server auth"], "privateKey": {"size": 2048}}}
    assert cluster_view.applied_unchanged(probe, view["certificates"])
    for changed in ({"duration": "2h"}, {"usages": ["server auth", "client auth"]}, {"privateKey": {"size": 4096}},
                    {"uris": ["spiffe://x"]}):
        assert not cluster_view.applied_unchanged(dict(probe, spec=dict(probe["spec"], **changed)), view["certificates"])
    assert not cluster_view.applied_unchanged(dict(probe, metadata=dict(probe["metadata"], name="gone")), view["certificates"])
    assert not cluster_view.applied_unchanged("probe", view["certificates"])


def test_not_ready_keeps_what_a_wait_would_still_wait_for():
    ready = _obj("Certificate", "a", "ready", "Ready")
    stale = _obj("Certificate", "a", "stale", "Ready", generation=3, seen=2)
    false = _obj("Certificate", "a", "false", "Ready", status="False")
    bare = _obj("Certificate", "a", "bare")
    assert cluster_view.not_ready([ready, stale, false, bare, "odd"]) == [stale, false, bare, "odd"]


def test_kinds_the_cluster_does_not_serve_yet_read_as_empty():
    view = cluster_view.observe(Client([], kinds=("Deployment", "Secret")), ["cert-manager"], [])
    assert view == {"namespaces": ["cert-manager"], "ready": {}, "helm_releases": {}}


def test_a_failing_read_raises_a_kube_error_naming_what_was_read():
    with pytest.raises(kube.KubeError, match="Deployment in cert-manager"):
        cluster_view.observe(Client([], fail=Exception("forbidden")), ["cert-manager"], [])
