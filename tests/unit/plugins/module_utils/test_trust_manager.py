"""trust-manager: its Helm values validate against the chart's schema, the Bundle against the
upstream CRD, and verify fails a Bundle or ConfigMap that does not carry exactly the trusted roots."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import jsonschema
import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust
from tests.support.pki_factory import make_root
from tests.support.upstream import crd_validator, helm_default_values, helm_values_schema

SETTINGS = {"trust_bundle_name": "istio-mesh-roots", "cert_manager_namespace": "cert-manager"}


@pytest.fixture(scope="module")
def roots():
    return make_root("old mesh root"), make_root("new mesh root")


def _merged(base, override):
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _values_errors(values):
    merged = _merged(helm_default_values("trust-manager"), values)
    validator = jsonschema.Draft7Validator(helm_values_schema("trust-manager"))
    return sorted(e.message for e in validator.iter_errors(merged))


def test_trust_manager_values_validate_against_the_chart_schema():
    values = builders.trust_manager_values(trust_namespace="cert-manager", install_crds=True)
    assert _values_errors(values) == []
    assert values["defaultPackage"] == {"enabled": False}


def test_an_unknown_trust_manager_value_is_refused_by_the_chart_schema():
    values = builders.trust_manager_values(trust_namespace="cert-manager", install_crds=True)
    values["app"]["trust"]["nmespace"] = "typo"
    assert _values_errors(values) != []


def test_the_bundle_lists_each_root_once_in_order_and_validates_against_the_upstream_crd(roots):
    old, new = roots
    (bundle,) = builders.trust_manager_objects(bundle_name="istio-mesh-roots",
                                               trusted_root_pems=[old.pem.strip(), new.pem, old.pem.strip()], target_key="ca.pem")
    assert [mesh_trust.fingerprints(s["inLine"]) for s in bundle["spec"]["sources"]] == [
        mesh_trust.fingerprints(old.pem), mesh_trust.fingerprints(new.pem)]
    assert bundle["spec"]["target"] == {"configMap": {"key": "ca.pem"}}
    assert "namespace" not in bundle["metadata"]  # Bundles are cluster-scoped
    assert crd_validator(bundle["apiVersion"], bundle["kind"]).errors(bundle) == []


def test_istio_csr_pins_its_root_to_the_bundle_configmap_and_its_values_stay_valid():
    values = builders.istio_csr_trust_bundle_values(bundle_name="istio-mesh-roots", target_key="ca.pem",
                                                    root_ca_mount_path="/var/run/secrets/istio-csr")
    assert values["volumes"] == [{"name": "root-ca", "configMap": {"name": "istio-mesh-roots"}}]
    assert values["app"]["tls"]["rootCAFile"] == "/var/run/secrets/istio-csr/ca.pem"
    validator = jsonschema.Draft7Validator(helm_values_schema("istio-csr"))
    assert [e.message for e in validator.iter_errors(_merged(helm_default_values("istio-csr"), values))] == []


def _snapshot(bundle_pems, configmap_pems):
    bundle = builders.trust_manager_objects(bundle_name="istio-mesh-roots", trusted_root_pems=bundle_pems,
                                            target_key="ca.pem")[0]
    configmap = None if configmap_pems is None else {"data": {"ca.pem": "".join(p for p in configmap_pems)}}
    return {"trust_bundle": bundle, "trust_bundle_configmap": configmap}


def _expected(*issued):
    return [mesh_trust.fingerprints(i.pem)[0] for i in issued]


def test_a_bundle_and_configmap_carrying_old_and_new_root_pass_during_a_rotation(roots):
    old, new = roots
    results = mesh_trust.check_trust_bundle("east", _snapshot([old.pem, new.pem], [old.pem, new.pem]),
                                            _expected(old, new), SETTINGS)
    assert [(r["ok"], r["check"]) for r in results] == [(True, "trust_bundle")]


def test_a_bundle_still_carrying_the_old_root_after_retire_fails_naming_the_unexpected_root(roots):
    old, new = roots
    (result,) = mesh_trust.check_trust_bundle("east", _snapshot([old.pem, new.pem], [old.pem, new.pem]),
                                              _expected(new), SETTINGS)
    assert not result["ok"] and result["object"] == "Bundle istio-mesh-roots"
    assert "unexpected certificate(s) %s" % _expected(old)[0] in result["message"]


def test_a_configmap_trust_manager_has_not_synced_fails_on_the_configmap(roots):
    old, new = roots
    (result,) = mesh_trust.check_trust_bundle("east", _snapshot([old.pem, new.pem], [old.pem]), _expected(old, new), SETTINGS)
    assert not result["ok"] and result["object"] == "ConfigMap cert-manager/istio-mesh-roots"
    assert "missing root(s)" in result["message"]


def test_a_missing_bundle_or_configmap_is_named(roots):
    old = roots[0]
    (missing,) = mesh_trust.check_trust_bundle("east", {"trust_bundle": None}, _expected(old), SETTINGS)
    assert not missing["ok"] and "does not exist" in missing["message"]
    (unsynced,) = mesh_trust.check_trust_bundle("east", _snapshot([old.pem], None), _expected(old), SETTINGS)
    assert not unsynced["ok"] and "is missing" in unsynced["message"]


def test_without_trust_manager_there_is_no_trust_bundle_check():
    assert mesh_trust.check_trust_bundle("east", {}, [], {"trust_bundle_name": None}) == []
