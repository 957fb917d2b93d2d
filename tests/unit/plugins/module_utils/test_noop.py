"""What a no-op re-run may skip: CA files in place, unchanged Helm releases, one apply call's results."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import gzip
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certmesh.istio.plugins.module_utils.noop import (apply_results, ca_files_drift,
                                                                          helm_releases_to_apply)

SPEC = {"key_type": "ECC", "key_size": 4096, "key_curve": "secp384r1", "organization": "certmesh",
        "root_common_name": "test mesh root CA", "intermediate_common_name": "east intermediate CA",
        "name_constraints": [], "publish_intermediate": False}


def _ca(common_name, key, issuer=None, issuer_key=None, path_length=None, not_after_days=30, organization="certmesh",
        name_constraints=None):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=not_after_days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if name_constraints:
        builder = builder.add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.UniformResourceIdentifier(name) for name in name_constraints],
            excluded_subtrees=None), critical=True)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path, content, mode):
    with open(str(path), "wb") as stream:
        stream.write(content)
    os.chmod(str(path), mode)


@pytest.fixture
def ca_files(tmp_path):
    """The files mesh_ca's tasks write for one cluster (ECC keys), with their modes."""
    root_dir, cluster_dir = tmp_path / "mesh-root", tmp_path / "east" / "pki"
    for folder in (root_dir, cluster_dir):
        folder.mkdir(parents=True)
        os.chmod(str(folder), 0o700)
    root_key, intermediate_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    root = _ca("test mesh root CA", root_key)
    intermediate = _ca("east intermediate CA", intermediate_key, root, root_key, path_length=0)
    _write(root_dir / "root-ca.key", _key_pem(root_key), 0o600)
    _write(root_dir / "root-ca.crt", _pem(root), 0o644)
    _write(cluster_dir / "intermediate-ca.key", _key_pem(intermediate_key), 0o600)
    _write(cluster_dir / "intermediate-ca.crt", _pem(intermediate), 0o644)
    _write(cluster_dir / "root-ca.crt", _pem(root), 0o644)
    _write(cluster_dir / "ca-chain.crt", _pem(intermediate).rstrip() + b"\n" + _pem(root).rstrip() + b"\n", 0o644)
    spec = dict(SPEC, root_dir=str(root_dir), intermediate_dir=str(cluster_dir), cluster_pki_dir=str(cluster_dir))
    return spec, root, root_key, intermediate_key


def test_ca_files_in_place_leave_nothing_for_the_modules(ca_files):
    assert ca_files_drift(ca_files[0]) == []


def test_a_missing_intermediate_key_is_drift(ca_files):
    spec = ca_files[0]
    os.unlink(os.path.join(spec["intermediate_dir"], "intermediate-ca.key"))
    assert ca_files_drift(spec) == ["%s/intermediate-ca.key is missing" % spec["intermediate_dir"]]


def test_a_key_readable_by_others_is_drift(ca_files):
    spec = ca_files[0]
    os.chmod(os.path.join(spec["root_dir"], "root-ca.key"), 0o644)
    assert ca_files_drift(spec) == ["%s/root-ca.key has mode 0644, not 0600" % spec["root_dir"]]


def test_a_symlinked_key_is_drift_so_the_tasks_refuse_it(ca_files, tmp_path):
    spec = ca_files[0]
    key = os.path.join(spec["root_dir"], "root-ca.key")
    os.rename(key, str(tmp_path / "elsewhere.key"))
    os.symlink(str(tmp_path / "elsewhere.key"), key)
    assert ca_files_drift(spec) == ["%s is a symlink" % key]


def test_another_key_type_or_subject_is_drift(ca_files):
    spec = ca_files[0]
    assert ca_files_drift(dict(spec, key_type="RSA")) == ["the root key is not an RSA key of 4096 bits",
                                                          "the intermediate key is not an RSA key of 4096 bits"]
    assert any("another subject" in problem for problem in ca_files_drift(dict(spec, organization="other")))


def test_name_constraints_asked_for_but_absent_are_drift(ca_files):
    problems = ca_files_drift(dict(ca_files[0], name_constraints=["URI:cluster.local"]))
    assert problems == ["the intermediate CA has other name constraints than URI:cluster.local"]


def test_an_intermediate_signed_by_another_root_is_drift(ca_files):
    spec, root, _root_key, intermediate_key = ca_files
    other_key = ec.generate_private_key(ec.SECP384R1())
    forged = _ca("east intermediate CA", intermediate_key, root, other_key, path_length=0)
    _write(os.path.join(spec["intermediate_dir"], "intermediate-ca.crt"), _pem(forged), 0o644)
    problems = ca_files_drift(spec)
    assert "the intermediate CA is not signed by the mesh root" in problems
    assert "%s/ca-chain.crt differs from what would be written" % spec["cluster_pki_dir"] in problems


def test_an_expired_intermediate_is_drift(ca_files):
    spec, root, root_key, intermediate_key = ca_files
    expired = _ca("east intermediate CA", intermediate_key, root, root_key, path_length=0, not_after_days=-1)
    _write(os.path.join(spec["intermediate_dir"], "intermediate-ca.crt"), _pem(expired), 0o644)
    assert "the intermediate CA has expired" in ca_files_drift(spec)


def test_a_stale_published_chain_is_drift(ca_files):
    spec = ca_files[0]
    _write(os.path.join(spec["cluster_pki_dir"], "ca-chain.crt"), b"stale\n", 0o644)
    assert ca_files_drift(spec) == ["%s/ca-chain.crt differs from what would be written" % spec["cluster_pki_dir"]]


def test_an_unreadable_key_is_drift_and_never_raises(ca_files):
    spec = ca_files[0]
    _write(os.path.join(spec["root_dir"], "root-ca.key"), b"-----BEGIN PRIVATE KEY-----\nnope\n", 0o600)
    assert ca_files_drift(spec) == ["the CA files could not be checked (ValueError)"]
    assert ca_files_drift({}) == ["the CA files could not be checked (KeyError)"]


def test_drift_never_quotes_key_material(ca_files):
    spec = ca_files[0]
    key = open(os.path.join(spec["root_dir"], "root-ca.key")).read()
    for variant in (dict(spec, key_type="RSA"), dict(spec, organization="x")):
        assert not any(line in " ".join(ca_files_drift(variant)) for line in key.splitlines()[1:-1])


def _release_secret(name, namespace, version, status, chart, chart_version, config):
    record = {"name": name, "namespace": namespace, "version": version, "info": {"status": status},
              "chart": {"metadata": {"name": chart, "version": chart_version}}, "config": config}
    data = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(record).encode()))).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, version), "namespace": namespace},
            "data": {"release": data}}


CERT_MANAGER = {"name": "cert-manager", "namespace": "cert-manager", "chart": "cert-manager",
                "repo": "https://charts.jetstack.io", "version": "v1.21.1", "values": {"crds": {"enabled": True}}}


def test_a_deployed_release_with_the_same_chart_and_values_is_left_alone():
    secrets = [_release_secret("cert-manager", "cert-manager", 1, "superseded", "cert-manager", "v1.20.0", {}),
               _release_secret("cert-manager", "cert-manager", 2, "deployed", "cert-manager", "v1.21.1",
                               {"crds": {"enabled": True}})]
    assert helm_releases_to_apply([CERT_MANAGER], secrets) == []


@pytest.mark.parametrize("secret", [
    _release_secret("cert-manager", "cert-manager", 3, "failed", "cert-manager", "v1.21.1", {"crds": {"enabled": True}}),
    _release_secret("cert-manager", "cert-manager", 3, "deployed", "cert-manager", "v1.20.0", {"crds": {"enabled": True}}),
    _release_secret("cert-manager", "cert-manager", 3, "deployed", "cert-manager", "v1.21.1", {"crds": {"enabled": False}}),
    _release_secret("cert-manager", "other", 3, "deployed", "cert-manager", "v1.21.1", {"crds": {"enabled": True}}),
], ids=["failed-revision", "other-version", "values-changed-behind-our-back", "other-namespace"])
def test_a_release_changed_behind_our_back_goes_to_helm(secret):
    older = _release_secret("cert-manager", "cert-manager", 2, "deployed", "cert-manager", "v1.21.1",
                            {"crds": {"enabled": True}})
    assert helm_releases_to_apply([CERT_MANAGER], [older, secret]) == (
        [] if secret["metadata"]["namespace"] == "other" else [CERT_MANAGER])


def test_a_missing_release_an_unpinned_one_or_an_unreadable_record_goes_to_helm():
    unpinned = dict(CERT_MANAGER, version=None)
    deployed = _release_secret("cert-manager", "cert-manager", 1, "deployed", "cert-manager", "v1.21.1",
                               {"crds": {"enabled": True}})
    assert helm_releases_to_apply([CERT_MANAGER], []) == [CERT_MANAGER]
    assert helm_releases_to_apply([unpinned], [deployed]) == [unpinned]
    assert helm_releases_to_apply([CERT_MANAGER], [dict(deployed, data={"release": "garbage"})]) == [CERT_MANAGER]


ISSUER = {"kind": "ClusterIssuer", "metadata": {"name": "istio-ca"}}
ROOT = {"kind": "Secret", "metadata": {"name": "istio-root-ca", "namespace": "cert-manager"}}


def test_one_call_over_several_objects_reads_as_a_loop_would():
    registered = {"changed": True, "result": {"results": [
        {"changed": True, "result": {"kind": "Secret"}},
        {"changed": False, "result": {}, "error": {"msg": "Failed to apply object: forbidden", "reason": "Forbidden"}}]}}
    shaped = apply_results(registered, [ROOT, ISSUER])
    assert shaped[0] == {"item": ROOT, "result": {"kind": "Secret"}, "changed": True}
    assert shaped[1]["item"] == ISSUER and shaped[1]["msg"] == "Failed to apply object: forbidden"
    assert [entry["item"] for entry in shaped if "msg" in entry and "result" not in entry] == [ISSUER]


def test_one_object_and_a_call_that_never_started_read_as_a_loop_would():
    single = {"changed": False, "result": {}, "error": {"msg": "Failed to apply object: invalid"}}
    expected = [{"item": ISSUER, "msg": "Failed to apply object: invalid", "failed": True}]
    assert apply_results(single, [ISSUER]) == expected
    assert apply_results({"failed": True, "msg": "no kubeconfig"}, [ROOT, ISSUER]) == [
        {"item": ROOT, "msg": "no kubeconfig", "failed": True}]
    assert apply_results({"skipped": True}, [ROOT]) == []
    assert apply_results({"changed": False, "result": {"kind": "ClusterIssuer"}}, [ISSUER]) == [
        {"item": ISSUER, "result": {"kind": "ClusterIssuer"}, "changed": False}]
