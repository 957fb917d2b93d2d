"""site.yml renders an ambient mesh: istio-cni and ztunnel beside istiod, all values upstream keys (in the
render shared with the Gateway API and trust-manager tests, see conftest.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from tests.integration.render.test_site_render import BUILTIN_KINDS, helm_values_errors
from tests.support.istio_charts import unknown_keys
from tests.integration.render.conftest import XDIST_GROUP
from tests.support.playbook import recap
from tests.support.upstream import crd_validator, known_custom_kinds

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(XDIST_GROUP)]

KEY_CHECKED_CHARTS = {"base": "base", "istiod": "istiod", "cni": "cni", "ztunnel": "ztunnel"}
CSR = "cert-manager-istio-csr.cert-manager.svc:443"


@pytest.fixture(name="ambient_render")
def _ambient_render(ambient_gateway_trust_render):
    return ambient_gateway_trust_render


def _releases(cluster_dir):
    """chart -> (release, values) from each component's kustomize ``helmCharts`` entries."""
    found = {}
    for kustomization in cluster_dir.glob("*/helm/kustomization.yaml"):
        for entry in yaml.safe_load(kustomization.read_text()).get("helmCharts") or []:
            release = {"chart": entry["name"], "release": entry["releaseName"], "namespace": entry["namespace"]}
            found[entry["name"]] = (release, yaml.safe_load((kustomization.parent / entry["valuesFile"]).read_text()))
    return found


def test_second_ambient_run_changes_nothing(ambient_render):
    assert recap(ambient_render["first"].stdout)["cluster1"]["changed"] > 0
    assert recap(ambient_render["second"].stdout)["cluster1"]["changed"] == 0


def test_ambient_installs_istio_cni_and_ztunnel_beside_base_and_istiod(ambient_render):
    releases = _releases(ambient_render["cluster"])
    assert {"base", "istiod", "cni", "ztunnel"} <= set(releases)
    assert releases["cni"][0]["release"] == "istio-cni" and releases["ztunnel"][0]["release"] == "ztunnel"


def test_istiod_and_ztunnel_ask_istio_csr_for_certificates(ambient_render):
    releases = _releases(ambient_render["cluster"])
    istiod, ztunnel = releases["istiod"][1], releases["ztunnel"][1]
    assert istiod["global"]["caAddress"] == ztunnel["caAddress"] == CSR
    assert istiod["pilot"]["env"] == {"ENABLE_CA_SERVER": "false", "PILOT_ENABLE_AMBIENT": "true"}
    assert releases["cni"][1]["ambient"]["enabled"] is True


def test_istio_csr_trusts_ztunnel_as_a_node_account_within_its_chart_schema(ambient_render):
    values = _releases(ambient_render["cluster"])["cert-manager-istio-csr"][1]
    assert values["app"]["server"]["caTrustedNodeAccounts"] == "istio-system/ztunnel"
    assert helm_values_errors("istio-csr", values) == []


def test_istio_chart_values_use_only_keys_the_upstream_charts_declare(ambient_render):
    releases = _releases(ambient_render["cluster"])
    for chart, checked in KEY_CHECKED_CHARTS.items():
        assert unknown_keys(checked, releases[chart][1]) == [], chart


def test_gateway_api_mode_installs_no_ingress_gateway_chart(ambient_render):
    assert "gateway" not in _releases(ambient_render["cluster"])


def test_ambient_namespaces_are_rendered_with_the_dataplane_label(ambient_render):
    folder = ambient_render["cluster"] / "istio_ambient"
    namespaces = [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))
                  if path.name != "kustomization.yaml"]
    assert sorted(n["metadata"]["name"] for n in namespaces) == ["apps", "payments"]
    assert all(n["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient" for n in namespaces)


def test_every_rendered_custom_resource_of_an_ambient_mesh_validates_against_its_crd(ambient_render):
    checked = 0
    for path in sorted(ambient_render["cluster"].glob("*/*.yaml")):
        if path.name == "kustomization.yaml" or path.name.startswith("helm-"):
            continue
        obj = yaml.safe_load(path.read_text())
        key = (obj["apiVersion"], obj["kind"])
        if key in BUILTIN_KINDS:
            continue
        assert key in known_custom_kinds(), path
        assert crd_validator(*key).errors(obj) == [], path
        checked += 1
    assert checked >= 5
