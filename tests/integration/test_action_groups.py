# -*- coding: utf-8 -*-
"""module_defaults for group/certmesh.istio.cluster configure our cluster-reading modules and
kubernetes.core's modules alike (the group extends kubernetes.core's k8s group), against the
Kubernetes API emulator; without the defaults the same tasks cannot reach the cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest
import yaml

from tests.support.pki_factory import MeshPKI, bundle, make_gateway_cert
from tests.support.playbook import REPO_ROOT, playbook_env, recap, run_playbook

pytestmark = pytest.mark.slow

TASKS = [
    {"name": "Read the Secret with kubernetes.core", "kubernetes.core.k8s_info": {
        "kind": "Secret", "namespace": "istio-ingress", "name": "shop-gateway-tls"}, "register": "core_read"},
    {"name": "Verify the Secret's chain with certmesh.istio", "certmesh.istio.chain_verify": {
        "secret": {"namespace": "istio-ingress", "name": "shop-gateway-tls"}, "roots": "{{ mesh_root_pem }}",
        "purpose": "gateway", "dns_names": ["shop.example.com"]}, "register": "ours"},
]
CLUSTER_DEFAULTS = {"kubeconfig": "{{ emulator_kubeconfig }}", "context": "{{ emulator_context }}"}
PLAYBOOK = [
    {"name": "Connection options set once for the cluster group", "hosts": "localhost", "gather_facts": False,
     "module_defaults": {"group/certmesh.istio.cluster": CLUSTER_DEFAULTS},
     "tasks": TASKS + [{"name": "Both read the cluster", "ansible.builtin.assert": {"that": [
         "core_read.resources | length == 1", "ours.valid", "ours.chain | length >= 2"]}}]},
    {"name": "The same tasks without module_defaults", "hosts": "localhost", "gather_facts": False,
     "tasks": [dict(task, ignore_errors=True, register="without_%d" % index) for index, task in enumerate(TASKS)]
     + [{"name": "Neither reaches the cluster", "ansible.builtin.assert": {"that": [
         "without_0 is failed", "without_1 is failed"]}}]},
]


@pytest.fixture
def gateway_secret(kube_emulator):
    mesh = MeshPKI()
    api = kube_emulator.emulator
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-ingress"}})
    leaf = make_gateway_cert(mesh.intermediate)
    api.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"namespace": "istio-ingress", "name": "shop-gateway-tls"},
                "data": {"tls.crt": base64.b64encode(bundle(leaf, mesh.intermediate).encode()).decode(),
                         "tls.key": base64.b64encode(leaf.key_pem.encode()).decode()}})
    return kube_emulator, mesh


def test_module_defaults_of_the_cluster_group_reach_our_modules_and_kubernetes_cores(gateway_secret, tmp_path):
    cluster, mesh = gateway_secret
    playbook = tmp_path / "groups.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    env = playbook_env(tmp_path, TMPDIR=cluster.tmpdir, KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    for name in [key for key in env if key.startswith("K8S_AUTH_")]:
        del env[name]
    result = run_playbook(str(playbook), "-i", "localhost,", "-c", "local", env=env, tmp_path=tmp_path,
                          extra_vars={"emulator_kubeconfig": cluster.kubeconfig, "emulator_context": cluster.context,
                                      "mesh_root_pem": mesh.root.pem,
                                      "ansible_python_interpreter": "{{ ansible_playbook_python }}"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert recap(result.stdout)["localhost"]["failed"] == 0
    assert "ignored=2" in result.stdout  # the play without module_defaults ran, and both tasks failed


def test_the_cluster_group_extends_kubernetes_cores_k8s_group_and_the_vault_group_holds_the_vault_modules():
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    groups = runtime["action_groups"]
    assert {"metadata": {"extend_group": ["kubernetes.core.k8s"]}} in groups["cluster"]
    modules = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py"))
    for name in modules:
        source = (REPO_ROOT / "plugins" / "modules" / ("%s.py" % name)).read_text()
        if "AUTH_ARG_SPEC" in source:
            assert name in groups["cluster"], name
        if "vault_connection" in source:
            assert name in groups["vault"], name
    assert json.dumps(groups).count("certmesh.istio.") == 0  # members are named relative to the collection
