"""Gateway API: the Gateway, its redirect route and ReferenceGrant are built as data, validate
against the upstream v1.5 CRDs, and preflight refuses CRDs older than v1.5 saying what it found."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import functools

import pytest
import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders
from ansible_collections.certmesh.istio.plugins.module_utils import preflight
from tests.support.object_shape import carries, key_paths
from tests.support.upstream import crd_validator, upstream_dir
from tests.unit.plugins.module_utils.test_desired_objects import PAYLOADS, _payload_strings, _with_payload

ISSUER = {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
DEFAULTS = dict(
    namespace="istio-system", gateway_namespace="istio-system",
    hosts=[{"name": "app", "dns_names": ["app.example.com"]}], default_issuer=ISSUER,
    duration="2160h", renew_before="720h", private_key_algorithm="ECDSA", private_key_size=256,
    gateway_name="mesh-gateway", gateway_class="istio", allowed_routes="Same", https_redirect=True)
CROSS_NAMESPACE = {**DEFAULTS, "gateway_namespace": "ingress", "hosts": [
    {"name": "app.v2", "dns_names": ["app.example.com", "www.example.com"], "secret_name": "app-cert"},
    {"name": "api", "dns_names": ["api.example.com"]}]}


def _by_kind(objects):
    return {(o["apiVersion"], o["kind"]): o for o in objects}


def test_the_default_gateway_api_objects_are_the_certificate_the_gateway_and_the_redirect_route():
    objects = builders.gateway_api_objects(**DEFAULTS)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Certificate", "app"), ("Gateway", "mesh-gateway"), ("HTTPRoute", "mesh-gateway-https-redirect")]
    gateway = objects[1]
    assert gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert gateway["spec"]["gatewayClassName"] == "istio"
    https = gateway["spec"]["listeners"][0]
    assert https["tls"] == {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "app-tls"}]}
    assert https["hostname"] == "app.example.com"


def test_a_gateway_in_another_namespace_gets_a_reference_grant_for_exactly_its_secrets():
    objects = _by_kind(builders.gateway_api_objects(**CROSS_NAMESPACE))
    grant = objects[("gateway.networking.k8s.io/v1", "ReferenceGrant")]
    assert grant["metadata"]["namespace"] == "istio-system"
    assert grant["spec"]["from"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "ingress"}]
    assert [t["name"] for t in grant["spec"]["to"]] == ["app-cert", "api-tls"]
    gateway = objects[("gateway.networking.k8s.io/v1", "Gateway")]
    assert gateway["metadata"]["namespace"] == "ingress"
    refs = [l["tls"]["certificateRefs"][0] for l in gateway["spec"]["listeners"] if "tls" in l]
    assert {r["namespace"] for r in refs} == {"istio-system"}
    assert [l["name"] for l in gateway["spec"]["listeners"]] == ["https-app-v2-0", "https-app-v2-1", "https-api", "http"]


def test_a_gateway_beside_its_secrets_needs_no_reference_grant():
    kinds = [o["kind"] for o in builders.gateway_api_objects(**DEFAULTS)]
    assert "ReferenceGrant" not in kinds and "Namespace" not in kinds


def test_without_https_redirect_there_is_no_plain_listener_and_no_route():
    inputs = {**DEFAULTS, "https_redirect": False}
    objects = builders.gateway_api_objects(**inputs)
    assert [o["kind"] for o in objects] == ["Certificate", "Gateway"]
    assert [l["protocol"] for l in objects[1]["spec"]["listeners"]] == ["HTTPS"]


@pytest.mark.parametrize("inputs", [DEFAULTS, CROSS_NAMESPACE], ids=["beside", "cross-namespace"])
def test_every_gateway_api_object_validates_against_the_upstream_crds(inputs):
    for obj in builders.gateway_api_objects(**inputs):
        if obj["apiVersion"] == "v1":
            continue
        validator = crd_validator(obj["apiVersion"], obj["kind"])
        assert validator is not None, obj["kind"]
        assert validator.errors(obj) == [], obj["kind"]


def test_a_listener_without_certificate_refs_fails_the_upstream_gateway_schema():
    gateway = _by_kind(builders.gateway_api_objects(**DEFAULTS))[("gateway.networking.k8s.io/v1", "Gateway")]
    broken = copy.deepcopy(gateway)
    broken["spec"]["listeners"][0]["tls"]["mode"] = "Passthrough-ish"
    assert crd_validator("gateway.networking.k8s.io/v1", "Gateway").errors(broken) != []


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_a_payload_in_every_gateway_api_input_leaves_the_shape_unchanged(payload):
    plain = builders.gateway_api_objects(**CROSS_NAMESPACE)
    inputs = _with_payload(copy.deepcopy(CROSS_NAMESPACE), payload)
    loaded = builders.gateway_api_objects(**inputs)
    assert key_paths(loaded) == key_paths(plain)
    for text in _payload_strings(inputs):
        assert carries(loaded, text), text


# Preflight -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _upstream_gateway_api_crd_heads():
    """What preflight reads of the upstream CRDs (kind, name, annotations), parsed once."""
    heads = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted((upstream_dir() / "gateway-api" / "crds").glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=loader):  # nosec - safe loader
            if doc and doc.get("kind") == "CustomResourceDefinition":
                heads.append({"kind": doc["kind"], "metadata": doc["metadata"], "spec": {"group": doc["spec"]["group"]}})
    return heads


def _upstream_gateway_api_crds():
    return copy.deepcopy(_upstream_gateway_api_crd_heads())


def _aged(crds, version):
    aged = copy.deepcopy(crds)
    for crd in aged:
        crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = version
    return aged


def test_the_upstream_v1_5_crds_pass_the_gateway_api_preflight():
    assert preflight.check_gateway_api_crds(_upstream_gateway_api_crds()) == []


def test_gateway_api_crds_older_than_v1_5_are_refused_naming_the_version_found_and_the_upgrade():
    found = preflight.check_gateway_api_crds(_aged(_upstream_gateway_api_crds(), "v1.2.1"), "cluster cluster1")
    assert found and {p["code"] for p in found} == {"gateway_api_crds_too_old"}
    message = [p for p in found if "gateways.gateway" in p["object"]][0]["message"]
    assert "version v1.2.1" in message and "cluster cluster1" in message
    assert "standard-install.yaml" in message and "gateway_certs_gateway_api_crds_install" in message


def test_a_release_candidate_of_v1_5_passes_and_v1_4_does_not():
    assert preflight.check_gateway_api_crds(_aged(_upstream_gateway_api_crds(), "v1.5.0-rc.1")) == []
    assert preflight.check_gateway_api_crds(_aged(_upstream_gateway_api_crds(), "v1.4.9")) != []


def test_a_crd_without_the_bundle_version_annotation_is_refused_as_unknown():
    crds = _upstream_gateway_api_crds()
    del crds[0]["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
    found = preflight.check_gateway_api_crds(crds)
    assert [p["code"] for p in found] == ["gateway_api_crds_too_old"]
    assert "no gateway.networking.k8s.io/bundle-version annotation" in found[0]["message"]


def test_missing_gateway_api_crds_are_named():
    crds = [c for c in _upstream_gateway_api_crds() if c["metadata"]["name"] != "referencegrants.gateway.networking.k8s.io"]
    found = preflight.check_gateway_api_crds(crds)
    assert [p["code"] for p in found] == ["gateway_api_crds_missing"]
    assert "referencegrants.gateway.networking.k8s.io" in found[0]["message"]


@pytest.mark.parametrize("text", ["", "1.5.1", "v1.5", "vX.Y.Z", None, 15])
def test_a_bundle_version_that_is_not_vMAJOR_MINOR_PATCH_reads_as_none(text):
    assert preflight.gateway_api_version(text) is None
