"""playbooks/site.yml in ambient mode against the Kubernetes API emulator and the helm stand-in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import gzip
import json

import pytest

from tests.integration.apply.test_site_apply import _failure, apply_run  # noqa: F401 pylint: disable=unused-import
from tests.support.playbook import recap

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site_apply_ambient")]

AMBIENT_VARS = {"certmesh_istio_mode": "ambient", "istio_ambient_namespaces": ["apps"]}
CSR = "cert-manager-istio-csr.cert-manager.svc:443"


def _release_config(api, namespace, name):
    secrets = api.list("v1", "Secret", namespace, label_selector="owner=helm,name=%s,status=deployed" % name)
    assert len(secrets) == 1, name
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secrets[0]["data"]["release"]))))["config"]


def test_an_ambient_cluster_converges_and_verifies_ztunnel_and_its_namespaces(kube_emulator_factory, apply_run):
    cluster = kube_emulator_factory("east", crds=False)
    first = apply_run([cluster], extra_vars=AMBIENT_VARS)
    assert first.returncode == 0, _failure(first)
    assert recap(first.stdout)["east"]["failed"] == 0
    assert "Check ztunnel and the ambient namespaces of east" in first.stdout

    api = cluster.emulator
    ztunnel = api.get("apps/v1", "DaemonSet", "ztunnel", "istio-system")
    env = {e["name"]: e["value"] for e in ztunnel["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CA_ADDRESS"] == CSR and env["CLUSTER_ID"] == "east"
    assert api.get("apps/v1", "DaemonSet", "istio-cni-node", "istio-system") is not None
    assert api.get("v1", "Namespace", "apps")["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    csr_values = _release_config(api, "cert-manager", "cert-manager-istio-csr")
    assert csr_values["app"]["server"]["caTrustedNodeAccounts"] == "istio-system/ztunnel"
    probe = api.get("cert-manager.io/v1", "Certificate", "certmesh-verify-ambient-apps", "istio-system")
    assert probe["spec"]["uris"] == ["spiffe://cluster.local/ns/apps/sa/certmesh-verify"]
    assert api.get("v1", "Secret", "certmesh-verify-ambient-apps", "istio-system") is not None
