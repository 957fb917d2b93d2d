"""Root rotation of a three-cluster mesh, end to end against the Kubernetes emulator.

At every phase boundary a workload certificate issued before the phase and one issued after it
must both verify against every cluster's published trust bundle (``istio-ca-root-cert``), which
is what "without downtime" means for proxies. The run is split with ``rotation_stop_after_phase``
and interrupted with ``rotation_fail_in_phase`` (test-only) to prove it resumes at that phase.
"""

import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust
from tests.integration.multicluster.conftest import failure, text

pytestmark = pytest.mark.slow

FAST = {"rotation_drain_period": "0s", "rotation_wait_timeout": 60}
NAMESPACES = ("istio-system", "default", "cert-manager")


class Workloads:
    """Issues workload SVIDs from each cluster's mesh issuer, as istio-csr asks for them."""

    def __init__(self, mesh):
        self.mesh = mesh
        self.serial = 0

    def issue(self):
        """One SVID per cluster, PEM chains (leaf first) by cluster name."""
        issued = {}
        for cluster in self.mesh.clusters:
            self.serial += 1
            name = "rotation-probe-%d" % self.serial
            cluster.emulator.apply({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": name, "namespace": "istio-system"},
                "spec": {"secretName": name, "duration": "1h",
                         "uris": ["spiffe://cluster.local/ns/shop/sa/%s" % name],
                         "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
                         "privateKey": {"algorithm": "ECDSA", "size": 256},
                         "issuerRef": {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}})
            issued[cluster.name] = cluster.secret_pem("istio-system", name)
            cluster.emulator.delete("cert-manager.io/v1", "Certificate", name, "istio-system")
            cluster.emulator.delete("v1", "Secret", name, "istio-system")
        return issued


def assert_trusted_everywhere(mesh, phase, *generations):
    """Every certificate of every generation verifies against every cluster's published bundle."""
    for cluster in mesh.clusters:
        for namespace in NAMESPACES:
            bundle = cluster.root_bundle(namespace)
            assert bundle, "cluster %s has no istio-ca-root-cert in %s after %s" % (cluster.name, namespace, phase)
            store = chain.load_store(bundle)
            for generation in generations:
                for origin, pem in generation.items():
                    checked = chain.check(pem, store, purpose="workload", trust_domain="cluster.local")
                    assert checked["valid"], "after %s: a certificate from %s fails against the bundle of %s/%s: %s" % (
                        phase, origin, cluster.name, namespace, checked["problems"])


def published_roots(mesh):
    return set(tuple(mesh_trust.fingerprints(c.root_bundle(ns))) for c in mesh.clusters for ns in NAMESPACES)


def intermediate_of(cluster):
    return mesh_trust.fingerprints(cluster.secret_pem("cert-manager", "istio-ca-key-pair"))[0]


def state(mesh):
    return json.loads((mesh.out / "test" / "rotation-state.json").read_text())


def file_fingerprint(path):
    return mesh_trust.fingerprints(path.read_text())[0]


def test_root_rotation_keeps_every_certificate_trusted_and_resumes_where_it_failed(mesh):
    root_dir = mesh.out / "test" / "mesh-root"
    old_root = file_fingerprint(root_dir / "root-ca.crt")
    pinned = mesh["east"].emulator.get("v1", "Secret", "istio-root-ca", "cert-manager")["metadata"]["resourceVersion"]
    workloads = Workloads(mesh)

    # --check shows the whole plan and changes nothing, neither on the control node nor in a cluster.
    check = mesh.run("playbooks/rotate.yml", "--check", extra_vars=FAST)
    assert check.returncode == 0, failure(check)
    for phase in ("prepare", "publish", "switch", "drain", "retire", "promote"):
        assert "[RUNS NOW] %s" % phase in text(check), failure(check)
    assert not (mesh.out / "test" / "rotation-state.json").exists()
    assert not (mesh.out / "test" / "mesh-root-next").exists()
    assert mesh["east"].emulator.get("v1", "Secret", "istio-root-ca", "cert-manager")["metadata"]["resourceVersion"] == pinned

    # prepare + publish: every namespace of every cluster carries old + new root.
    before = workloads.issue()
    first = mesh.run("playbooks/rotate.yml", extra_vars=dict(FAST, rotation_stop_after_phase="publish"))
    assert first.returncode == 0, failure(first)
    assert state(mesh)["completed"] == ["prepare", "publish"]
    new_root = file_fingerprint(mesh.out / "test" / "mesh-root-next" / "root-ca.crt")
    assert published_roots(mesh) == {(old_root, new_root)}
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "publish", before, after)
    during = mesh.run("playbooks/verify.yml")
    assert during.returncode == 0, failure(during)
    assert mesh.read_json("reports/mesh/mesh-trust.json")["roots"] == [old_root, new_root]

    # switch, failing on purpose once its cluster changes are made: the marker keeps it incomplete.
    before = after
    broken = mesh.run("playbooks/rotate.yml", extra_vars=dict(FAST, rotation_fail_in_phase="switch"))
    assert broken.returncode != 0
    assert "resumes at phase switch" in text(broken), failure(broken)
    marker = state(mesh)
    assert marker["completed"] == ["prepare", "publish"] and marker["current"] == "switch"
    assert marker["history"][-1]["phase"] == "switch" and marker["history"][-1]["event"] == "failed"
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "switch (interrupted)", before, after)
    issuer_root = chain.load_store((mesh.out / "test" / "mesh-root-next" / "root-ca.crt").read_text())
    assert all(chain.check(pem, issuer_root, purpose="workload")["valid"] for pem in after.values())

    # The next run resumes at switch (not before), and drains.
    before = after
    resumed = mesh.run("playbooks/rotate.yml", extra_vars=dict(FAST, rotation_stop_after_phase="drain"))
    assert resumed.returncode == 0, failure(resumed)
    assert "Resumes at switch" in text(resumed) and "[done] publish" in text(resumed), failure(resumed)
    assert "Record the start of phase publish" not in text(resumed)
    assert state(mesh)["completed"] == ["prepare", "publish", "switch", "drain"]
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "drain", before, after)

    # retire + promote: only the new root is published, and the control node's files follow.
    before = after
    last = mesh.run("playbooks/rotate.yml", extra_vars=FAST)
    assert last.returncode == 0, failure(last)
    marker = state(mesh)
    assert marker["finished_at"] and marker["completed"][-2:] == ["retire", "promote"]
    assert published_roots(mesh) == {(new_root,)}
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "retire", before, after)
    assert file_fingerprint(root_dir / "root-ca.crt") == new_root
    assert file_fingerprint(mesh.out / "test" / ("mesh-root-retired-%s" % marker["id"]) / "root-ca.crt") == old_root
    assert not (mesh.out / "test" / "mesh-root-next").exists()

    # The mesh verifies against its new root with the usual paths, and a further run does nothing.
    verify = mesh.run("playbooks/verify.yml")
    assert verify.returncode == 0, failure(verify)
    again = mesh.run("playbooks/rotate.yml", extra_vars=FAST)
    assert again.returncode == 0 and "Nothing left to do" in text(again), failure(again)

    # An intermediate rotation of one cluster: new intermediate under the same root, nothing else moves.
    intermediates = dict((c.name, intermediate_of(c)) for c in mesh.clusters)
    before = workloads.issue()
    one = mesh.run("playbooks/rotate.yml", "--limit", "west",
                   extra_vars=dict(FAST, rotation_kind="intermediate", rotation_new=True))
    assert one.returncode == 0, failure(one)
    marker = state(mesh)
    assert marker["kind"] == "intermediate" and marker["clusters"] == ["west"] and marker["finished_at"]
    assert intermediate_of(mesh["west"]) != intermediates["west"]
    assert intermediate_of(mesh["east"]) == intermediates["east"] and intermediate_of(mesh["north"]) == intermediates["north"]
    assert published_roots(mesh) == {(new_root,)}
    assert_trusted_everywhere(mesh, "intermediate rotation", before, workloads.issue())
