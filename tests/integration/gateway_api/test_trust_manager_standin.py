"""The helm stand-in knows the trust-manager chart strictly: the collection's values install it
(Bundle CRD, Deployment), a key the chart's schema does not know is refused as helm refuses it."""

import pytest
import yaml

from tests.integration.test_kube_emulator_helm import helm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders

pytestmark = pytest.mark.slow


def test_trust_manager_installs_with_the_collections_values_and_refuses_an_unknown_key(helm, tmp_path):  # noqa: F811
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(builders.trust_manager_values(trust_namespace="cert-manager", install_crds=True)))
    helm("install", "trust-manager", "trust-manager", "--repo", "https://charts.jetstack.io", "--version", "v0.24.0",
         "-n", "cert-manager", "--create-namespace", "--values=%s" % values)
    emulator = helm.cluster.emulator
    assert emulator.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "bundles.trust.cert-manager.io")
    deployment = emulator.get("apps/v1", "Deployment", "trust-manager", "cert-manager")
    assert "--trust-namespace=cert-manager" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]

    refused = helm("upgrade", "trust-manager", "trust-manager", "--repo", "https://charts.jetstack.io", "-n", "cert-manager",
                   "--values=%s" % values, "--set", "app.trust.nmespace=typo", check=False)
    assert refused.returncode == 1
    assert "values don't meet the specifications of the schema(s)" in refused.stderr
