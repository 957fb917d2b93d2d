"""RFC 5280 4.2.1.10 name constraints that the module evaluates itself (URI, with DNS and IP
beside them), for paths the cryptography verifier refuses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from cryptography import x509

from ansible_collections.certmesh.istio.plugins.module_utils import chain, name_constraints
from tests.support.pki_factory import MeshPKI, bundle, make_gateway_cert, make_intermediate, make_workload_svid


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


@pytest.fixture(scope="module")
def store(mesh):
    return chain.load_store(mesh.root.pem)


def _constrained(mesh, permitted=(), excluded=(), name="constrained"):
    return make_intermediate(mesh.root, name, path_length=0, extensions=[(x509.NameConstraints(
        permitted_subtrees=list(permitted) or None, excluded_subtrees=list(excluded) or None), True)])


def _codes(result):
    return sorted(p["code"] for p in result["problems"])


@pytest.mark.parametrize("uri,host", [
    ("spiffe://cluster.local/ns/a/sa/b", "cluster.local"),
    ("spiffe://Cluster.Local", "cluster.local"),
    ("https://user@host.example:8443/path?q#f", "host.example"),
    ("https://[::1]:8443/", "[::1]"),
    ("urn:uuid:1234", None),
    ("spiffe:///ns/a", None),
])
def test_the_host_of_a_uri_is_what_a_uri_constraint_judges(uri, host):
    assert name_constraints.uri_host(uri) == host


def test_dns_constraints_beside_a_uri_constraint_are_evaluated_too(mesh, store):
    constrained = _constrained(mesh, permitted=[x509.UniformResourceIdentifier("cluster.local"),
                                                x509.DNSName("mesh.example")])
    inside = make_workload_svid(constrained, dns_names=["web.mesh.example"])
    outside = make_workload_svid(constrained, dns_names=["web.evil.example"])
    assert chain.check(bundle(inside, constrained), store)["valid"]
    # The verifier meets the DNS name first and refuses it in its own words.
    result = chain.check(bundle(outside, constrained), store)
    assert _codes(result) == ["untrusted"] and "name constraint" in result["problems"][0]["message"]


def test_an_excluded_ip_range_beside_a_uri_constraint_is_evaluated(mesh, store):
    import ipaddress
    constrained = _constrained(mesh, permitted=[x509.UniformResourceIdentifier("cluster.local")],
                               excluded=[x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))])
    leaf = make_workload_svid(constrained, ips=["10.1.2.3"])
    assert _codes(chain.check(bundle(leaf, constrained), store)) == ["name_constraint_violation"]


def test_a_uri_constraint_mixed_with_an_email_constraint_stays_untrusted(mesh, store):
    constrained = _constrained(mesh, permitted=[x509.UniformResourceIdentifier("cluster.local"),
                                                x509.RFC822Name("mesh.example")])
    result = chain.check(bundle(make_workload_svid(constrained), constrained), store)
    assert _codes(result) == ["untrusted"] and "RFC822Name" in result["problems"][0]["message"]


def test_a_uri_constraint_does_not_limit_dns_names_of_a_gateway(mesh, store):
    constrained = _constrained(mesh, permitted=[x509.UniformResourceIdentifier("cluster.local")])
    gateway = make_gateway_cert(constrained, dns_names=["shop.example.com"])
    assert chain.check(bundle(gateway, constrained), store, purpose="gateway")["valid"]
