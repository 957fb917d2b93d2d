"""The rotation state marker lives beside the shared PKI store and on every cluster, so a rotation
started on one control node is seen, resumed and refused consistently from any other.

rotation_state runs in-process against the Kubernetes API emulator (a ConfigMap in the
management cluster, a copy on each cluster) and the Vault API emulator (a KV v2 key).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import kube, rotation, rotation_store, vault
from ansible_collections.certmesh.istio.plugins.modules import rotation_state
from tests.emulators.vault_api import VaultEmulator
from tests.integration.vault.vault_module_runner import run_module

CLUSTERS = ["east", "west"]


@pytest.fixture
def management(kube_emulator_factory):
    return kube_emulator_factory("management", crds=False, controllers=[])


@pytest.fixture
def store_vault():
    emulator = VaultEmulator()
    emulator.start("127.0.0.1", 0)
    try:
        yield emulator
    finally:
        emulator.stop()


def _kubernetes_store(management):
    return {"backend": "kubernetes", "environment": "prod", "kubeconfig": str(management.kubeconfig),
            "context": management.context}


def _vault_store(emulator):
    return {"backend": "vault", "environment": "prod", "vault": {"url": emulator.url, "token": emulator.root_token}}


@pytest.fixture(params=["kubernetes", "vault"])
def store(request, kube_emulator_factory):
    if request.param == "kubernetes":
        return _kubernetes_store(kube_emulator_factory("management", crds=False, controllers=[]))
    emulator = VaultEmulator()
    emulator.start("127.0.0.1", 0)
    request.addfinalizer(emulator.stop)
    return _vault_store(emulator)


def _node(tmp_path, name):
    """The marker file of one control node (one AWX execution node)."""
    return str(tmp_path / name / "prod" / "rotation-state.json")


def _run(path, store, **args):
    return run_module(rotation_state, dict(path=path, store=store, **args))


def test_a_rotation_planned_on_one_node_is_seen_in_progress_from_a_fresh_node(tmp_path, store):
    first = _node(tmp_path, "node-a")
    planned = _run(first, store, kind="root", clusters=CLUSTERS)
    _run(first, store, action="begin", phase="prepare")
    _run(first, store, action="complete", phase="prepare")

    seen = _run(_node(tmp_path, "node-b"), store, action="status")

    assert seen["state"]["id"] == planned["plan"]["id"]
    assert seen["state"]["completed"] == ["prepare"]
    assert seen["trust"]["phase"] == "prepare"
    # reading the status leaves the fresh node as it was; its first plan fetches the marker
    assert not (tmp_path / "node-b").exists()
    assert _run(_node(tmp_path, "node-b"), store, kind="root", clusters=CLUSTERS)["plan"]["resume_at"] == "publish"
    assert json.load(open(_node(tmp_path, "node-b")))["completed"] == ["prepare"]


def test_a_node_with_a_stale_marker_resumes_where_another_node_stopped(tmp_path, store):
    first, second = _node(tmp_path, "node-a"), _node(tmp_path, "node-b")
    _run(first, store, kind="root", clusters=CLUSTERS)
    _run(second, store, action="begin", phase="prepare")
    _run(second, store, action="complete", phase="prepare")

    resumed = _run(first, store, kind="root", clusters=CLUSTERS)

    assert resumed["plan"]["resume_at"] == "publish"
    assert json.load(open(first))["completed"] == ["prepare"]


def test_check_mode_reads_the_store_and_writes_nothing_anywhere(tmp_path, store):
    _run(_node(tmp_path, "node-a"), store, kind="root", clusters=CLUSTERS)

    shown = run_module(rotation_state, dict(path=_node(tmp_path, "node-b"), store=store, kind="root",
                                            clusters=CLUSTERS), check_mode=True)

    assert shown["changed"] is False and shown["plan"]["resume_at"] == "prepare"
    assert not (tmp_path / "node-b").exists()


def test_every_change_is_copied_to_a_config_map_on_each_cluster(tmp_path, management, kube_emulator_factory):
    east = kube_emulator_factory("east", crds=False, controllers=[])
    copies = [{"name": "east", "kubeconfig": str(east.kubeconfig), "context": east.context}]
    path = _node(tmp_path, "node-a")
    _run(path, _kubernetes_store(management), kind="root", clusters=CLUSTERS, cluster_copies=copies)
    result = _run(path, _kubernetes_store(management), action="begin", phase="prepare", cluster_copies=copies)

    client = kube.api_client({"kubeconfig": str(east.kubeconfig), "context": east.context})
    copy = kube.get_object(client, "ConfigMap", "v1", "cert-manager", "certmesh-rotation-state")

    assert json.loads(copy["data"]["rotation-state.json"])["current"] == "prepare"
    assert copy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "certmesh.istio"
    assert result["stored"] == ["ConfigMap certmesh-pki/certmesh-prod-rotation-state in the management cluster",
                                "ConfigMap cert-manager/certmesh-rotation-state in cluster east"]


def test_a_marker_changed_by_another_node_between_read_and_write_is_refused_not_lost(management):
    client = kube.api_client({"kubeconfig": str(management.kubeconfig), "context": management.context})
    state = rotation.new_state("root", CLUSTERS)
    rotation_store.KubernetesMarker(client, "certmesh-pki", "prod").write(state)
    mine, theirs = (rotation_store.KubernetesMarker(client, "certmesh-pki", "prod") for _unused in range(2))
    mine.read()
    theirs.read()
    theirs.write(rotation.begin(json.loads(json.dumps(state)), "prepare"))

    with pytest.raises(rotation_store.StoreConflict, match="changed by another control node.*409 Conflict"):
        mine.write(state)


def test_a_vault_marker_changed_between_read_and_write_is_refused_with_check_and_set(store_vault):
    session = vault.VaultSession(vault.resolve_connection({"url": store_vault.url, "token": store_vault.root_token},
                                                          environ={}))
    state = rotation.new_state("root", CLUSTERS)
    rotation_store.VaultMarker(session, "secret", "certmesh", "prod").write(state)
    mine, theirs = (rotation_store.VaultMarker(session, "secret", "certmesh", "prod") for _unused in range(2))
    mine.read()
    theirs.read()
    theirs.write(state)

    with pytest.raises(rotation_store.StoreConflict, match="check-and-set parameter did not match the current version"):
        mine.write(state)


def test_two_markers_of_one_rotation_that_diverged_are_refused():
    base = rotation.new_state("root", CLUSTERS)
    left, right = json.loads(json.dumps(base)), json.loads(json.dumps(base))
    rotation.begin(left, "prepare")
    rotation.record_failure(right, "prepare", "elsewhere")

    with pytest.raises(rotation.RotationError, match="have diverged"):
        rotation_store.newer(left, right)


def test_an_unfinished_rotation_elsewhere_is_not_replaced_by_a_newer_one():
    older = rotation.new_state("root", CLUSTERS, at=rotation.parse_iso("2026-01-01T00:00:00Z"))
    later = rotation.new_state("root", CLUSTERS, at=rotation.parse_iso("2026-02-01T00:00:00Z"))

    with pytest.raises(rotation.RotationError, match="belong to two rotations, and 20260101T000000Z is not finished"):
        rotation_store.newer(older, later)
    older["aborted_at"] = "2026-01-02T00:00:00Z"
    assert rotation_store.newer(older, later) is later
