"""Fast checks (no ansible-playbook) of the pieces the Vault switch relies on.

* ``vault_pki`` with ``external_root.private_key_path``: the mesh root signs Vault's intermediate as
  a CA in one run (Vault's CSR carries no CA extensions, so a signer copying them would make none).
* ``CertManagerVaultStandIn``: cert-manager's vault issuer against the Kubernetes and Vault emulators.
"""

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certmesh.istio.plugins.module_utils import chain as chain_utils
from ansible_collections.certmesh.istio.plugins.modules import vault_pki, vault_trust_check
from tests.emulators.cert_manager_vault import CertManagerVaultStandIn
from tests.integration.vault.test_vault_pki_module import _mesh_root, run_module

CM_API = "cert-manager.io/v1"
RBAC = "rbac.authorization.k8s.io/v1"
SPIFFE = "spiffe://cluster.local/ns/shop/sa/cart"


@pytest.fixture
def mesh_root(tmp_path):
    key, cert = _mesh_root()
    key_path = tmp_path / "root-ca.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), str(key_path), cert


def _vault_args(vault, root_pem, key_path, **extra):
    args = dict(url=vault.url, token=vault.root_token, trust_domain="cluster.local", key_type="any",
                external_root={"certificate": root_pem, "private_key_path": key_path}, intermediate_ttl="8760h",
                kubernetes_auth={"host": "https://127.0.0.1:6443", "service_account_names": ["vault-issuer"],
                                 "audience": "vault://vault-istio-ca"})
    args.update(extra)
    return args


def test_the_root_key_on_the_control_node_signs_vaults_intermediate_as_a_ca_in_one_run(vault_emulator, mesh_root):
    root_pem, key_path, root_cert = mesh_root
    first = run_module(vault_pki, _vault_args(vault_emulator, root_pem, key_path))
    assert first["changed"] is True and "intermediate_csr" not in first, first
    intermediate = x509.load_pem_x509_certificate(first["intermediate_certificate"].encode())
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value == \
        x509.BasicConstraints(ca=True, path_length=0)
    usage = intermediate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert intermediate.not_valid_after_utc <= root_cert.not_valid_after_utc
    intermediate.verify_directly_issued_by(root_cert)
    trust = run_module(vault_trust_check, {"url": vault_emulator.url, "token": vault_emulator.root_token,
                                           "mesh_roots": [root_pem]})
    assert trust["trusted"] is True, trust
    assert run_module(vault_pki, _vault_args(vault_emulator, root_pem, key_path))["changed"] is False


def test_a_key_that_is_not_the_roots_is_refused_naming_the_option(vault_emulator, mesh_root, tmp_path):
    root_pem, dummy, dummy_cert = mesh_root
    other_key, dummy_cert = _mesh_root("another root")
    other = tmp_path / "other.key"
    other.write_bytes(other_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    out = run_module(vault_pki, _vault_args(vault_emulator, root_pem, str(other)))
    assert out["failed"] is True
    assert "external_root.private_key_path is not the key of external_root.certificate" in out["msg"]


def test_private_key_path_and_signed_intermediate_are_mutually_exclusive(vault_emulator, mesh_root):
    root_pem, key_path, dummy = mesh_root
    args = _vault_args(vault_emulator, root_pem, key_path)
    args["external_root"]["signed_intermediate"] = root_pem
    out = run_module(vault_pki, args)
    assert out["failed"] is True and "mutually exclusive" in out["msg"]


def _cert_manager_objects(issuer_name="vault-istio-ca", server=None):
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vault-issuer", "namespace": "cert-manager"}},
        {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "vault-issuer-token-creator", "namespace": "cert-manager"},
         "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["vault-issuer"],
                    "verbs": ["create"]}]},
        {"apiVersion": RBAC, "kind": "RoleBinding",
         "metadata": {"name": "vault-issuer-token-creator", "namespace": "cert-manager"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vault-issuer-token-creator"},
         "subjects": [{"kind": "ServiceAccount", "name": "cert-manager", "namespace": "cert-manager"}]},
        {"apiVersion": CM_API, "kind": "ClusterIssuer", "metadata": {"name": issuer_name},
         "spec": {"vault": {"server": server, "path": "pki_int/sign/istio-mesh",
                            "auth": {"kubernetes": {"role": "cert-manager", "mountPath": "/v1/auth/kubernetes",
                                                    "serviceAccountRef": {"name": "vault-issuer"}}}}}},
    ]


def _ready(obj):
    return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})


@pytest.fixture
def cluster(kube_emulator_factory, vault_emulator, mesh_root):
    root_pem, key_path, dummy = mesh_root
    run_module(vault_pki, _vault_args(vault_emulator, root_pem, key_path))
    cluster = kube_emulator_factory("vault", controllers=[CertManagerVaultStandIn(vault_emulator.emulator)])
    api = cluster.emulator
    for namespace in ("cert-manager", "istio-system"):
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return api


def test_the_vault_issuer_signs_an_istio_csr_shaped_certificate_that_chains_to_the_mesh_root(
        cluster, vault_emulator, mesh_root):
    for obj in _cert_manager_objects(server=vault_emulator.url):
        cluster.apply(obj, manager="test")
    issuer = cluster.get(CM_API, "ClusterIssuer", "vault-istio-ca")
    assert _ready(issuer)["status"] == "True" and _ready(issuer)["reason"] == "VaultVerified", issuer["status"]
    cluster.apply({"apiVersion": CM_API, "kind": "Certificate", "metadata": {"name": "cart", "namespace": "istio-system"},
                   "spec": {"secretName": "cart", "duration": "1h", "uris": [SPIFFE],
                            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
                            "issuerRef": {"name": "vault-istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}},
                  manager="test")
    certificate = cluster.get(CM_API, "Certificate", "cart", "istio-system")
    assert _ready(certificate)["status"] == "True", certificate.get("status")
    secret = cluster.get("v1", "Secret", "cart", "istio-system")
    chain_pem = base64.b64decode(secret["data"]["tls.crt"]).decode()
    leaf = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    assert leaf.subject == x509.Name([])
    assert base64.b64decode(secret["data"]["ca.crt"]).decode().strip() == mesh_root[0].strip()
    result = chain_utils.check(chain_pem, chain_utils.load_store(mesh_root[0]), purpose="workload",
                               trust_domain="cluster.local")
    assert result["valid"], result["problems"]
    # the sign request went to the Vault role endpoint (with a token of the auth role policy)
    assert ("POST", None, "pki_int/sign/istio-mesh", 200) in vault_emulator.emulator.requests


def test_without_the_token_rbac_or_with_another_audience_the_issuer_is_not_ready(cluster, vault_emulator):
    objects = _cert_manager_objects(server=vault_emulator.url)
    for obj in objects[:2] + objects[3:]:  # no RoleBinding: cert-manager may not request the token
        cluster.apply(obj, manager="test")
    condition = _ready(cluster.get(CM_API, "ClusterIssuer", "vault-istio-ca"))
    assert condition["status"] == "False" and condition["reason"] == "VaultError"
    assert 'cannot create resource "serviceaccounts/token"' in condition["message"]
    cluster.apply(objects[2], manager="test")
    assert _ready(cluster.get(CM_API, "ClusterIssuer", "vault-istio-ca"))["status"] == "True"

    cluster.apply(_cert_manager_objects("renamed", server=vault_emulator.url)[3], manager="test")
    condition = _ready(cluster.get(CM_API, "ClusterIssuer", "renamed"))
    assert condition["status"] == "False" and "vault://renamed" in condition["message"], condition
