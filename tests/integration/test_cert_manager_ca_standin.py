"""The cert-manager CA issuer stand-in signs Certificates with the issuer's key, as cert-manager does."""

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.verification import PolicyBuilder, Store

CM = "cert-manager.io/v1"


def _create_ca_issuer(emulator):
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
    emulator.create({"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "bootstrap"},
                     "spec": {"selfSigned": {}}})
    emulator.create({"apiVersion": CM, "kind": "Certificate", "metadata": {"name": "mesh-root", "namespace": "cert-manager"},
                     "spec": {"isCA": True, "commonName": "mesh-root", "secretName": "mesh-root", "duration": "87600h",
                              "privateKey": {"algorithm": "ECDSA", "size": 256},
                              "issuerRef": {"name": "bootstrap", "kind": "ClusterIssuer"}}})
    emulator.create({"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "mesh-ca"},
                     "spec": {"ca": {"secretName": "mesh-root"}}})


def _pem(secret, key):
    return base64.b64decode(secret["data"][key])


def _ready(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}.get("Ready", {})


def test_ca_cluster_issuer_signs_certificate_into_tls_secret(kube_emulator):
    emulator = kube_emulator.emulator
    _create_ca_issuer(emulator)
    assert _ready(emulator.get(CM, "ClusterIssuer", "mesh-ca"))["status"] == "True"
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    emulator.create({"apiVersion": CM, "kind": "Certificate", "metadata": {"name": "istiod", "namespace": "istio-system"},
                     "spec": {"secretName": "istiod-tls", "duration": "24h", "renewBefore": "8h",
                              "dnsNames": ["istiod.istio-system.svc"],
                              "uris": ["spiffe://cluster.local/ns/istio-system/sa/istiod"],
                              "usages": ["server auth", "client auth", "digital signature"],
                              "privateKey": {"algorithm": "RSA", "size": 3072},
                              "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}})

    secret = emulator.get("v1", "Secret", "istiod-tls", "istio-system")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["annotations"]["cert-manager.io/issuer-name"] == "mesh-ca"
    chain = x509.load_pem_x509_certificates(_pem(secret, "tls.crt"))
    root = x509.load_pem_x509_certificate(_pem(secret, "ca.crt"))
    root_secret = emulator.get("v1", "Secret", "mesh-root", "cert-manager")
    assert root == x509.load_pem_x509_certificate(_pem(root_secret, "tls.crt"))
    assert len(chain) == 2 and chain[1] == root
    leaf = chain[0]
    key = load_pem_private_key(_pem(secret, "tls.key"), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["istiod.istio-system.svc"]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/istio-system/sa/istiod"]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(hours=24)
    verified = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName("istiod.istio-system.svc")) \
        .verify(leaf, [])
    assert verified[-1] == root

    cert = emulator.get(CM, "Certificate", "istiod", "istio-system")
    assert _ready(cert)["status"] == "True" and _ready(cert)["observedGeneration"] == 1
    assert cert["status"]["revision"] == 1
    not_after = datetime.datetime.fromisoformat(cert["status"]["notAfter"].replace("Z", "+00:00"))
    renewal = datetime.datetime.fromisoformat(cert["status"]["renewalTime"].replace("Z", "+00:00"))
    assert not_after - renewal == datetime.timedelta(hours=8)


def test_ca_certificate_gets_ca_constraints_and_ecdsa_key(kube_emulator):
    emulator = kube_emulator.emulator
    _create_ca_issuer(emulator)
    secret = emulator.get("v1", "Secret", "mesh-root", "cert-manager")
    root = x509.load_pem_x509_certificate(_pem(secret, "tls.crt"))
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert isinstance(load_pem_private_key(_pem(secret, "tls.key"), None), ec.EllipticCurvePrivateKey)


def test_issuer_without_its_secret_is_not_ready_and_certificates_wait(kube_emulator):
    emulator = kube_emulator.emulator
    emulator.create({"apiVersion": CM, "kind": "Issuer", "metadata": {"name": "broken", "namespace": "default"},
                     "spec": {"ca": {"secretName": "missing"}}})
    ready = _ready(emulator.get(CM, "Issuer", "broken", "default"))
    assert (ready["status"], ready["reason"]) == ("False", "ErrGetKeyPair")
    emulator.create({"apiVersion": CM, "kind": "Certificate", "metadata": {"name": "app", "namespace": "default"},
                     "spec": {"secretName": "app-tls", "dnsNames": ["app"], "issuerRef": {"name": "broken"}}})
    assert _ready(emulator.get(CM, "Certificate", "app", "default"))["status"] == "False"
    assert emulator.get("v1", "Secret", "app-tls", "default") is None


def test_changing_the_spec_reissues_and_bumps_the_revision(kube_emulator):
    emulator = kube_emulator.emulator
    _create_ca_issuer(emulator)
    body = {"apiVersion": CM, "kind": "Certificate", "metadata": {"name": "app", "namespace": "cert-manager"},
            "spec": {"secretName": "app-tls", "dnsNames": ["a.example.com"],
                     "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer"}}}
    emulator.apply(body, manager="test")
    body["spec"]["dnsNames"] = ["b.example.com"]
    emulator.apply(body, manager="test")
    cert = emulator.get(CM, "Certificate", "app", "cert-manager")
    assert cert["status"]["revision"] == 2 and _ready(cert)["observedGeneration"] == 2
    leaf = x509.load_pem_x509_certificates(_pem(emulator.get("v1", "Secret", "app-tls", "cert-manager"), "tls.crt"))[0]
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName) == ["b.example.com"]


def test_istio_csr_trust_root_is_published_to_every_namespace(kube_emulator):
    emulator = kube_emulator.emulator
    _create_ca_issuer(emulator)
    labels = {"app": "cert-manager-istio-csr"}
    emulator.create({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": "cert-manager-istio-csr", "namespace": "cert-manager"},
                     "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "istio-csr", "image": "quay.io/jetstack/cert-manager-istio-csr:v0.17.0",
                                         "args": ["--issuer-name=mesh-ca", "--issuer-kind=ClusterIssuer",
                                                  "--issuer-group=cert-manager.io"]}]}}}})
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    root = _pem(emulator.get("v1", "Secret", "mesh-root", "cert-manager"), "tls.crt").decode()
    for namespace in ("default", "apps", "cert-manager"):
        config_map = emulator.get("v1", "ConfigMap", "istio-ca-root-cert", namespace)
        assert config_map["data"]["root-cert.pem"] == root, namespace
