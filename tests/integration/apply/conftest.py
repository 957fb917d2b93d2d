"""One converged cluster shared by test_server_side_apply.py and test_teardown_and_tags.py.

A site.yml convergence costs one to two minutes on a loaded two-core machine, so both modules
use the session fixture ``converged_cluster`` (one convergence, monitoring on) and share the
xdist group ``CONVERGED_GROUP``, so that ``--dist loadgroup`` runs them in one worker. They run
in collection order: test_server_side_apply.py first (every test that breaks the cluster puts it
back), test_teardown_and_tags.py last (its last tests tear the cluster down). Run alone, each
module converges the cluster itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import pathlib
import shutil
import sys
import urllib.parse

import pytest
import yaml

from tests.emulators.cert_manager_ca import CertManagerCAStandIn
from tests.emulators.kube_api import KubeAPIEmulator
from tests.support.playbook import APPLY_TEST_CA, REPO_ROOT, playbook_env, run_playbook
from tests.support.upstream import upstream_dir

CONVERGED_GROUP = "converged_cluster"
CLUSTER = "day2"
STANDIN_BIN = REPO_ROOT / "tests" / "emulators" / "bin"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Converged:
    """The emulated cluster ``day2`` after site.yml, and how to run playbooks against it."""

    def __init__(self, root, api, env):
        self.root, self.api, self.env = root, api, env
        self.out = root / "out"
        self.render_dir = self.out / "test" / CLUSTER
        self.inventory = root / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({
            "all": {"vars": dict(APPLY_TEST_CA, certmesh_environment="test", mesh_monitoring_enabled=True),
                    "hosts": {CLUSTER: {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                        "certmesh_kubeconfig": str(root / "kubeconfig.yaml"),
                                        "certmesh_kube_context": CLUSTER}}}}))
        self.site = None

    def run(self, playbook, *args, **extra_vars):
        merged = {"certmesh_output_dir": str(self.out)}
        merged.update(extra_vars)
        return run_playbook(playbook, "-i", str(self.inventory), *args, extra_vars=merged, tmp_path=self.root, env=self.env)

    def writes(self):
        """Requests that may change the cluster (a dry run reaches the server but changes nothing)."""
        return [r for r in self.api.requests if r[0] in WRITES and "All" not in str((r[2] or {}).get("dryRun", ""))]

    @contextlib.contextmanager
    def client_writes(self):
        """Record the writes clients send over HTTP (playbooks, helm), not those of the in-process controllers."""
        seen = []
        handle = self.api.handle

        def recording(method, raw_path, headers, body, user=None):
            url = urllib.parse.urlsplit(raw_path)
            if user is None and method in WRITES and "All" not in urllib.parse.parse_qs(url.query).get("dryRun", []):
                seen.append((method, url.path))
            return handle(method, raw_path, headers, body, user=user)

        self.api.handle = recording  # the HTTP server and request() look handle up on the instance
        try:
            yield seen
        finally:
            del self.api.handle

    def applied_by_certmesh(self):
        """The last apply configuration certmesh sent per object that still exists."""
        objects = {}
        for manager, config in self.api.apply_log:
            meta = config["metadata"]
            key = (config["apiVersion"], config["kind"], meta["name"], meta.get("namespace"))
            if manager == "certmesh" and self.api.get(*key) is not None:
                objects[key] = config
        return objects

    def sink_one(self, obj, **extra_vars):
        """Run only the sink (apply mode) on one object: what site.yml's sink task does for it."""
        playbook = self.root / "sink-one.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "Apply one object", "hosts": CLUSTER, "gather_facts": False,
            "tasks": [{"name": "Apply it", "ansible.builtin.include_role": {"name": "certmesh.istio.manifest_sink"},
                       "vars": {"manifest_sink_component": "ssa-test", "manifest_sink_objects": [obj]}}]}]))
        return self.run(str(playbook), **extra_vars)


def failure(result):
    """The end of a playbook run's output, for an assertion message."""
    return result.stdout[-8000:] + result.stderr[-3000:]


@pytest.fixture(scope="session")
def converged_cluster(tmp_path_factory):
    """site.yml (apply mode, monitoring on) converged once on an emulated cluster, and the helm stand-in."""
    root = tmp_path_factory.mktemp(CLUSTER)
    (root / "tmp").mkdir()
    api = KubeAPIEmulator(tls=True, controllers=[CertManagerCAStandIn()])
    api.apply_log = []
    crds = [doc for path in sorted((upstream_dir() / "prometheus-operator" / "crds").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]
    api.apply_crds(crds)
    api.start()
    api.write_kubeconfig(root / "kubeconfig.yaml", cluster=CLUSTER, context=CLUSTER)
    path = os.environ.get("PATH", "")
    real = shutil.which("helm")
    if real is None or pathlib.Path(real).resolve() == (STANDIN_BIN / "helm").resolve():
        path = os.pathsep.join([str(STANDIN_BIN), str(pathlib.Path(sys.executable).parent), path])
    env = playbook_env(root / "tmp", PATH=path, XDG_CONFIG_HOME=str(root / "xdg-config"),
                       XDG_CACHE_HOME=str(root / "xdg-cache"), XDG_DATA_HOME=str(root / "xdg-data"))
    env.pop("KUBECONFIG", None)
    converged = Converged(root, api, env)
    try:
        converged.site = converged.run("playbooks/site.yml")
        assert converged.site.returncode == 0, failure(converged.site)
        yield converged
    finally:
        api.stop()
