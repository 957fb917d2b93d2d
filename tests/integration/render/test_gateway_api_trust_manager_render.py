"""site.yml renders Gateway API gateways and the trust-manager Bundle (in the render shared with the
ambient tests, see conftest.py): every object validates
against the upstream CRDs, the charts' values against their schemas, and a second run changes nothing."""

import pytest
import yaml

from tests.integration.render.test_site_render import BUILTIN_KINDS, _objects, helm_values_errors, kinds_preflight_does_not_observe
from tests.integration.render.conftest import XDIST_GROUP
from tests.support.playbook import recap
from tests.support.upstream import crd_validator, known_custom_kinds

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(XDIST_GROUP)]

CHARTS_WITH_SCHEMA = {"cert-manager": "cert-manager", "cert-manager-istio-csr": "istio-csr", "trust-manager": "trust-manager"}


@pytest.fixture(name="rendered")
def _rendered(ambient_gateway_trust_render):
    return ambient_gateway_trust_render


def test_a_second_render_with_gateway_api_and_trust_manager_changes_nothing(rendered):
    assert recap(rendered["second"].stdout)["cluster1"]["changed"] == 0


def test_the_gateway_api_objects_and_the_bundle_are_rendered_and_validate_against_the_upstream_crds(rendered):
    kinds = set()
    for path, obj in _objects(rendered["cluster"]):
        key = (obj["apiVersion"], obj["kind"])
        kinds.add(key)
        if key in BUILTIN_KINDS:
            continue
        assert key in known_custom_kinds(), "%s: no upstream CRD defines %s" % (path, key)
        assert crd_validator(*key).errors(obj) == [], path
    assert {("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
            ("gateway.networking.k8s.io/v1", "ReferenceGrant"), ("trust.cert-manager.io/v1alpha1", "Bundle")} <= kinds
    assert ("networking.istio.io/v1", "Gateway") not in kinds
    assert kinds_preflight_does_not_observe([obj for _path, obj in _objects(rendered["cluster"])]) == []


def test_the_trust_manager_and_istio_csr_values_validate_against_their_chart_schemas(rendered):
    checked = set()
    for kustomization in rendered["cluster"].glob("*/helm/kustomization.yaml"):
        for chart in yaml.safe_load(kustomization.read_text()).get("helmCharts") or []:
            if chart["name"] in CHARTS_WITH_SCHEMA:
                values = yaml.safe_load((kustomization.parent / chart["valuesFile"]).read_text())
                assert helm_values_errors(CHARTS_WITH_SCHEMA[chart["name"]], values) == [], kustomization
                checked.add(chart["name"])
    assert checked == set(CHARTS_WITH_SCHEMA)


def test_istio_csr_pins_its_root_to_the_bundle_configmap(rendered):
    values = yaml.safe_load((rendered["cluster"] / "istio_csr" / "helm" / "cert-manager-istio-csr.values.yaml").read_text())
    assert values["volumes"] == [{"name": "root-ca", "configMap": {"name": "istio-mesh-roots"}}]
    bundle = yaml.safe_load((rendered["cluster"] / "trust_bundle" / "bundle.istio-mesh-roots.yaml").read_text())
    root = rendered["cluster"].parent / "mesh-root" / "root-ca.crt"
    assert [source["inLine"].strip() for source in bundle["spec"]["sources"]] == [root.read_text().strip()]
