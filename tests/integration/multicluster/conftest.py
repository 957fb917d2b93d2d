"""A converged three-cluster mesh, built once per test module (site.yml costs about a minute
per cluster on a loaded machine, so tests share it and put it back when they break it).

``mesh`` -> ``Mesh``: three ``KubeAPIEmulator`` clusters (``east``, ``west``, ``north``, no
CRDs up front: the charts install them, the Gateway API CRDs come from the upstream release
files) with the cert-manager CA stand-in whose istio-csr reads its pinned root from the mounted
volume (``tests/emulators/istio_csr_trust.py``) and the trust-manager stand-in
(``tests/emulators/trust_manager.py``), the helm stand-in, one inventory with the three clusters
in one mesh group in the modes users run today (``MODES``: ambient, Gateway API gateways,
trust-manager for the root bundle), a first ``playbooks/site.yml`` run stopped by a failing
cluster and a second one that converges all three. Tests that break the mesh put it back before
they end. The sidecar mode with Istio Gateways is applied by ``tests/integration/apply``.
"""

import base64
import json
import os
import pathlib
import shutil
import sys

import pytest
import yaml

from tests.emulators.kube_api import KubeAPIEmulator, upstream_dir
from tests.emulators.istio_csr_trust import MountedRootTrustStandIn
from tests.emulators.trust_manager import BUNDLE_API, TrustManagerStandIn
from tests.support.playbook import APPLY_TEST_CA, REPO_ROOT, playbook_env, run_playbook

CLUSTERS = ("east", "west", "north")
STANDIN_BIN = REPO_ROOT / "tests" / "emulators" / "bin"
# One run goes through three clusters one after the other (ambient: five charts and trust-manager
# each); under a loaded CI machine that is well over the ten minutes a one-cluster run may take.
RUN_TIMEOUT = 1800
BUNDLE = "istio-mesh-roots"
AMBIENT_NAMESPACE = "apps"


def modes():
    """Inventory variables of the mesh: ambient data plane, Gateway API gateways (CRDs installed
    from the upstream release), trust-manager publishing the mesh roots."""
    return {"certmesh_istio_mode": "ambient", "istio_ambient_namespaces": [AMBIENT_NAMESPACE],
            "gateway_certs_api": "gateway-api", "gateway_certs_gateway_namespace": "ingress",
            "gateway_certs_gateway_api_crds_install": True,
            "gateway_certs_gateway_api_crds_dir": str(upstream_dir() / "gateway-api" / "crds"),
            "certmesh_trust_manager_enabled": True}


class Cluster:
    """One emulated cluster: the emulator, its stand-in controller and kubeconfig."""

    def __init__(self, name, emulator, controller, kubeconfig):
        self.name = name
        self.emulator = emulator
        self.controller = controller
        self.kubeconfig = kubeconfig

    def secret_pem(self, namespace, name, key="tls.crt"):
        secret = self.emulator.get("v1", "Secret", name, namespace)
        return base64.b64decode(secret["data"][key]).decode() if secret else None

    def root_bundle(self, namespace="default"):
        configmap = self.emulator.get("v1", "ConfigMap", "istio-ca-root-cert", namespace)
        return configmap["data"]["root-cert.pem"] if configmap else None

    def bundle(self):
        """The trust-manager Bundle of the mesh roots."""
        return self.emulator.get(BUNDLE_API, "Bundle", BUNDLE)

    def bundle_configmap(self, namespace="cert-manager"):
        """What trust-manager wrote for the Bundle in ``namespace`` (istio-csr mounts the one in cert-manager)."""
        configmap = self.emulator.get("v1", "ConfigMap", BUNDLE, namespace)
        return configmap["data"]["ca.pem"] if configmap else None

    def republish_trust(self):
        """What istio-csr does on its next resync: publish its pinned root everywhere again."""
        self.controller._publish_trust(self.emulator)  # pylint: disable=protected-access


class Mesh:
    """Three clusters in one inventory, and how to run playbooks against them."""

    def __init__(self, root, clusters, env):
        self.root = root
        self.clusters = clusters
        self.env = env
        self.out = root / "out"
        self.inventory = root / "inventory.yml"
        self.site = None
        self.inventory.write_text(yaml.safe_dump({
            "all": {"vars": dict(APPLY_TEST_CA, certmesh_environment="test", certmesh_rollout_waves=[1], **modes()),
                    "children": {"mesh_test": {"hosts": dict(
                        (c.name, {"ansible_connection": "local",
                                  "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                  "certmesh_kubeconfig": c.kubeconfig, "certmesh_kube_context": c.name})
                        for c in clusters)}}}}, sort_keys=False))

    def __getitem__(self, name):
        return next(c for c in self.clusters if c.name == name)

    def run(self, playbook, *args, extra_vars=None):
        merged = {"certmesh_output_dir": str(self.out)}
        merged.update(extra_vars or {})
        return run_playbook(playbook, "-i", str(self.inventory), *args, extra_vars=merged,
                            tmp_path=self.root, env=self.env, timeout=RUN_TIMEOUT)

    def read_json(self, relative):
        return json.loads((self.out / "test" / relative).read_text())


def failure(result):
    """The end of a run's output, for assertion messages."""
    return result.stdout[-8000:] + result.stderr[-3000:]


def text(result):
    """A run's output with every run of whitespace made one space (the callback wraps long messages)."""
    return " ".join(result.stdout.split())


def build_mesh(tmp_path_factory, name):
    root = tmp_path_factory.mktemp(name)
    (root / "tmp").mkdir()
    clusters = []
    for cluster_name in CLUSTERS:
        controller = MountedRootTrustStandIn()
        emulator = KubeAPIEmulator(tls=True, controllers=[controller, TrustManagerStandIn()])
        emulator.start()
        kubeconfig = emulator.write_kubeconfig(root / ("kubeconfig-%s.yaml" % cluster_name), cluster=cluster_name,
                                               context=cluster_name)
        clusters.append(Cluster(cluster_name, emulator, controller, str(kubeconfig)))
    path = os.environ.get("PATH", "")
    real = shutil.which("helm")
    if real is None or pathlib.Path(real).resolve() == (STANDIN_BIN / "helm").resolve():
        path = os.pathsep.join([str(STANDIN_BIN), str(pathlib.Path(sys.executable).parent), path])
    env = playbook_env(root / "tmp", PATH=path, XDG_CONFIG_HOME=str(root / "xdg-config"),
                       XDG_CACHE_HOME=str(root / "xdg-cache"), XDG_DATA_HOME=str(root / "xdg-data"),
                       HELM_STANDIN_LOG=str(root / "helm-calls.jsonl"))
    env.pop("KUBECONFIG", None)
    return Mesh(root, clusters, env)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """Three emulated clusters converged by site.yml. The first run meets a cluster (west) that
    refuses the ClusterIssuer and stops there (``stopped``, ``stopped_report``); with the refusal
    lifted, the second run converges all three (``site``)."""
    built = build_mesh(tmp_path_factory, "mesh")
    try:
        for verb in ("create", "patch", "update"):
            built["west"].emulator.deny(verb=verb, resource="clusterissuers")
        built.stopped = built.run("playbooks/site.yml")
        built.stopped_report = built.read_json("reports/rollout.json")
        built.north_after_stop = (built["north"].emulator.get("v1", "Namespace", "cert-manager"),
                                  built["north"].emulator.list("v1", "Secret"))
        built["west"].emulator.deny_rules.clear()
        built.site = built.run("playbooks/site.yml")
        assert built.site.returncode == 0, failure(built.site)
        yield built
    finally:
        for cluster in built.clusters:
            cluster.emulator.stop()
