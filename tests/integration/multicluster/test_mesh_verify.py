"""Three clusters in one inventory: site.yml stops at a failing cluster and leaves the later ones
untouched, then converges all three under one root; verify.yml passes, and names the cluster and
the object once one cluster is broken (a wrong root in a namespace, an expired gateway certificate)."""

import base64
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.emulators.cert_manager_ca import SPEC_HASH_ANNOTATION
from tests.integration.multicluster.conftest import build_mesh, failure
from tests.support import pki_factory

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """Three clusters; the first site.yml run meets a cluster (west) that refuses the issuer,
    the second, with the refusal lifted, converges all three."""
    built = build_mesh(tmp_path_factory, "verify")
    try:
        for verb in ("create", "patch", "update"):
            built["west"].emulator.deny(verb=verb, resource="clusterissuers")
        built.stopped = built.run("playbooks/site.yml")
        built.stopped_report = built.read_json("reports/rollout.json")
        built["west"].emulator.deny_rules.clear()
        built.site = built.run("playbooks/site.yml")
        assert built.site.returncode == 0, failure(built.site)
        yield built
    finally:
        for cluster in built.clusters:
            cluster.emulator.stop()


def _ca_chain(cluster):
    pem = cluster.secret_pem("cert-manager", "istio-ca-key-pair").encode()
    return x509.load_pem_x509_certificates(pem)


def test_a_failing_cluster_stops_the_rollout_and_later_clusters_stay_untouched(mesh):
    assert mesh.stopped.returncode != 0
    assert "Rollout stopped at cluster west" in mesh.stopped.stdout, failure(mesh.stopped)
    assert mesh.stopped_report["done"] == ["east"]
    assert mesh.stopped_report["failed"] == ["west"]
    assert mesh.stopped_report["untouched"] == ["north"]
    assert "ClusterIssuer istio-ca" in mesh.stopped_report["failed_message"] or "forbidden" in mesh.stopped.stdout


def test_site_converges_every_cluster_with_its_own_intermediate_under_one_root(mesh):
    report = mesh.read_json("reports/rollout.json")
    assert report["done"] == ["east", "west", "north"] and report["failed"] == [] and report["untouched"] == []
    chains = dict((c.name, _ca_chain(c)) for c in mesh.clusters)
    intermediates = set(chain[0].fingerprint(pki_factory.hashes.SHA256()) for chain in chains.values())
    roots = set(chain[-1].fingerprint(pki_factory.hashes.SHA256()) for chain in chains.values())
    assert len(intermediates) == 3 and len(roots) == 1
    for name, chain in chains.items():
        assert chain[0].issuer == chain[-1].subject, name
        assert name in chain[0].subject.rfc4514_string()
    published = set(c.root_bundle() for c in mesh.clusters)
    assert len(published) == 1


def test_verify_passes_on_the_converged_mesh_with_reports(mesh):
    result = mesh.run("playbooks/verify.yml")
    assert result.returncode == 0, failure(result)
    report = mesh.read_json("reports/mesh/mesh-trust.json")
    assert report["summary"]["ok"] and report["summary"]["clusters"] == ["east", "north", "west"]
    checks = set(r["check"] for r in report["results"])
    assert {"issuer_ready", "istio_csr_serving", "istiod_external_ca", "certificate_chains", "root_configmaps",
            "strict_mtls", "one_trust_domain", "one_root"} <= checks
    reports = mesh.out / "test" / "reports" / "mesh"
    for name in ("mesh-trust.junit.xml", "mesh-trust.md", "rotation-check.json", "rotation-check.junit.xml",
                 "rotation-check.md", "rotation-check.html"):
        assert (reports / name).is_file(), name


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


def test_verify_names_the_broken_cluster_and_objects(mesh):
    west = mesh["west"]
    stranger = pki_factory.make_root("someone else's root")
    namespace = "istio-system"
    west.emulator.apply({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "istio-ca-root-cert", "namespace": namespace},
                         "data": {"root-cert.pem": stranger.pem}})
    west.emulator.apply(_expired_gateway_secret(mesh, west))
    try:
        result = mesh.run("playbooks/verify.yml")
        assert result.returncode != 0
        assert "cluster west: ConfigMap istio-system/istio-ca-root-cert" in result.stdout, failure(result)
        assert "cluster west: Certificate istio-system/app (gateway)" in result.stdout, failure(result)
        assert "expired" in result.stdout
        report = mesh.read_json("reports/mesh/mesh-trust.json")
        assert report["summary"]["failing_clusters"] == ["mesh", "west"]
        failed = [(r["cluster"], r["object"]) for r in report["results"] if not r["ok"]]
        assert ("west", "ConfigMap istio-system/istio-ca-root-cert") in failed
        assert ("west", "Certificate istio-system/app") in failed
        assert all(cluster in ("west", "mesh") for cluster, _ in failed)
    finally:
        west.emulator.delete("v1", "Secret", "app-tls", "istio-system")
        west.republish_trust()
