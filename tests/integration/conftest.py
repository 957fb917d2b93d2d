"""Fixtures that give integration tests a Kubernetes API (``tests/emulators/kube_api.py``) and helm.

``kube_emulator`` -> ``KubeCluster``
    A running ``KubeAPIEmulator`` (HTTPS, bearer token) with the upstream cert-manager and Istio
    CRDs applied and the cert-manager CA issuer / istio-csr trust stand-in running. Its
    kubeconfig is ``cluster.kubeconfig`` (cluster and context ``emulator``). ``TMPDIR`` points
    at a folder of the test's own, because kubernetes.core caches API discovery in
    ``$TMPDIR/k8srcp-*.json``; ``cluster.env`` is the environment for subprocesses
    (``KUBECONFIG``, ``K8S_AUTH_KUBECONFIG``, ``K8S_AUTH_CONTEXT``, ``TMPDIR``).

``kube_emulator_factory`` -> ``start(name="emulator", crds=True, controllers=None, tls=True, context=None)``
    Starts one more emulator per call (one per cluster in multi-cluster tests); each writes its
    own kubeconfig ``<tmp>/kubeconfig-<name>.yaml`` with cluster ``name`` and context
    ``context or name``. ``crds=False`` starts an empty cluster (e.g. for installing
    cert-manager's CRDs with helm, which refuses to adopt CRDs it did not create).
    ``controllers=[]`` turns the stand-ins off. Every emulator stops at teardown.

``helm_standin`` -> ``HelmCommand``
    ``env`` puts ``tests/emulators/bin`` (the stand-in ``helm``) first on ``PATH`` unless a real
    ``helm`` is on ``PATH`` already (then ``is_standin`` is False), isolates Helm's repository
    config in the test's folder, and logs every stand-in call to ``log_file``.
"""

import os
import pathlib
import shutil
import sys

import pytest

from tests.emulators.cert_manager_ca import CertManagerCAStandIn
from tests.emulators.kube_api import KubeAPIEmulator, upstream_dir

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
STANDIN_BIN = REPO_ROOT / "tests" / "emulators" / "bin"


def _require_upstream():
    if not (upstream_dir() / "cert-manager" / "crds").is_dir():
        reason = "upstream CRDs not found at %s; set CERTMESH_UPSTREAM_DIR" % upstream_dir()
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


class KubeCluster:
    """One emulated cluster as a test sees it: the emulator plus how clients reach it."""

    def __init__(self, emulator, kubeconfig, name, context, tmpdir):
        self.emulator = emulator
        self.kubeconfig = kubeconfig
        self.name = name
        self.context = context
        self.tmpdir = tmpdir
        self.url = emulator.url
        self.token = emulator.token

    @property
    def env(self):
        """Environment variables for a subprocess (ansible-playbook, helm) that should use this cluster."""
        return {
            "KUBECONFIG": self.kubeconfig,
            "K8S_AUTH_KUBECONFIG": self.kubeconfig,
            "K8S_AUTH_CONTEXT": self.context,
            "TMPDIR": self.tmpdir,
        }

    def api_client(self, token=None):
        """A ``kubernetes.client.ApiClient`` configured from the kubeconfig (optionally another token)."""
        import kubernetes  # pylint: disable=import-outside-toplevel

        client = kubernetes.config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
        if token:
            client.configuration.refresh_api_key_hook = None  # it would reload the kubeconfig's token
            client.configuration.api_key = {"authorization": "Bearer " + token}
        return client

    def dynamic(self, token=None):
        """A ``kubernetes.dynamic.DynamicClient`` for this cluster."""
        from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel

        return DynamicClient(self.api_client(token))


@pytest.fixture
def kube_tmpdir(tmp_path, monkeypatch):
    """A TMPDIR of the test's own (kubernetes.core's discovery cache lives there)."""
    path = tmp_path / "tmp"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(path))
    return str(path)


@pytest.fixture
def kube_emulator_factory(tmp_path, kube_tmpdir):
    """Start emulators on demand: ``start(name, crds=True, controllers=None, tls=True, context=None)``."""
    started = []

    def start(name="emulator", crds=True, controllers=None, tls=True, context=None):
        if crds:
            _require_upstream()
        if controllers is None:
            controllers = [CertManagerCAStandIn()]
        emulator = KubeAPIEmulator(tls=tls, controllers=controllers)
        if crds:
            emulator.apply_crds()
        emulator.start()
        started.append(emulator)
        context = context or name
        kubeconfig = emulator.write_kubeconfig(tmp_path / ("kubeconfig-%s.yaml" % name), cluster=name, context=context)
        return KubeCluster(emulator, kubeconfig, name, context, kube_tmpdir)

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def kube_emulator(kube_emulator_factory):
    """A running emulator with the upstream CRDs and the cert-manager CA stand-in (see module doc)."""
    return kube_emulator_factory("emulator")


class HelmCommand:
    """How tests call helm: ``env`` to merge into a subprocess environment, ``calls()`` to see what ran."""

    def __init__(self, env, is_standin, log_file):
        self.env = env
        self.is_standin = is_standin
        self.log_file = log_file

    def calls(self):
        """The argument lists the stand-in was called with, in order."""
        import json  # pylint: disable=import-outside-toplevel

        if not os.path.exists(self.log_file):
            return []
        with open(self.log_file, encoding="utf-8") as stream:
            return [json.loads(line) for line in stream if line.strip()]


@pytest.fixture
def helm_standin(tmp_path):
    """PATH with the stand-in helm (unless a real one exists), Helm config isolated in the test folder."""
    real = shutil.which("helm")
    is_standin = real is None or pathlib.Path(real).resolve() == (STANDIN_BIN / "helm").resolve()
    venv_bin = str(pathlib.Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if is_standin:
        path = os.pathsep.join([str(STANDIN_BIN), venv_bin, path])
    log_file = str(tmp_path / "helm-calls.jsonl")
    env = {
        "PATH": path,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "HELM_STANDIN_LOG": log_file,
    }
    return HelmCommand(env, is_standin, log_file)
