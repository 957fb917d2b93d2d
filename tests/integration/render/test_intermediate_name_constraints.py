"""mesh_ca_intermediate_name_constraints: the cluster intermediate is constrained to the trust
domain, its SVIDs verify (chain_verify and openssl), SVIDs of another trust domain do not."""

import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from tests.support.pki_factory import Issued, bundle, make_workload_svid
from tests.support.playbook import run_playbook

# One worker runs the whole module, so its module-scoped fixture is built once (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("intermediate_name_constraints")]


@pytest.fixture(scope="module")
def constrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("constrained")
    out = tmp / "out"
    result = run_playbook("playbooks/site.yml", tmp_path=tmp, extra_vars={
        "certmesh_output_dir": str(out), "mesh_ca_intermediate_name_constraints": True,
        "mesh_ca_key_type": "ECC"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    pki_dir = out / "local" / "cluster1" / "pki"
    cert = x509.load_pem_x509_certificate((pki_dir / "intermediate-ca.crt").read_bytes())
    key = serialization.load_pem_private_key((pki_dir / "intermediate-ca.key").read_bytes(), None)
    return {"intermediate": Issued(cert, key), "root_pem": (pki_dir / "root-ca.crt").read_text(), "dir": pki_dir}


def test_the_intermediate_carries_a_critical_permitted_uri_constraint_for_the_trust_domain(constrained):
    found = constrained["intermediate"].cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert found.critical
    assert found.value.permitted_subtrees == [x509.UniformResourceIdentifier("cluster.local")]
    assert found.value.excluded_subtrees is None


def test_an_svid_of_the_trust_domain_from_the_constrained_intermediate_is_valid(constrained):
    svid = make_workload_svid(constrained["intermediate"], "cluster.local")
    result = chain.check(bundle(svid, constrained["intermediate"]), chain.load_store(constrained["root_pem"]),
                         trust_domain="cluster.local")
    assert result["valid"], result["problems"]


def test_an_svid_of_another_trust_domain_is_a_name_constraint_violation(constrained):
    svid = make_workload_svid(constrained["intermediate"], "other.example")
    result = chain.check(bundle(svid, constrained["intermediate"]), chain.load_store(constrained["root_pem"]))
    assert [p["code"] for p in result["problems"]] == ["name_constraint_violation"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_agrees_on_both_svids(constrained, tmp_path):
    (tmp_path / "root.pem").write_text(constrained["root_pem"])
    (tmp_path / "intermediate.pem").write_text(constrained["intermediate"].pem)
    verdicts = []
    for trust_domain in ("cluster.local", "other.example"):
        (tmp_path / "leaf.pem").write_text(make_workload_svid(constrained["intermediate"], trust_domain).pem)
        verdicts.append(subprocess.run(
            ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
             str(tmp_path / "intermediate.pem"), str(tmp_path / "leaf.pem")],
            capture_output=True, text=True, check=False).returncode)
    assert verdicts[0] == 0 and verdicts[1] != 0
