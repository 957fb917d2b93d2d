"""site.yml in apply mode with Gateway API gateways and trust-manager: it installs the supplied
Gateway API CRDs, converges (verify included: gateway credentials and the trust bundle) and a
second run changes nothing."""

import pytest

from tests.emulators.cert_manager_ca import CertManagerCAStandIn
from tests.emulators.kube_api import upstream_dir
from tests.emulators.trust_manager import TrustManagerStandIn
from tests.integration.apply.test_site_apply import _failure, apply_run  # noqa: F401  pylint: disable=unused-import
from tests.support.playbook import recap
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gateway_api_trust_manager_apply")]


def test_site_with_gateway_api_and_trust_manager_converges_verifies_and_is_idempotent(
        kube_emulator_factory, apply_run, tmp_path):  # noqa: F811
    cluster = kube_emulator_factory("east", crds=False, controllers=[CertManagerCAStandIn(), TrustManagerStandIn()])
    extra = {"gateway_certs_api": "gateway-api", "gateway_certs_gateway_namespace": "ingress",
             "gateway_certs_gateway_api_crds_install": True,
             "gateway_certs_gateway_api_crds_dir": str(upstream_dir() / "gateway-api" / "crds"),
             "certmesh_trust_manager_enabled": True}
    first = apply_run([cluster], extra_vars=extra)
    assert first.returncode == 0, _failure(first)

    api = cluster.emulator
    gateway = api.get("gateway.networking.k8s.io/v1", "Gateway", "mesh-gateway", "ingress")
    assert gateway["spec"]["listeners"][0]["tls"]["certificateRefs"][0] == {
        "group": "", "kind": "Secret", "name": "app-tls", "namespace": "istio-system"}
    assert api.get("gateway.networking.k8s.io/v1", "ReferenceGrant", "ingress-mesh-gateway-tls", "istio-system")
    root = (tmp_path / "out" / "test" / "mesh-root" / "root-ca.crt").read_text()
    bundle = api.get("trust.cert-manager.io/v1alpha1", "Bundle", "istio-mesh-roots")
    assert [mesh_trust.fingerprints(s["inLine"]) for s in bundle["spec"]["sources"]] == [mesh_trust.fingerprints(root)]
    written = api.get("v1", "ConfigMap", "istio-mesh-roots", "cert-manager")["data"]["ca.pem"]
    assert mesh_trust.fingerprints(written) == mesh_trust.fingerprints(root)

    second = apply_run([cluster], extra_vars=extra)
    assert second.returncode == 0, _failure(second)
    assert recap(second.stdout)["east"]["changed"] == 0, _failure(second)
