"""Three clusters in one inventory (the ``mesh`` fixture of conftest.py), in ambient mode with
Kubernetes Gateway API gateways and trust-manager publishing the mesh roots: site.yml stops at a
failing cluster and leaves the later ones untouched, then converges all three under one root
(the cluster done before the stop is left unchanged by the second run); every cluster runs
istio-cni and ztunnel pointed at istio-csr, a Gateway of class istio serving the cert-manager
Secrets (no gateway chart) and a Bundle carrying the root. verify.yml passes, and names the
cluster and the object once one cluster is broken (a wrong root in a namespace, an expired
gateway certificate, a Bundle or its ConfigMap with another root); diagnose.yml explains the
same problems; preflight refuses a Cilium that would remove istio-cni.

The same converged clusters then go through a root rotation (the Bundle of every cluster carries
old + new root between publish and retire) and an intermediate rotation.
Each ansible-playbook run costs tens of seconds, so both scenarios share the module's clusters
(the verify scenario puts back what it breaks); each scenario is one test, so that pytest-xdist
never builds the clusters for a fraction of a scenario.
"""

import base64
import gzip
import hashlib
import json
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust
from tests.emulators.cert_manager_ca import SPEC_HASH_ANNOTATION
from tests.emulators.trust_manager import MANAGER as TRUST_MANAGER
from tests.integration.multicluster.conftest import AMBIENT_NAMESPACE, BUNDLE, failure, text
from tests.support import pki_factory
from tests.support.playbook import recap

# One worker runs the whole module, so its module-scoped fixture is built once (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("three_cluster_mesh")]

FAST = {"rotation_drain_period": "0s", "rotation_wait_timeout": 60}
NAMESPACES = ("istio-system", "default", "cert-manager", AMBIENT_NAMESPACE)
CSR = "cert-manager-istio-csr.cert-manager.svc:443"


def _ca_chain(cluster):
    pem = cluster.secret_pem("cert-manager", "istio-ca-key-pair").encode()
    return x509.load_pem_x509_certificates(pem)


def _expired_gateway_secret(mesh, cluster):
    """The gateway Secret with an expired certificate from the cluster's own intermediate, marked
    intact so the CA stand-in does not re-issue it (as when cert-manager is down)."""
    pki_dir = mesh.out / "test" / cluster.name / "pki"
    intermediate = pki_factory.Issued(
        x509.load_pem_x509_certificate((pki_dir / "intermediate-ca.crt").read_bytes()),
        serialization.load_pem_private_key((pki_dir / "intermediate-ca.key").read_bytes(), password=None))
    expired = pki_factory.make_gateway_cert(intermediate, dns_names=("app.example.com",),
                                            not_before=pki_factory.now() - pki_factory.days(100),
                                            not_after=pki_factory.now() - pki_factory.days(10))
    secret = cluster.emulator.get("v1", "Secret", "app-tls", "istio-system")
    chain_pem = expired.pem.encode() + (pki_dir / "ca-chain.crt").read_bytes()
    key_pem = expired.key_pem.encode()
    secret["data"]["tls.crt"] = base64.b64encode(chain_pem).decode()
    secret["data"]["tls.key"] = base64.b64encode(key_pem).decode()
    secret["metadata"]["annotations"][SPEC_HASH_ANNOTATION + "-content"] = \
        hashlib.sha256(chain_pem + key_pem).hexdigest()[:16]
    for field in ("resourceVersion", "managedFields", "uid", "creationTimestamp"):
        secret["metadata"].pop(field, None)
    return secret


def _release_config(api, namespace, name):
    """The values a Helm release was installed with (its release Secret), or None without one."""
    secrets = api.list("v1", "Secret", namespace, label_selector="owner=helm,name=%s,status=deployed" % name)
    if not secrets:
        return None
    assert len(secrets) == 1, name
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secrets[0]["data"]["release"]))))["config"]


def test_site_stops_at_a_failing_cluster_then_converges_and_verify_names_what_breaks(mesh):
    check_rollout_stops_at_the_failing_cluster(mesh)
    check_every_cluster_has_its_own_intermediate_under_one_root(mesh)
    check_every_cluster_runs_ambient_with_gateway_api_and_trust_manager(mesh)
    check_verify_passes_with_reports(mesh)
    check_verify_and_diagnose_name_the_broken_cluster_and_objects(mesh)
    check_verify_names_the_cluster_and_the_bundle_that_carry_another_root(mesh)
    check_preflight_refuses_ambient_on_a_cni_that_removes_istio_cni(mesh)
    check_a_second_run_changes_nothing_on_a_converged_cluster(mesh)


def check_rollout_stops_at_the_failing_cluster(mesh):
    """west refused the ClusterIssuer: east is done, north untouched; lifted, all three converged."""
    assert mesh.stopped.returncode != 0
    assert "Rollout stopped at cluster west" in text(mesh.stopped), failure(mesh.stopped)
    report = mesh.stopped_report
    assert (report["done"], report["failed"], report["untouched"]) == (["east"], ["west"], ["north"]), report
    assert "ClusterIssuer istio-ca" in report["failed_message"]
    assert mesh.north_after_stop == (None, [])
    report = mesh.read_json("reports/rollout.json")
    assert (report["done"], report["failed"], report["untouched"]) == (["east", "west", "north"], [], [])


def check_a_second_run_changes_nothing_on_a_converged_cluster(mesh):
    """east converged in the stopped run: the converging run goes through it again and changes nothing."""
    east = recap(mesh.site.stdout)["east"]
    assert east["ok"] > 0 and east["changed"] == 0, failure(mesh.site)
    assert recap(mesh.site.stdout)["west"]["changed"] > 0


def check_every_cluster_runs_ambient_with_gateway_api_and_trust_manager(mesh):
    for cluster in mesh.clusters:
        api, name = cluster.emulator, cluster.name
        assert "Check ztunnel and the ambient namespaces of %s" % name in mesh.site.stdout
        # Ambient: ztunnel asks istio-csr, istio-csr trusts ztunnel as a node account, istio-cni redirects.
        ztunnel = api.get("apps/v1", "DaemonSet", "ztunnel", "istio-system")
        env = {e["name"]: e["value"] for e in ztunnel["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (env["CA_ADDRESS"], env["CLUSTER_ID"]) == (CSR, name)
        assert api.get("apps/v1", "DaemonSet", "istio-cni-node", "istio-system") is not None
        assert api.get("v1", "Namespace", AMBIENT_NAMESPACE)["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
        csr_values = _release_config(api, "cert-manager", "cert-manager-istio-csr")
        assert csr_values["app"]["server"]["caTrustedNodeAccounts"] == "istio-system/ztunnel", name
        # trust-manager: istio-csr pins the Bundle's ConfigMap, not the root Secret.
        assert csr_values["volumes"] == [{"name": "root-ca", "configMap": {"name": BUNDLE}}], name
        probe = api.get("cert-manager.io/v1", "Certificate", "certmesh-verify-ambient-%s" % AMBIENT_NAMESPACE, "istio-system")
        assert probe["spec"]["uris"] == ["spiffe://cluster.local/ns/%s/sa/certmesh-verify" % AMBIENT_NAMESPACE]
        assert api.get("v1", "Secret", "certmesh-verify-ambient-%s" % AMBIENT_NAMESPACE, "istio-system") is not None
        # Gateway API: a Gateway of class istio serves the cert-manager Secret of istio-system.
        gateway = api.get("gateway.networking.k8s.io/v1", "Gateway", "mesh-gateway", "ingress")
        assert gateway["spec"]["gatewayClassName"] == "istio"
        assert gateway["spec"]["listeners"][0]["tls"]["certificateRefs"][0] == {
            "group": "", "kind": "Secret", "name": "app-tls", "namespace": "istio-system"}
        assert api.get("gateway.networking.k8s.io/v1", "ReferenceGrant", "ingress-mesh-gateway-tls", "istio-system")
        # Istio deploys the gateway of that Gateway itself: no gateway chart in gateway-api mode.
        assert _release_config(api, "istio-system", "istio-ingressgateway") is None, name
        assert api.get("apps/v1", "Deployment", "istio-ingressgateway", "istio-system") is None, name
    root = file_fingerprint(mesh.out / "test" / "mesh-root" / "root-ca.crt")
    assert_bundle_carries(mesh, "site", root)
    # istio-csr publishes what it pins, the Bundle's ConfigMap, in every namespace (the ambient one too).
    assert published_roots(mesh) == {(root,)}


def check_every_cluster_has_its_own_intermediate_under_one_root(mesh):
    chains = dict((c.name, _ca_chain(c)) for c in mesh.clusters)
    intermediates = set(chain[0].fingerprint(hashes.SHA256()) for chain in chains.values())
    roots = set(chain[-1].fingerprint(hashes.SHA256()) for chain in chains.values())
    assert len(intermediates) == 3 and len(roots) == 1
    for name, chain in chains.items():
        assert chain[0].issuer == chain[-1].subject, name
        assert name in chain[0].subject.rfc4514_string()
    assert len(set(c.root_bundle() for c in mesh.clusters)) == 1


def check_verify_passes_with_reports(mesh):
    result = mesh.run("playbooks/verify.yml")
    assert result.returncode == 0, failure(result)
    report = mesh.read_json("reports/mesh/mesh-trust.json")
    assert report["summary"]["ok"] and report["summary"]["clusters"] == ["east", "north", "west"]
    checks = set(r["check"] for r in report["results"])
    assert {"issuer_ready", "istio_csr_serving", "istiod_external_ca", "certificate_chains", "gateway_credentials",
            "root_configmaps", "strict_mtls", "one_trust_domain", "one_root", "trust_bundle", "ztunnel_ready",
            "ambient_namespaces"} <= checks
    assert trust_bundle_checked(report) == {"east": True, "west": True, "north": True}
    reports = mesh.out / "test" / "reports" / "mesh"
    for name in ("mesh-trust.junit.xml", "mesh-trust.md", "rotation-check.json", "rotation-check.junit.xml",
                 "rotation-check.md", "rotation-check.html"):
        assert (reports / name).is_file(), name


def check_verify_and_diagnose_name_the_broken_cluster_and_objects(mesh):
    west = mesh["west"]
    stranger = pki_factory.make_root("someone else's root")
    namespace = "istio-system"
    # The Secret first: istio-csr (the stand-in) republishes every root ConfigMap on a Secret change.
    west.emulator.apply(_expired_gateway_secret(mesh, west))
    west.emulator.apply({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "istio-ca-root-cert", "namespace": namespace},
                         "data": {"root-cert.pem": stranger.pem}})
    try:
        result = mesh.run("playbooks/verify.yml")
        assert result.returncode != 0
        assert "cluster west: ConfigMap istio-system/istio-ca-root-cert" in text(result), failure(result)
        assert "cluster west: Certificate istio-system/app (gateway)" in text(result), failure(result)
        assert "expired" in text(result)
        report = mesh.read_json("reports/mesh/mesh-trust.json")
        assert report["summary"]["failing_clusters"] == ["mesh", "west"]
        failed = [(r["cluster"], r["object"]) for r in report["results"] if not r["ok"]]
        assert ("west", "ConfigMap istio-system/istio-ca-root-cert") in failed
        assert ("west", "Certificate istio-system/app") in failed
        assert all(cluster in ("west", "mesh") for cluster, _object in failed)

        diagnosis = mesh.run("playbooks/diagnose.yml")
        assert diagnosis.returncode != 0
        assert "problem(s) on cluster west" in text(diagnosis), failure(diagnosis)
        assert "cluster east: no problem found" in text(diagnosis)
        assert "likely_cause" in text(diagnosis) and "the certificate has expired" in text(diagnosis)
        assert (mesh.out / "test" / "reports" / "diagnose" / "mesh-trust.md").is_file()
    finally:
        west.emulator.delete("v1", "Secret", "app-tls", "istio-system")
        west.republish_trust()


def _applied(obj):
    """What a client would apply to put ``obj`` back: no server-set metadata."""
    meta = dict((k, v) for k, v in obj["metadata"].items() if k in ("name", "namespace", "labels", "annotations"))
    applied = dict((k, v) for k, v in obj.items() if k not in ("metadata", "status"))
    applied["metadata"] = meta
    return applied


def check_verify_names_the_cluster_and_the_bundle_that_carry_another_root(mesh):
    """A Bundle edited by hand in north (one more root), and the ConfigMap trust-manager wrote in
    west overwritten: verify.yml limited to those two clusters names each cluster and object."""
    north, west = mesh["north"], mesh["west"]
    stranger = pki_factory.make_root("a root nobody trusts")
    bundle = north.bundle()
    configmap = west.emulator.get("v1", "ConfigMap", BUNDLE, "cert-manager")
    tampered = _applied(bundle)
    tampered["spec"] = {"sources": bundle["spec"]["sources"] + [{"inLine": stranger.pem}]}
    north.emulator.apply(tampered, manager="kubectl-edit")
    west.emulator.apply(dict(_applied(configmap), data={"ca.pem": stranger.pem}), manager="kubectl-edit")
    try:
        result = mesh.run("playbooks/verify.yml", "--limit", "north,west")
        assert result.returncode != 0
        unexpected = mesh_trust.fingerprints(stranger.pem)[0]
        assert "cluster north: Bundle %s: unexpected certificate(s) %s" % (BUNDLE, unexpected) in text(result), \
            failure(result)
        assert "cluster west: ConfigMap cert-manager/%s key ca.pem: missing root(s)" % BUNDLE in text(result), failure(result)
        report = mesh.read_json("reports/mesh/mesh-trust.json")
        assert report["summary"]["clusters"] == ["north", "west"]
        assert trust_bundle_checked(report) == {"north": False, "west": False}
    finally:
        north.emulator.apply(_applied(bundle), manager="certmesh")
        west.emulator.apply(_applied(configmap), manager=TRUST_MANAGER)
    root = file_fingerprint(mesh.out / "test" / "mesh-root" / "root-ca.crt")
    assert_bundle_carries(mesh, "putting the Bundles back", root)
    assert published_roots(mesh) == {(root,)}


def check_preflight_refuses_ambient_on_a_cni_that_removes_istio_cni(mesh):
    """A Cilium that deletes other CNI configurations in north: site.yml stops at preflight, changing nothing."""
    north = mesh["north"]
    north.emulator.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    north.emulator.apply({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                          "data": {"cni-exclusive": "true"}})
    before = north.emulator.get("v1", "Secret", "istio-ca-key-pair", "cert-manager")["metadata"]["resourceVersion"]
    try:
        refused = mesh.run("playbooks/site.yml", "--limit", "north", "--tags", "mesh_ca")
        assert refused.returncode != 0
        assert "cluster north: ConfigMap kube-system/cilium-config sets cni-exclusive" in text(refused), failure(refused)
        assert "[ambient_cni_exclusive]" in text(refused) and "nothing was changed" in text(refused)
        after = north.emulator.get("v1", "Secret", "istio-ca-key-pair", "cert-manager")["metadata"]["resourceVersion"]
        assert after == before
    finally:
        north.emulator.delete("v1", "ConfigMap", "cilium-config", "kube-system")


# --------------------------------------------------------------------------------------------
# Root rotation, then an intermediate rotation


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


def trust_bundle_checked(report):
    """Cluster -> whether its trust_bundle check passed, from a mesh-trust report."""
    return dict((r["cluster"], r["ok"]) for r in report["results"] if r["check"] == "trust_bundle")


def assert_bundle_carries(mesh, phase, *roots):
    """In every cluster the Bundle's inLine sources are exactly ``roots`` (fingerprints), and so is
    what trust-manager wrote from it beside istio-csr and in the ambient namespace."""
    expected = sorted(roots)
    for cluster in mesh.clusters:
        sources = (cluster.bundle() or {}).get("spec", {}).get("sources") or []
        found = sorted(fp for source in sources for fp in mesh_trust.fingerprints(source["inLine"]))
        assert found == expected, "after %s: Bundle %s of %s lists %s, expected %s" % (
            phase, BUNDLE, cluster.name, found, expected)
        for namespace in ("cert-manager", AMBIENT_NAMESPACE):
            written = sorted(mesh_trust.fingerprints(cluster.bundle_configmap(namespace) or ""))
            assert written == expected, "after %s: ConfigMap %s/%s of %s carries %s, expected %s" % (
                phase, namespace, BUNDLE, cluster.name, written, expected)


def published_roots(mesh):
    return set(tuple(mesh_trust.fingerprints(c.root_bundle(ns))) for c in mesh.clusters for ns in NAMESPACES)


def intermediate_of(cluster):
    return mesh_trust.fingerprints(cluster.secret_pem("cert-manager", "istio-ca-key-pair"))[0]


def state(mesh):
    return json.loads((mesh.out / "test" / "rotation-state.json").read_text())


def state_id_before_abort(marker):
    """The id of the rotation aborted before this one (kept in the marker's history)."""
    return [event["id"] for event in marker["history"] if event.get("event") == "previous rotation"][-1]


def file_fingerprint(path):
    return mesh_trust.fingerprints(path.read_text())[0]


def test_root_rotation_keeps_every_certificate_trusted_and_resumes_where_it_failed(mesh):
    """At every phase boundary a workload certificate issued before the phase and one issued after
    it both verify against every cluster's published trust bundle (``istio-ca-root-cert``): what
    "without downtime" means for proxies. The run is split with ``rotation_stop_after_phase`` and
    interrupted with ``rotation_fail_in_phase`` (test-only) to prove it resumes at that phase."""
    root_dir = mesh.out / "test" / "mesh-root"
    old_root = file_fingerprint(root_dir / "root-ca.crt")
    pinned = mesh["east"].emulator.get("v1", "Secret", "istio-root-ca", "cert-manager")["metadata"]["resourceVersion"]
    bundled = mesh["east"].bundle()["metadata"]["resourceVersion"]
    assert_bundle_carries(mesh, "site", old_root)
    workloads = Workloads(mesh)

    # --check shows the whole plan and changes nothing, neither on the control node nor in a cluster.
    check = mesh.run("playbooks/rotate.yml", "--check", extra_vars=FAST)
    assert check.returncode == 0, failure(check)
    assert all(host["changed"] == 0 for host in recap(check.stdout).values()), failure(check)
    for phase in ("prepare", "publish", "switch", "drain", "retire", "promote"):
        # One line per phase, not one wrapped line.
        assert re.search(r"^ +\[RUNS NOW\] %s - " % phase, check.stdout, re.M), failure(check)
    assert not (mesh.out / "test" / "rotation-state.json").exists()
    assert not (mesh.out / "test" / "mesh-root-next").exists()
    assert mesh["east"].emulator.get("v1", "Secret", "istio-root-ca", "cert-manager")["metadata"]["resourceVersion"] == pinned
    assert mesh["east"].bundle()["metadata"]["resourceVersion"] == bundled
    assert_bundle_carries(mesh, "rotate.yml --check", old_root)

    # prepare + publish: every namespace of every cluster carries old + new root.
    before = workloads.issue()
    first = mesh.run("playbooks/rotate.yml", extra_vars=dict(FAST, rotation_stop_after_phase="publish"))
    assert first.returncode == 0, failure(first)
    assert state(mesh)["completed"] == ["prepare", "publish"]
    new_root = file_fingerprint(mesh.out / "test" / "mesh-root-next" / "root-ca.crt")
    assert published_roots(mesh) == {(old_root, new_root)}
    assert_bundle_carries(mesh, "publish", old_root, new_root)
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "publish", before, after)
    during = mesh.run("playbooks/verify.yml")
    assert during.returncode == 0, failure(during)
    report = mesh.read_json("reports/mesh/mesh-trust.json")
    assert report["roots"] == [old_root, new_root]
    # verify compared every cluster's Bundle with the roots the rotation state trusts after publish.
    assert trust_bundle_checked(report) == {"east": True, "west": True, "north": True}

    # Abort after publish: every cluster trusts exactly the old root again, verify passes, and
    # the new CA files are set aside. A second abort has nothing left to do.
    aborted = mesh.run("playbooks/rotate.yml", "-e", "rotation_abort=true", extra_vars=FAST)
    assert aborted.returncode == 0, failure(aborted)
    marker = state(mesh)
    assert marker["aborted_at"] and marker["facts"]["aborted_after"] == "publish", marker
    assert published_roots(mesh) == {(old_root,)}
    assert_bundle_carries(mesh, "abort", old_root)
    assert_trusted_everywhere(mesh, "abort", before, after)
    assert not (mesh.out / "test" / "mesh-root-next").exists()
    assert file_fingerprint(mesh.out / "test" / ("mesh-root-next-aborted-%s" % marker["id"]) / "root-ca.crt") == new_root
    assert not any((mesh.out / "test" / c.name / "pki-next").exists() for c in mesh.clusters)
    after_abort = mesh.run("playbooks/verify.yml")
    assert after_abort.returncode == 0, failure(after_abort)
    assert mesh.read_json("reports/mesh/mesh-trust.json")["roots"] == [old_root]
    again = mesh.run("playbooks/rotate.yml", "-e", "rotation_abort=true", extra_vars=FAST)
    assert again.returncode == 0 and "Nothing left to do: the rotation was aborted" in text(again), failure(again)
    assert all(host["changed"] == 0 for host in recap(again.stdout).values()), failure(again)

    # A new rotation (rotation_abort=false is false): prepare and publish again, then the switch
    # fails on purpose once its cluster changes are made: the marker keeps it incomplete.
    before = after
    broken = mesh.run("playbooks/rotate.yml", "-e", "rotation_abort=false",
                      extra_vars=dict(FAST, rotation_fail_in_phase="switch", rotation_new=True))
    assert broken.returncode != 0
    assert "resumes at phase switch" in text(broken), failure(broken)
    marker = state(mesh)
    assert marker["completed"] == ["prepare", "publish"] and marker["current"] == "switch"
    new_root = file_fingerprint(mesh.out / "test" / "mesh-root-next" / "root-ca.crt")
    assert new_root != file_fingerprint(mesh.out / "test" / ("mesh-root-next-aborted-%s" % state_id_before_abort(marker))
                                        / "root-ca.crt")
    aborting_now = mesh.run("playbooks/rotate.yml", "-e", "rotation_abort=true", "--check", extra_vars=FAST)
    assert aborting_now.returncode != 0 and "Roll forward" in text(aborting_now), failure(aborting_now)
    assert marker["history"][-1]["phase"] == "switch" and marker["history"][-1]["event"] == "failed"
    assert_bundle_carries(mesh, "switch (interrupted)", old_root, new_root)
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
    assert published_roots(mesh) == {(old_root, new_root)}
    assert_bundle_carries(mesh, "switch and drain", old_root, new_root)
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "drain", before, after)

    # retire + promote: only the new root is published, and the control node's files follow.
    before = after
    last = mesh.run("playbooks/rotate.yml", extra_vars=FAST)
    assert last.returncode == 0, failure(last)
    marker = state(mesh)
    assert marker["finished_at"] and marker["completed"][-2:] == ["retire", "promote"]
    assert published_roots(mesh) == {(new_root,)}
    assert_bundle_carries(mesh, "retire", new_root)
    after = workloads.issue()
    assert_trusted_everywhere(mesh, "retire", before, after)
    assert file_fingerprint(root_dir / "root-ca.crt") == new_root
    assert file_fingerprint(mesh.out / "test" / ("mesh-root-retired-%s" % marker["id"]) / "root-ca.crt") == old_root
    assert not (mesh.out / "test" / "mesh-root-next").exists()

    # The mesh verifies against its new root with the usual paths, and a further run does nothing.
    verify = mesh.run("playbooks/verify.yml")
    assert verify.returncode == 0, failure(verify)
    assert trust_bundle_checked(mesh.read_json("reports/mesh/mesh-trust.json")) == {"east": True, "west": True, "north": True}
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
    assert_bundle_carries(mesh, "intermediate rotation", new_root)
    assert_trusted_everywhere(mesh, "intermediate rotation", before, workloads.issue())
