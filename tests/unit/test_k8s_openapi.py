"""The schema translation must reject what the API server rejects, and accept what it accepts."""

from tests.support.k8s_openapi import StructuralValidator
from tests.support.upstream import crd_validator

CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "gw", "namespace": "istio-system"},
    "spec": {
        "secretName": "gw-tls",
        "dnsNames": ["app.example.com"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
    },
}


def test_valid_certificate_passes_the_real_crd_schema():
    assert crd_validator("cert-manager.io/v1", "Certificate").errors(CERTIFICATE) == []


def test_dns_names_given_as_string_is_rejected_like_the_api_server_does():
    broken = {**CERTIFICATE, "spec": {**CERTIFICATE["spec"], "dnsNames": "app.example.com"}}
    errors = crd_validator("cert-manager.io/v1", "Certificate").errors(broken)
    assert any(e.startswith("spec.dnsNames:") for e in errors), errors


def test_certificate_without_issuer_ref_is_rejected():
    spec = {k: v for k, v in CERTIFICATE["spec"].items() if k != "issuerRef"}
    errors = crd_validator("cert-manager.io/v1", "Certificate").errors({**CERTIFICATE, "spec": spec})
    assert any("issuerRef" in e for e in errors), errors


def test_unknown_field_is_rejected_under_strict_field_validation():
    broken = {**CERTIFICATE, "spec": {**CERTIFICATE["spec"], "dnsName": ["typo"]}}
    errors = crd_validator("cert-manager.io/v1", "Certificate").errors(broken)
    assert any("dnsName" in e and "Additional properties" in e for e in errors), errors


def test_int_or_string_accepts_both_and_rejects_a_list():
    validator = StructuralValidator(
        {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}}}
    )
    assert validator.errors({"port": 443}) == []
    assert validator.errors({"port": "https"}) == []
    assert validator.errors({"port": [443]}) != []


def test_preserve_unknown_fields_allows_extra_keys():
    validator = StructuralValidator(
        {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": True}
    )
    assert validator.errors({"a": "x", "b": 1}) == []


def test_nullable_field_accepts_null():
    validator = StructuralValidator({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}})
    assert validator.errors({"a": None}) == []
    assert validator.errors({"a": 3}) != []
