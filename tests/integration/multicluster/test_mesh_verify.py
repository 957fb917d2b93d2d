"""Three clusters in one inventory: site.yml stops at a failing cluster and leaves the later ones
untouched, then converges all three under one root; verify.yml passes, and names the cluster and
the object once one cluster is broken (a wrong root in a namespace, an expired gateway
certificate); diagnose.yml explains the same problems.

One scenario per module: each costs several minutes of ansible-playbook runs, and pytest-xdist
would build a module's clusters once per worker if its steps were separate tests.
"""

import base64
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.emulators.cert_manager_ca import SPEC_HASH_ANNOTATION
from tests.integration.multicluster.conftest import build_mesh, failure, text
from tests.support import pki_factory

pytestmark = pytest.mark.slow


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


def test_site_stops_at_a_failing_cluster_then_converges_and_verify_names_what_breaks(tmp_path_factory):
    mesh = build_mesh(tmp_path_factory, "verify")
    try:
        check_rollout_stops_at_the_failing_cluster(mesh)
        check_every_cluster_has_its_own_intermediate_under_one_root(mesh)
        check_verify_passes_with_reports(mesh)
        check_verify_and_diagnose_name_the_broken_cluster_and_objects(mesh)
    finally:
        for cluster in mesh.clusters:
            cluster.emulator.stop()


def check_rollout_stops_at_the_failing_cluster(mesh):
    """west refuses the ClusterIssuer: east is done, north untouched; lifted, all three converge."""
    for verb in ("create", "patch", "update"):
        mesh["west"].emulator.deny(verb=verb, resource="clusterissuers")
    stopped = mesh.run("playbooks/site.yml")
    assert stopped.returncode != 0
    assert "Rollout stopped at cluster west" in text(stopped), failure(stopped)
    report = mesh.read_json("reports/rollout.json")
    assert (report["done"], report["failed"], report["untouched"]) == (["east"], ["west"], ["north"]), report
    assert "ClusterIssuer istio-ca" in report["failed_message"]
    assert mesh["north"].emulator.get("v1", "Namespace", "cert-manager") is None
    assert mesh["north"].emulator.list("v1", "Secret") == []

    mesh["west"].emulator.deny_rules.clear()
    converged = mesh.run("playbooks/site.yml")
    assert converged.returncode == 0, failure(converged)
    report = mesh.read_json("reports/rollout.json")
    assert (report["done"], report["failed"], report["untouched"]) == (["east", "west", "north"], [], [])


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
            "root_configmaps", "strict_mtls", "one_trust_domain", "one_root"} <= checks
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
