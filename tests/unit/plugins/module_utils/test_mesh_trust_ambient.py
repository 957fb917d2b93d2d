"""Ambient checks over plain objects: ztunnel ready on every node and asking istio-csr, namespaces labelled."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust_ambient as ambient

SETTINGS = {"istio_namespace": "istio-system", "istio_csr_name": "cert-manager-istio-csr",
            "cert_manager_namespace": "cert-manager"}
CSR = "cert-manager-istio-csr.cert-manager.svc:443"


def _ztunnel(ready=3, desired=3, ca_address=CSR, generation=1, observed=1):
    return {"metadata": {"name": "ztunnel", "namespace": "istio-system", "generation": generation},
            "spec": {"template": {"spec": {"containers": [{"name": "ztunnel",
                                                           "env": [{"name": "CA_ADDRESS", "value": ca_address}]}]}}},
            "status": {"desiredNumberScheduled": desired, "numberReady": ready, "updatedNumberScheduled": desired,
                       "observedGeneration": observed}}


def _namespace(name, mode="ambient"):
    labels = {"istio.io/dataplane-mode": mode} if mode else {}
    return {"metadata": {"name": name, "labels": labels}}


def _snap(**changes):
    snap = {"ztunnel": _ztunnel(), "ambient_namespaces": {"apps": _namespace("apps")}}
    snap.update(changes)
    return snap


def _by_check(results):
    return dict((item["check"] + " " + item["object"], item) for item in results)


def test_a_ready_ztunnel_asking_istio_csr_and_labelled_namespaces_pass():
    results = ambient.ambient_checks("east", _snap(), SETTINGS)
    assert [(r["check"], r["ok"]) for r in results] == [("ztunnel_ready", True), ("ambient_namespaces", True)]
    assert results[0]["object"] == "DaemonSet istio-system/ztunnel"


def test_a_missing_ztunnel_fails_with_the_fix():
    result = ambient.check_ztunnel("east", _snap(ztunnel=None), SETTINGS)
    assert not result["ok"] and "does not exist" in result["message"]
    assert "certmesh_istio_mode=ambient" in result["cause"]


def test_a_ztunnel_not_ready_on_every_node_fails_and_says_how_many_are():
    result = ambient.check_ztunnel("east", _snap(ztunnel=_ztunnel(ready=2)), SETTINGS)
    assert not result["ok"] and "2 of 3 node(s) ready" in result["message"]


def test_a_ztunnel_whose_new_generation_is_not_yet_observed_is_not_ready():
    result = ambient.check_ztunnel("east", _snap(ztunnel=_ztunnel(generation=2, observed=1)), SETTINGS)
    assert not result["ok"] and "not yet observed" in result["message"]


def test_a_ztunnel_scheduled_on_no_node_is_not_ready():
    assert not ambient.check_ztunnel("east", _snap(ztunnel=_ztunnel(ready=0, desired=0)), SETTINGS)["ok"]


def test_a_ztunnel_asking_istiod_for_certificates_fails_naming_the_address():
    result = ambient.check_ztunnel("east", _snap(ztunnel=_ztunnel(ca_address="istiod.istio-system.svc:15012")), SETTINGS)
    assert not result["ok"] and "'istiod.istio-system.svc:15012'" in result["message"]
    assert "caAddress" in result["cause"]


def test_a_missing_or_unlabelled_ambient_namespace_fails_each_on_its_own():
    snap = _snap(ambient_namespaces={"apps": _namespace("apps"), "gone": None, "shop": _namespace("shop", "none"),
                                     "bare": _namespace("bare", None)})
    results = _by_check(ambient.check_ambient_namespaces("east", snap))
    assert results["ambient_namespaces Namespace apps"]["ok"]
    assert "does not exist" in results["ambient_namespaces Namespace gone"]["message"]
    assert "labelled istio.io/dataplane-mode='none'" in results["ambient_namespaces Namespace shop"]["message"]
    assert not results["ambient_namespaces Namespace bare"]["ok"]


def test_no_ambient_namespace_asked_means_only_the_ztunnel_check():
    results = ambient.ambient_checks("east", _snap(ambient_namespaces={}), SETTINGS)
    assert [r["check"] for r in results] == ["ztunnel_ready"]


def test_checks_do_not_change_the_snapshot():
    snap = _snap()
    before = copy.deepcopy(snap)
    ambient.ambient_checks("east", snap, SETTINGS)
    assert snap == before
