"""Apply mode speaks server-side apply: a GitOps engine can take over the same objects, and back.

One site.yml convergence serves the module (it costs about a minute), in this order: apply mode
wrote every object as field manager ``certmesh``; a GitOps engine (``flux``) server-side applies
the same objects without force and meets no conflict; apply mode again changes nothing; then a
different value applied by another manager is taken back (the default policy) or, with
``manifest_sink_force_conflicts: false``, reported with the cluster, object, manager and field.
The last two run only the sink role on one object, not site.yml again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import pathlib
import shutil
import sys

import pytest
import yaml

from tests.emulators.cert_manager_ca import CertManagerCAStandIn
from tests.emulators.kube_api import KubeAPIEmulator
from tests.support.playbook import REPO_ROOT, playbook_env, recap, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("server_side_apply")]

STANDIN_BIN = REPO_ROOT / "tests" / "emulators" / "bin"
CERTIFICATE = ("cert-manager.io/v1", "Certificate", "app", "istio-system")


class Cluster:
    """The emulated cluster ``ssa`` after site.yml, and what apply mode sent it."""

    def __init__(self, root, api, env):
        self.root, self.api, self.env = root, api, env
        self.inventory = root / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({
            "all": {"vars": {"certmesh_environment": "test"},
                    "hosts": {"ssa": {"ansible_connection": "local",
                                      "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                      "certmesh_kubeconfig": str(root / "kubeconfig.yaml"),
                                      "certmesh_kube_context": "ssa"}}}}))

    def run(self, playbook, *args, **extra_vars):
        merged = {"certmesh_output_dir": str(self.root / "out")}
        merged.update(extra_vars)
        return run_playbook(playbook, "-i", str(self.inventory), *args, extra_vars=merged, tmp_path=self.root, env=self.env)

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
            "name": "Apply one object", "hosts": "ssa", "gather_facts": False,
            "tasks": [{"name": "Apply it", "ansible.builtin.include_role": {"name": "certmesh.istio.manifest_sink"},
                       "vars": {"manifest_sink_component": "ssa-test", "manifest_sink_objects": [obj]}}]}]))
        return self.run(str(playbook), **extra_vars)


def _failure(result):
    return result.stdout[-8000:] + result.stderr[-3000:]


def _owners(obj):
    return {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssa")
    (root / "tmp").mkdir()
    api = KubeAPIEmulator(tls=True, controllers=[CertManagerCAStandIn()])
    api.apply_log = []
    api.start()
    api.write_kubeconfig(root / "kubeconfig.yaml", cluster="ssa", context="ssa")
    path = os.environ.get("PATH", "")
    real = shutil.which("helm")
    if real is None or pathlib.Path(real).resolve() == (STANDIN_BIN / "helm").resolve():
        path = os.pathsep.join([str(STANDIN_BIN), str(pathlib.Path(sys.executable).parent), path])
    env = playbook_env(root / "tmp", PATH=path, XDG_CONFIG_HOME=str(root / "xdg-config"),
                       XDG_CACHE_HOME=str(root / "xdg-cache"), XDG_DATA_HOME=str(root / "xdg-data"))
    env.pop("KUBECONFIG", None)
    converged = Cluster(root, api, env)
    try:
        first = converged.run("playbooks/site.yml")
        assert first.returncode == 0, _failure(first)
        yield converged
    finally:
        api.stop()


@pytest.fixture(scope="module")
def flux(cluster):
    """A DynamicClient standing in for a GitOps engine that server-side applies as ``flux``."""
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel

    return DynamicClient(config.new_client_from_config(config_file=str(cluster.root / "kubeconfig.yaml"), context="ssa"))


def test_apply_mode_writes_every_object_by_server_side_apply_as_certmesh(cluster):
    applied = cluster.applied_by_certmesh()
    assert ("cert-manager.io/v1", "ClusterIssuer", "istio-ca", None) in applied
    assert CERTIFICATE in applied
    assert ("v1", "Secret", "istio-ca-key-pair", "cert-manager") in applied
    for key in applied:
        owners = _owners(cluster.api.get(*key))
        assert ("certmesh", "Apply") in owners, (key, owners)
        assert ("OpenAPI-Generator", "Update") not in owners, (key, owners)


def test_a_gitops_apply_of_the_same_objects_then_apply_mode_again_changes_nothing(cluster, flux):
    git_part = {k: v for k, v in cluster.applied_by_certmesh().items() if k[1] != "Secret"}  # keys stay out of Git
    for (api_version, kind, name, namespace), config in sorted(git_part.items(), key=str):
        resource = flux.resources.get(api_version=api_version, kind=kind)
        resource.server_side_apply(body=copy.deepcopy(config), name=name, namespace=namespace, field_manager="flux")
    shared = _owners(cluster.api.get(*CERTIFICATE))
    assert {("certmesh", "Apply"), ("flux", "Apply")} <= shared, shared

    again = cluster.run("playbooks/site.yml")
    assert again.returncode == 0, _failure(again)
    assert recap(again.stdout)["ssa"]["changed"] == 0, _failure(again)
    assert {("certmesh", "Apply"), ("flux", "Apply")} <= _owners(cluster.api.get(*CERTIFICATE))


def test_a_field_another_manager_changed_is_taken_back_by_default(cluster, flux):
    desired = cluster.applied_by_certmesh()[CERTIFICATE]
    changed = copy.deepcopy(desired)
    changed["spec"]["renewBefore"] = "100h"
    certificates = flux.resources.get(api_version="cert-manager.io/v1", kind="Certificate")
    certificates.server_side_apply(body=changed, name="app", namespace="istio-system", field_manager="flux",
                                   force_conflicts=True)
    assert cluster.api.get(*CERTIFICATE)["spec"]["renewBefore"] == "100h"

    result = cluster.sink_one(desired)
    assert result.returncode == 0, _failure(result)
    assert recap(result.stdout)["ssa"]["changed"] == 1, _failure(result)
    assert cluster.api.get(*CERTIFICATE)["spec"]["renewBefore"] == desired["spec"]["renewBefore"]


def test_with_force_conflicts_off_the_conflict_names_cluster_object_manager_and_field(cluster, flux):
    desired = cluster.applied_by_certmesh()[CERTIFICATE]
    certificates = flux.resources.get(api_version="cert-manager.io/v1", kind="Certificate")
    certificates.patch(body={"spec": {"renewBefore": "200h"}}, name="app", namespace="istio-system",
                       content_type="application/merge-patch+json", field_manager="kubectl-edit")

    result = cluster.sink_one(desired, manifest_sink_force_conflicts=False)
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "cluster ssa" in text and "could not apply Certificate istio-system/app" in text, _failure(result)
    assert '.spec.renewBefore owned by "kubectl-edit" using cert-manager.io/v1' in text, _failure(result)
    assert "manifest_sink_force_conflicts" in text
    assert cluster.api.get(*CERTIFICATE)["spec"]["renewBefore"] == "200h"  # refused: nothing taken back
