"""Ambient mode's Helm values and objects: built as data, and only keys the upstream charts know."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import jsonschema
import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders
from tests.support.object_shape import carries, key_paths
from tests.support.istio_charts import unknown_keys
from tests.support.upstream import helm_values_schema

CA_ADDRESS = "cert-manager-istio-csr.cert-manager.svc:443"
ZTUNNEL_INPUTS = dict(ca_address=CA_ADDRESS, cluster_name="cluster1", network="network1", revision="",
                      istio_namespace="istio-system")
ISTIOD_INPUTS = dict(ca_address=CA_ADDRESS, mesh_id="mesh1", cluster_name="cluster1", network="network1",
                     revision="", trust_domain="cluster.local")
PAYLOAD = "\nextra: injected\n- listed: item"


def _merged(base, override):
    """``ansible.builtin.combine(..., recursive=true)``, as the istio role merges the two."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_the_key_walk_names_a_key_the_chart_does_not_declare():
    assert unknown_keys("ztunnel", {"caAddress": "x", "multiCluster": {"clusterName": "a", "clusterID": "b"},
                                    "profile": "ambient"}) == ["multiCluster.clusterID", "profile"]
    assert unknown_keys("istiod", {"pilot": {"envs": {}}, "env": {"ANY": "1"}}) == ["pilot.envs"]


def test_ambient_istiod_values_use_only_keys_of_the_istiod_chart():
    values = _merged(builders.istiod_values(**ISTIOD_INPUTS), builders.istiod_ambient_values())
    assert values["pilot"]["env"] == {"ENABLE_CA_SERVER": "false", "PILOT_ENABLE_AMBIENT": "true"}
    assert unknown_keys("istiod", values) == []


@pytest.mark.parametrize("revision", ["", "canary"])
def test_istio_cni_and_ztunnel_values_use_only_keys_of_their_charts(revision):
    cni = builders.istio_cni_values(revision=revision)
    inputs = dict(ZTUNNEL_INPUTS)
    inputs["revision"] = revision
    ztunnel = builders.ztunnel_values(**inputs)
    assert cni["ambient"] == {"enabled": True}
    assert unknown_keys("cni", cni) == [] and unknown_keys("ztunnel", ztunnel) == []
    assert ("revision" in ztunnel) is bool(revision) and ("revision" in cni) is bool(revision)


def test_base_values_of_ambient_mode_use_only_keys_of_the_base_chart():
    # The istio role gives base the same values in both modes.
    assert unknown_keys("base", {"defaultRevision": "default"}) == []


def test_ztunnel_asks_istio_csr_for_certificates_as_istiod_tells_sidecars_to():
    ztunnel = builders.ztunnel_values(**ZTUNNEL_INPUTS)
    istiod = builders.istiod_values(**ISTIOD_INPUTS)
    assert ztunnel["caAddress"] == istiod["global"]["caAddress"] == CA_ADDRESS
    assert ztunnel["multiCluster"]["clusterName"] == istiod["global"]["multiCluster"]["clusterName"]


def test_istio_csr_trusts_the_ztunnel_service_account_as_a_node_account_in_the_charts_format():
    values = builders.istio_csr_ambient_values(istio_namespace="mesh-system")
    assert values == {"app": {"server": {"caTrustedNodeAccounts": "mesh-system/ztunnel"}}}
    merged = {"app": {"server": dict(values["app"]["server"], clusterID="cluster1")}}
    jsonschema.validate(merged, helm_values_schema("istio-csr"))


def test_ambient_namespaces_are_labelled_for_the_ambient_data_plane_once_each():
    objects = builders.ambient_namespace_objects(["apps", "payments", "apps"])
    assert [o["metadata"]["name"] for o in objects] == ["apps", "payments"]
    assert all(o["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient" for o in objects)
    assert builders.ambient_namespace_objects([]) == []


def _tainted(value):
    if isinstance(value, list):
        return [_tainted(item) for item in value]
    return value + PAYLOAD if isinstance(value, str) and value else value


@pytest.mark.parametrize("builder,inputs", [
    (builders.ztunnel_values, ZTUNNEL_INPUTS),
    (builders.istio_cni_values, {"revision": "canary"}),
    (builders.istio_csr_ambient_values, {"istio_namespace": "istio-system"}),
    (builders.ambient_namespace_objects, {"namespaces": ["apps"]}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_payload_in_an_ambient_input_leaves_the_shape_unchanged(builder, inputs):
    plain = builder(**inputs)
    loaded = builder(**{key: _tainted(value) for key, value in inputs.items()})
    assert key_paths(loaded) == key_paths(plain)
    assert any(carries(document, PAYLOAD) for document in (loaded if isinstance(loaded, list) else [loaded]))


def test_the_ambient_builders_are_reachable_from_the_filters():
    assert {"istiod_ambient", "istio_cni", "ztunnel", "istio_csr_ambient"} <= set(builders.VALUES_BUILDERS)
    assert "ambient_namespaces" in builders.OBJECT_BUILDERS
