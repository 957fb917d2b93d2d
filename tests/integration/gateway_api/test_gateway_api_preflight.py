"""Against the emulator, the gateway_certs checks refuse Gateway API CRDs older than v1.5 before
anything is written, saying which version they found and how to upgrade; v1.5 passes."""

import copy
import sys

import pytest
import yaml

from tests.emulators.kube_api import upstream_crds
from tests.support.playbook import playbook_env, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gateway_api_preflight")]


def _aged_gateway_api_crds(version):
    crds = copy.deepcopy(upstream_crds(("gateway-api",)))
    for crd in crds:
        crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = version
    return crds


def _check(tmp_path, cluster):
    play = [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, "certmesh_cluster_name": "cluster1",
                 "certmesh_kubeconfig": cluster.kubeconfig, "certmesh_kube_context": cluster.context,
                 "gateway_certs_api": "gateway-api"},
        "tasks": [{"name": "Check the gateway certificates",
                   "ansible.builtin.import_role": {"name": "certmesh.istio.gateway_certs", "tasks_from": "validate"}}],
    }]
    playbook = tmp_path / "check.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    return run_playbook(str(playbook), "-i", "localhost,", tmp_path=tmp_path,
                        env=playbook_env(tmp_path, **cluster.env), timeout=300)


def test_gateway_api_crds_older_than_v1_5_are_refused_and_v1_5_passes(tmp_path, kube_emulator):
    kube_emulator.emulator.apply_crds(_aged_gateway_api_crds("v1.2.1"))
    refused = _check(tmp_path, kube_emulator)
    assert refused.returncode != 0
    assert "gateways.gateway.networking.k8s.io in cluster cluster1 is Gateway API version v1.2.1" in refused.stdout
    assert "standard-install.yaml" in refused.stdout and "Traceback" not in refused.stdout + refused.stderr

    kube_emulator.emulator.apply_crds(upstream_crds(("gateway-api",)))
    accepted = _check(tmp_path, kube_emulator)
    assert accepted.returncode == 0, accepted.stdout[-3000:]
