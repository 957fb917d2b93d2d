"""Apply mode speaks server-side apply: a GitOps engine can take over the render tree, and back.

The cluster is the session convergence ``converged_cluster`` (conftest.py: apply mode wrote every
object as field manager ``certmesh``). Then, in this order:

1. render mode on the same inventory and output folder writes the render tree (the same PKI) and
   sends nothing to the cluster;
2. a GitOps engine syncs the tree's Git part: every plain manifest file, in the order of the
   cluster's ``kustomization.yaml``, server-side applied as field manager ``flux`` without force
   (PATCH ``application/apply-patch+yaml`` through the emulator's HTTP API, what Flux's
   kustomize-controller and ``kubectl apply --server-side`` send); the Helm part as Flux's
   helm-controller installs it: ``helm upgrade --install`` of each ``helmCharts`` entry with its
   rendered values file, through the helm stand-in (which cannot run ``helm template``, so the
   chart objects stay Helm's, as they do under helm-controller). No conflict anywhere;
3. apply mode again, refusing conflicts (``manifest_sink_force_conflicts: false``): changed=0;
4. a field we own changed by another manager is taken back by default (the documented policy),
   or, with ``manifest_sink_force_conflicts: false``, reported with the cluster, object, manager
   and field, and restored by the documented fix (run once forcing);
5. the secret part: the CA Secret missing from a GitOps-synced cluster is applied with the
   documented command (``--tags pki,mesh_ca -e manifest_sink_secrets_only=true``), which writes
   it and nothing else.

Steps 4 and 5 run only the sink role or a tagged site.yml, and leave the cluster converged for
test_teardown_and_tags.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import shutil
import subprocess

import pytest
import yaml

from tests.integration.apply.conftest import CLUSTER, CONVERGED_GROUP, failure as _failure
from tests.integration.render.gitops_tree import git_part
from tests.support.playbook import recap

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(CONVERGED_GROUP)]

CERTIFICATE = ("cert-manager.io/v1", "Certificate", "app", "istio-system")
CA_SECRET = ("v1", "Secret", "istio-ca-key-pair", "cert-manager")


def _load(path):
    return yaml.safe_load(path.read_text())


def _key(obj):
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def _owners(obj):
    return {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}


def _owns(obj, manager, *path):
    """Whether ``manager``'s managedFields entry of ``obj`` holds the field ``path`` (fieldsV1 keys)."""
    for entry in obj["metadata"]["managedFields"]:
        if entry["manager"] == manager:
            node = entry.get("fieldsV1") or {}
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                return True
    return False


def _plain_manifests(render_dir):
    """(file, object) of every plain manifest of the Git part, in the order of the cluster's kustomization."""
    manifests = []
    for folder in _load(render_dir / "kustomization.yaml")["resources"]:
        if folder.endswith("/helm"):
            continue
        for name in _load(render_dir / folder / "kustomization.yaml")["resources"]:
            manifests.append((render_dir / folder / name, _load(render_dir / folder / name)))
    return manifests


def _helm_charts(render_dir):
    """(values file, helmCharts entry) of every Helm release, in the order of the cluster's kustomization."""
    for folder in _load(render_dir / "kustomization.yaml")["resources"]:
        if folder.endswith("/helm"):
            for chart in _load(render_dir / folder / "kustomization.yaml")["helmCharts"]:
                yield render_dir / folder / chart["valuesFile"], chart


@pytest.fixture(scope="module")
def cluster(converged_cluster):
    return converged_cluster


@pytest.fixture(scope="module")
def dynamic(cluster):
    """A DynamicClient over the emulator's HTTPS API, standing in for a GitOps engine."""
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel

    return DynamicClient(config.new_client_from_config(config_file=str(cluster.root / "kubeconfig.yaml"), context=CLUSTER))


@pytest.fixture(scope="module")
def render_tree(cluster):
    """site.yml in render mode on the same inventory and output folder (the PKI apply mode used)."""
    with cluster.client_writes() as writes:
        result = cluster.run("playbooks/site.yml", certmesh_mode="render")
    assert result.returncode == 0, _failure(result)
    return {"result": result, "dir": cluster.render_dir, "writes": writes}


@pytest.fixture(scope="module")
def gitops_sync(cluster, dynamic, render_tree):
    """Sync the render tree's Git part as a GitOps engine does: SSA as ``flux``, Helm via helm upgrade."""
    render_dir = render_tree["dir"]
    applied, refused = [], []
    for path, obj in _plain_manifests(render_dir):
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        try:
            resource.server_side_apply(body=copy.deepcopy(obj), name=obj["metadata"]["name"],
                                       namespace=obj["metadata"].get("namespace"), field_manager="flux")
            applied.append((path, _key(obj)))
        except Exception as error:  # pylint: disable=broad-except
            refused.append((path.name, getattr(error, "status", None), str(getattr(error, "body", error))[:600]))
    helm = shutil.which("helm", path=cluster.env["PATH"])
    releases = []
    for values_file, chart in _helm_charts(render_dir):
        command = [helm, "upgrade", "--install", chart["releaseName"], chart["name"], "--repo", chart["repo"],
                   "--version", chart["version"], "--namespace", chart["namespace"], "-f", str(values_file),
                   "--kubeconfig", str(cluster.root / "kubeconfig.yaml"), "--kube-context", CLUSTER]
        done = subprocess.run(command, env=cluster.env, capture_output=True, text=True, check=False)
        releases.append((chart["releaseName"], done.returncode, done.stderr[-600:]))
    return {"applied": applied, "refused": refused, "releases": releases}


def test_apply_mode_writes_every_object_by_server_side_apply_as_certmesh(cluster):
    applied = cluster.applied_by_certmesh()
    assert ("cert-manager.io/v1", "ClusterIssuer", "istio-ca", None) in applied
    assert CERTIFICATE in applied
    assert CA_SECRET in applied
    for key in applied:
        owners = _owners(cluster.api.get(*key))
        assert ("certmesh", "Apply") in owners, (key, owners)
        assert ("OpenAPI-Generator", "Update") not in owners, (key, owners)


def test_render_mode_on_the_same_inventory_writes_the_tree_and_leaves_the_cluster_alone(cluster, render_tree):
    assert recap(render_tree["result"].stdout)[CLUSTER]["changed"] > 0
    assert render_tree["writes"] == []
    render_dir = render_tree["dir"]
    assert (render_dir / "kustomization.yaml").is_file() and (render_dir / "secrets" / "mesh_ca").is_dir()
    # The tree holds what apply mode applied: every object but the key-bearing Secret is in its Git part
    # (the verify role's probe Certificates are checks of the cluster, not desired state).
    in_git = {_key(obj) for _path, obj in _plain_manifests(render_dir)}
    desired = {key for key, config in cluster.applied_by_certmesh().items()
               if "certmesh.io/purpose" not in (config["metadata"].get("labels") or {})}
    missing = sorted(desired - in_git - {CA_SECRET}, key=str)
    assert missing == [], missing
    assert CA_SECRET not in in_git


def test_a_gitops_sync_of_the_render_tree_then_apply_mode_again_conflicts_nowhere_and_changes_nothing(cluster, gitops_sync, render_tree):
    assert gitops_sync["refused"] == []
    applied_files = {path for path, _key in gitops_sync["applied"]}
    plain_files = {p for p in git_part(render_tree["dir"])
                   if p.suffix == ".yaml" and p.name != "kustomization.yaml" and p.parent.name != "helm"}
    assert applied_files == plain_files, sorted(p.name for p in plain_files ^ applied_files)
    assert len(applied_files) >= 10
    assert [r for r in gitops_sync["releases"] if r[1] != 0] == []
    assert {r[0] for r in gitops_sync["releases"]} >= {"cert-manager", "cert-manager-istio-csr", "istio-base", "istiod"}
    for path, key in gitops_sync["applied"]:
        obj = _load(path)
        if set(obj) <= {"apiVersion", "kind", "metadata"} and set(obj["metadata"]) <= {"name", "namespace"}:
            continue  # only a name: no field to own, so no managedFields entry (kube-apiserver drops empty ones)
        owners = _owners(cluster.api.get(*key))
        assert ("flux", "Apply") in owners, (key, owners)
    assert _owns(cluster.api.get(*CERTIFICATE), "flux", "f:spec", "f:renewBefore")
    assert _owns(cluster.api.get(*CERTIFICATE), "certmesh", "f:spec", "f:renewBefore")  # shared, not taken

    again = cluster.run("playbooks/site.yml", manifest_sink_force_conflicts=False)  # any conflict fails the run
    assert again.returncode == 0, _failure(again)
    assert recap(again.stdout)[CLUSTER]["changed"] == 0, _failure(again)
    assert {("certmesh", "Apply"), ("flux", "Apply")} <= _owners(cluster.api.get(*CERTIFICATE))


def test_a_field_another_manager_changed_is_taken_back_by_default(cluster, dynamic, render_tree, gitops_sync):
    desired = _load(render_tree["dir"] / "gateway_certs" / "istio-system.certificate.app.yaml")
    assert _key(desired) == CERTIFICATE
    changed = copy.deepcopy(desired)
    changed["spec"]["renewBefore"] = "100h"
    certificates = dynamic.resources.get(api_version="cert-manager.io/v1", kind="Certificate")
    certificates.server_side_apply(body=changed, name="app", namespace="istio-system", field_manager="flux",
                                   force_conflicts=True)
    live = cluster.api.get(*CERTIFICATE)
    assert live["spec"]["renewBefore"] == "100h"
    assert _owns(live, "flux", "f:spec", "f:renewBefore") and not _owns(live, "certmesh", "f:spec", "f:renewBefore")

    result = cluster.sink_one(desired)
    assert result.returncode == 0, _failure(result)
    assert recap(result.stdout)[CLUSTER]["changed"] == 1, _failure(result)
    live = cluster.api.get(*CERTIFICATE)
    assert live["spec"]["renewBefore"] == desired["spec"]["renewBefore"]
    assert _owns(live, "certmesh", "f:spec", "f:renewBefore") and not _owns(live, "flux", "f:spec", "f:renewBefore")


def test_with_force_conflicts_off_the_conflict_names_cluster_object_manager_and_field(cluster, dynamic, render_tree, gitops_sync):
    desired = _load(render_tree["dir"] / "gateway_certs" / "istio-system.certificate.app.yaml")
    certificates = dynamic.resources.get(api_version="cert-manager.io/v1", kind="Certificate")
    certificates.patch(body={"spec": {"renewBefore": "200h"}}, name="app", namespace="istio-system",
                       content_type="application/merge-patch+json", field_manager="kubectl-edit")

    result = cluster.sink_one(desired, manifest_sink_force_conflicts=False)
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "cluster %s" % CLUSTER in text and "could not apply Certificate istio-system/app" in text, _failure(result)
    assert '.spec.renewBefore owned by "kubectl-edit" using cert-manager.io/v1' in text, _failure(result)
    assert "manifest_sink_force_conflicts" in text
    assert cluster.api.get(*CERTIFICATE)["spec"]["renewBefore"] == "200h"  # refused: nothing taken back

    # The documented fix: run once forcing, and the inventory's value is back.
    fixed = cluster.sink_one(desired, manifest_sink_force_conflicts=True)
    assert fixed.returncode == 0, _failure(fixed)
    assert cluster.api.get(*CERTIFICATE)["spec"]["renewBefore"] == desired["spec"]["renewBefore"]


def test_the_secret_part_is_applied_alone_with_the_documented_tagged_run(cluster, render_tree, gitops_sync):
    # A cluster a GitOps engine synced has everything but the not-for-Git part.
    cluster.api.delete(*CA_SECRET[:3], namespace=CA_SECRET[3])
    assert cluster.api.get(*CA_SECRET) is None
    with cluster.client_writes() as writes:  # cert-manager's stand-in then re-issues from the CA: not ours
        result = cluster.run("playbooks/site.yml", "--tags", "pki,mesh_ca", "--limit", CLUSTER,
                             certmesh_mode="apply", manifest_sink_secrets_only=True)
    assert result.returncode == 0, _failure(result)
    assert recap(result.stdout)[CLUSTER]["changed"] == 1, _failure(result)
    assert writes == [("PATCH", "/api/v1/namespaces/cert-manager/secrets/istio-ca-key-pair")], writes

    live = cluster.api.get(*CA_SECRET)
    rendered = _load(render_tree["dir"] / "secrets" / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml")
    same = live["data"] == rendered["data"] and live["type"] == rendered["type"] == "kubernetes.io/tls"
    assert same, "the applied CA Secret differs from the render's secrets/mesh_ca/ manifest"
    assert ("certmesh", "Apply") in _owners(live)
