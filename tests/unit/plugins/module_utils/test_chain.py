"""Chain verification: every problem code, several at once, root bundles, bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from cryptography import x509

from ansible_collections.certmesh.istio.plugins.module_utils import chain, pki
from tests.support.pki_factory import (
    CA_KEY_USAGE, MeshPKI, bundle, days, hours, make_cert, make_gateway_cert, make_intermediate,
    make_key, make_leaf, make_root, make_workload_svid, now,
)


@pytest.fixture(scope="module", params=["ec", "rsa"])
def mesh(request):
    return MeshPKI(request.param)


@pytest.fixture(scope="module")
def store(mesh):
    return chain.load_store(mesh.root.pem)


def codes(result):
    return sorted(p["code"] for p in result["problems"])


def check(pem, store, **options):
    return chain.check(pem, store, **options)


# --- valid chains ---------------------------------------------------------------------------

def test_a_24h_workload_svid_chain_is_valid(mesh, store):
    result = check(bundle(mesh.workload, mesh.intermediate), store, trust_domain="cluster.local")
    assert result == {"valid": True, "problems": [], "chain": result["chain"]}
    assert [c["subject"] for c in result["chain"]] == [
        "", "CN=certmesh cluster intermediate", "CN=certmesh mesh root"]
    assert result["chain"][0]["spiffe_id"] == "spiffe://cluster.local/ns/shop/sa/frontend"


def test_the_seeds_90_day_gateway_certificate_is_valid_for_its_host(mesh, store):
    result = check(bundle(mesh.gateway, mesh.intermediate), store, purpose="gateway",
                   dns_names=["shop.example.com"])
    assert result["valid"], result["problems"]


def test_the_istio_csr_intermediate_is_valid_as_a_ca(mesh, store):
    assert check(mesh.intermediate.pem, store, purpose="ca")["valid"]


def test_the_root_itself_is_valid_as_a_ca(mesh, store):
    assert check(mesh.root.pem, store, purpose="ca")["valid"]


def test_a_chain_that_includes_its_trusted_root_is_valid(mesh, store):
    assert check(bundle(mesh.workload, mesh.intermediate, mesh.root), store)["valid"]


def test_a_bundle_with_two_roots_trusts_chains_from_either(mesh):
    next_root = make_root("certmesh next mesh root", key=make_key("ec", 384))
    next_intermediate = make_intermediate(next_root, "next intermediate")
    next_svid = make_workload_svid(next_intermediate)
    both = chain.load_store(bundle(mesh.root, next_root))
    assert check(bundle(mesh.workload, mesh.intermediate), both)["valid"]
    assert check(bundle(next_svid, next_intermediate), both)["valid"]
    assert codes(check(bundle(next_svid, next_intermediate), chain.load_store(mesh.root.pem))) == ["untrusted"]


def test_roots_given_as_a_list_of_files_are_all_trusted(mesh, tmp_path):
    other = make_root("other root", key=make_key("ec", 384))
    paths = [str(mesh.root.write(tmp_path / "a.pem")), str(other.write(tmp_path / "b.pem"))]
    assert check(bundle(mesh.workload, mesh.intermediate), chain.load_store(paths))["valid"]


def test_a_wildcard_san_covers_one_label_only(mesh, store):
    wildcard = make_gateway_cert(mesh.intermediate, dns_names=["*.example.com"])
    pem = bundle(wildcard, mesh.intermediate)
    assert check(pem, store, purpose="gateway", dns_names=["shop.example.com"])["valid"]
    result = check(pem, store, purpose="gateway", dns_names=["a.b.example.com", "example.com"])
    assert codes(result) == ["dns_name_mismatch"]
    assert "a.b.example.com, example.com" in result["problems"][0]["message"]


def test_a_leaf_without_authority_key_identifier_is_accepted(mesh, store):
    # The web PKI requires an AKI; mesh CAs do not always set one, and paths build by name.
    leaf = make_workload_svid(mesh.intermediate, aki=False)
    assert check(bundle(leaf, mesh.intermediate), store)["valid"]


def test_a_ca_with_non_critical_basic_constraints_is_accepted(mesh):
    root = make_root("lenient root", bc_critical=False)
    leaf = make_workload_svid(make_intermediate(root, "lenient", bc_critical=False))
    inter_pem = pki.load_certificates(leaf.pem)  # noqa: F841 - loading alone must work
    result = check(leaf.pem, chain.load_store(root.pem))
    assert codes(result) == ["untrusted"]  # the intermediate was not supplied
    intermediate = make_intermediate(root, "lenient2", bc_critical=False)
    assert check(bundle(make_workload_svid(intermediate), intermediate), chain.load_store(root.pem))["valid"]


# --- one problem each -----------------------------------------------------------------------

def test_an_expired_leaf_is_expired_and_nothing_else(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, not_before=now() - days(2), lifetime=hours(24))
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["expired"]
    problem = result["problems"][0]
    assert set(problem) == {"code", "message", "subject", "serial"}
    assert problem["serial"] == pki.serial_hex(leaf.cert)
    assert "ago" in problem["message"]


def test_a_leaf_valid_from_tomorrow_is_not_yet_valid(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, not_before=now() + days(1))
    assert codes(check(bundle(leaf, mesh.intermediate), store)) == ["not_yet_valid"]


def test_an_expired_intermediate_is_reported_on_the_intermediate(mesh, store):
    old = make_intermediate(mesh.root, "old intermediate", not_before=now() - days(30), lifetime=days(10))
    leaf = make_workload_svid(old, not_before=now() - days(25), lifetime=days(2))
    result = check(bundle(leaf, old), store)
    assert ("expired", "CN=old intermediate") in [(p["code"], p["subject"]) for p in result["problems"]]
    assert "untrusted" not in codes(result)


def test_evaluating_at_a_later_time_reports_expiry(mesh, store):
    at = mesh.workload.cert.not_valid_after_utc + hours(1)
    assert codes(check(bundle(mesh.workload, mesh.intermediate), store, at=at)) == ["expired"]
    assert codes(check(bundle(mesh.workload, mesh.intermediate), store, at=pki.iso(at))) == ["expired"]


def test_a_chain_from_another_mesh_is_untrusted(mesh):
    other = make_root("certmesh mesh root", key=make_key("ec", 521))
    result = check(bundle(mesh.workload, mesh.intermediate), chain.load_store(other.pem))
    assert codes(result) == ["untrusted"]
    assert "signature does not verify" in result["problems"][0]["message"]


def test_a_missing_intermediate_is_untrusted_and_names_the_missing_issuer(mesh, store):
    result = check(mesh.workload.pem, store)
    assert codes(result) == ["untrusted"]
    assert "CN=certmesh cluster intermediate" in result["problems"][0]["message"]
    assert "missing intermediate" in result["problems"][0]["message"]


def test_an_intermediate_with_the_right_name_but_another_key_is_untrusted(mesh, store):
    impostor = make_intermediate(mesh.root, "certmesh cluster intermediate", key=make_key("ec", 384))
    result = check(bundle(mesh.workload, impostor), store)
    assert codes(result) == ["untrusted"]
    assert "signature does not verify" in result["problems"][0]["message"]


def test_a_leaf_signed_by_another_key_is_untrusted_even_after_a_good_chain_was_cached(mesh, store):
    at = now()
    assert check(bundle(mesh.workload, mesh.intermediate), store, at=at)["valid"]
    rogue_issuer = make_intermediate(make_root("rogue"), "certmesh cluster intermediate",
                                     key=make_key("ec", 384))
    forged = make_workload_svid(rogue_issuer)
    assert codes(check(bundle(forged, mesh.intermediate), store, at=at)) == ["untrusted"]


def test_a_self_signed_chain_end_that_is_not_trusted_is_untrusted(mesh):
    rogue = make_root("rogue root")
    result = check(bundle(make_workload_svid(rogue), rogue), chain.load_store(mesh.root.pem))
    assert codes(result) == ["untrusted"]
    assert "self-signed but not one of the trusted roots" in result["problems"][0]["message"]


def test_an_issuer_that_is_not_a_ca_is_not_a_ca(mesh, store):
    issuer = make_cert("not a ca", mesh.root, is_ca=False, key_usage=CA_KEY_USAGE, lifetime=days(30))
    result = check(bundle(make_workload_svid(issuer), issuer), store)
    assert codes(result) == ["not_a_ca"]
    assert result["problems"][0]["subject"] == "CN=not a ca"


def test_an_issuer_without_basic_constraints_is_not_a_ca(mesh, store):
    issuer = make_cert("no bc", mesh.root, basic_constraints=False, key_usage=CA_KEY_USAGE)
    assert codes(check(bundle(make_workload_svid(issuer), issuer), store)) == ["not_a_ca"]


def test_two_intermediates_under_path_length_zero_exceed_the_path_length(mesh, store):
    upper = make_intermediate(mesh.root, "upper", path_length=0)
    lower = make_intermediate(upper, "lower")
    result = check(bundle(make_workload_svid(lower), lower, upper), store)
    assert codes(result) == ["path_length_exceeded"]
    assert result["problems"][0]["subject"] == "CN=upper"


def test_a_ca_without_key_cert_sign_is_a_key_usage_problem(mesh, store):
    issuer = make_intermediate(mesh.root, "no certsign", key_usage=("digital_signature", "crl_sign"))
    result = check(bundle(make_workload_svid(issuer), issuer), store)
    assert codes(result) == ["key_usage"]
    assert "keyCertSign" in result["problems"][0]["message"]


def test_a_ca_without_key_usage_extension_is_a_key_usage_problem(mesh, store):
    issuer = make_intermediate(mesh.root, "no ku", key_usage=None)
    assert codes(check(bundle(make_workload_svid(issuer), issuer), store)) == ["key_usage"]


def test_a_leaf_without_digital_signature_is_a_key_usage_problem(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, key_usage=("key_encipherment",))
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["key_usage"] and "digitalSignature" in result["problems"][0]["message"]


def test_a_workload_certificate_without_client_auth_is_a_key_usage_problem(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, eku=["server_auth"])
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["key_usage"] and "clientAuth" in result["problems"][0]["message"]


def test_a_gateway_certificate_for_client_auth_only_is_a_key_usage_problem(mesh, store):
    leaf = make_gateway_cert(mesh.intermediate, eku=["client_auth"])
    assert codes(check(bundle(leaf, mesh.intermediate), store, purpose="gateway")) == ["key_usage"]


def test_an_intermediate_restricted_to_server_auth_cannot_issue_workload_certificates(mesh, store):
    issuer = make_intermediate(mesh.root, "gateways only", eku=["server_auth"])
    result = check(bundle(make_workload_svid(issuer), issuer), store)
    assert codes(result) == ["key_usage"] and result["problems"][0]["subject"] == "CN=gateways only"


def test_a_ca_certificate_as_a_workload_leaf_is_a_key_usage_problem(mesh, store):
    result = check(mesh.intermediate.pem, store, purpose="workload")
    assert "key_usage" in codes(result)


def test_a_leaf_with_two_uri_sans_is_spiffe_id_invalid(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, uris=[
        "spiffe://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/c/sa/d"])
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["spiffe_id_invalid"] and "exactly one" in result["problems"][0]["message"]


def test_a_leaf_without_uri_san_is_spiffe_id_invalid(mesh, store):
    leaf = make_leaf(mesh.intermediate, common_name="web", eku=["server_auth", "client_auth"])
    assert codes(check(bundle(leaf, mesh.intermediate), store)) == ["spiffe_id_invalid"]


def test_a_uri_san_that_is_not_an_istio_spiffe_id_is_spiffe_id_invalid(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, uris=["spiffe://cluster.local/web"])
    assert codes(check(bundle(leaf, mesh.intermediate), store)) == ["spiffe_id_invalid"]
    https = make_workload_svid(mesh.intermediate, uris=["https://cluster.local/ns/a/sa/b"])
    assert codes(check(bundle(https, mesh.intermediate), store)) == ["spiffe_id_invalid"]


def test_a_workload_in_another_trust_domain_is_trust_domain_mismatch(mesh, store):
    result = check(bundle(mesh.workload, mesh.intermediate), store, trust_domain="east.example")
    assert codes(result) == ["trust_domain_mismatch"]
    assert "'cluster.local'" in result["problems"][0]["message"]


def test_a_gateway_certificate_for_another_host_is_dns_name_mismatch(mesh, store):
    result = check(bundle(mesh.gateway, mesh.intermediate), store, purpose="gateway",
                   dns_names=["api.example.com"])
    assert codes(result) == ["dns_name_mismatch"]


def test_a_gateway_certificate_without_dns_san_is_dns_name_mismatch(mesh, store):
    leaf = make_leaf(mesh.intermediate, common_name="shop.example.com", eku=["server_auth"])
    assert codes(check(bundle(leaf, mesh.intermediate), store, purpose="gateway")) == ["dns_name_mismatch"]


def test_a_1024_bit_rsa_leaf_is_a_weak_key(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, key_type="rsa", key_size=1024)
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["weak_key"] and "1024 bits" in result["problems"][0]["message"]


def test_a_leaf_on_an_unknown_curve_is_a_weak_key(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, key_type="ec", key_size=192)
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["weak_key"] and "secp192r1" in result["problems"][0]["message"]


def test_a_weak_rsa_intermediate_is_a_weak_key_not_an_untrusted_chain(mesh, store):
    weak = make_intermediate(mesh.root, "weak", key_type="rsa", key_size=1024)
    result = check(bundle(make_workload_svid(weak), weak), store)
    assert codes(result) == ["weak_key"] and result["problems"][0]["subject"] == "CN=weak"


def test_a_leaf_expiring_within_min_remaining_expires_soon(mesh, store):
    result = check(bundle(mesh.gateway, mesh.intermediate), store, purpose="gateway",
                   min_remaining=pki.parse_duration("2160h"))
    assert codes(result) == ["expires_soon"]
    assert check(bundle(mesh.gateway, mesh.intermediate), store, purpose="gateway",
                 min_remaining=pki.parse_duration("24h"))["valid"]


@pytest.mark.parametrize("bad", ["garbage", "", b"\x30\x82\x01\x0a", "-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_bad_input_is_malformed_and_never_raises(store, bad):
    result = check(bad, store)
    assert codes(result) == ["malformed"] and result["problems"][0]["message"].startswith("chain")
    assert result["chain"] == []


def test_a_private_key_instead_of_a_certificate_is_malformed(mesh, store):
    result = check(mesh.workload.key_pem, store)
    assert codes(result) == ["malformed"] and "PRIVATE KEY" in result["problems"][0]["message"]


def test_a_der_certificate_is_malformed(mesh, store):
    assert "DER" in check(mesh.workload.der, store)["problems"][0]["message"]


def test_a_5_mb_input_is_malformed(store):
    result = check("x" * (5 * 1024 * 1024), store)
    assert codes(result) == ["malformed"] and "MB" in result["problems"][0]["message"]


def test_malformed_roots_raise_a_message_naming_the_roots():
    with pytest.raises(pki.MalformedInput) as caught:
        chain.load_store("not a root", "roots")
    assert str(caught.value).startswith("roots:")


def test_no_trusted_roots_is_untrusted(mesh):
    result = check(bundle(mesh.workload, mesh.intermediate), chain.TrustStore([]))
    assert codes(result) == ["untrusted"] and "no trusted root" in result["problems"][0]["message"]


# --- several problems at once ---------------------------------------------------------------

def test_every_problem_of_a_bad_chain_is_reported_not_only_the_first(mesh, store):
    leaf = make_workload_svid(
        mesh.intermediate, key_type="rsa", key_size=1024, not_before=now() - days(3), lifetime=days(1),
        uris=["spiffe://other.domain/ns/a/sa/b"], key_usage=("key_encipherment",))
    result = check(bundle(leaf, mesh.intermediate), store, trust_domain="cluster.local")
    assert codes(result) == ["expired", "key_usage", "trust_domain_mismatch", "weak_key"]
    assert not result["valid"]


def test_problems_on_several_certificates_name_each_certificate(mesh, store):
    old = make_intermediate(mesh.root, "tired", not_before=now() - days(30), lifetime=days(10),
                            key_usage=("digital_signature",))
    leaf = make_workload_svid(old, not_before=now() - days(25), lifetime=days(1),
                              uris=["spiffe://cluster.local/ns/a/sa/b", "spiffe://x/ns/a/sa/b"])
    found = sorted((p["code"], p["subject"]) for p in check(bundle(leaf, old), store)["problems"])
    assert ("expired", "CN=tired") in found and ("key_usage", "CN=tired") in found
    assert ("spiffe_id_invalid", pki.display_name(leaf.cert)) in found
    assert ("expired", pki.display_name(leaf.cert)) in found


def test_an_expired_spare_intermediate_in_the_bundle_is_reported(mesh, store):
    spare = make_intermediate(mesh.root, "spare", not_before=now() - days(30), lifetime=days(1))
    result = check(bundle(mesh.workload, mesh.intermediate, spare), store)
    assert [(p["code"], p["subject"]) for p in result["problems"]] == [("expired", "CN=spare")]
    assert [c["subject"] for c in result["chain"]][-1] == "CN=spare"


def test_name_constraints_of_an_intermediate_are_enforced(mesh, store):
    constrained = make_intermediate(mesh.root, "example.com only", extensions=[(
        x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None), True)])
    inside = make_gateway_cert(constrained, dns_names=["shop.example.com"])
    outside = make_gateway_cert(constrained, dns_names=["shop.evil.org"])
    at = now()
    assert check(bundle(inside, constrained), store, purpose="gateway", at=at)["valid"]
    assert codes(check(bundle(outside, constrained), store, purpose="gateway", at=at)) == ["untrusted"]


# --- SVID rules: keyUsage and URI name constraints ----------------------------------------

def _uri_constrained(issuer, permitted=None, excluded=None, name="cluster.local only"):
    return make_intermediate(issuer, name, path_length=0, extensions=[(x509.NameConstraints(
        permitted_subtrees=[x509.UniformResourceIdentifier(u) for u in permitted] if permitted else None,
        excluded_subtrees=[x509.UniformResourceIdentifier(u) for u in excluded] if excluded else None), True)])


def test_a_workload_leaf_without_key_usage_is_key_usage_missing(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, key_usage=None)
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["key_usage_missing"] and "digitalSignature" in result["problems"][0]["message"]


def test_a_gateway_leaf_without_key_usage_is_still_accepted(mesh, store):
    gateway = make_gateway_cert(mesh.intermediate, key_usage=None)
    assert check(bundle(gateway, mesh.intermediate), store, purpose="gateway")["valid"]


def test_a_workload_leaf_with_key_usage_but_no_digital_signature_cites_the_svid_rule(mesh, store):
    leaf = make_workload_svid(mesh.intermediate, key_usage=("key_agreement",))
    result = check(bundle(leaf, mesh.intermediate), store)
    assert codes(result) == ["key_usage"] and "SPIFFE X.509-SVID 4.3" in result["problems"][0]["message"]


def test_a_leaf_inside_a_permitted_uri_name_constraint_is_valid(mesh, store):
    constrained = _uri_constrained(mesh.root, permitted=["cluster.local"])
    result = check(bundle(make_workload_svid(constrained), constrained), store, trust_domain="cluster.local")
    assert result["valid"], result["problems"]


def test_a_leading_period_uri_constraint_permits_subdomains_only(mesh, store):
    constrained = _uri_constrained(mesh.root, permitted=[".mesh.example"])
    inside = make_workload_svid(constrained, trust_domain="eu1.mesh.example")
    apex = make_workload_svid(constrained, trust_domain="mesh.example")
    assert check(bundle(inside, constrained), store)["valid"]
    assert codes(check(bundle(apex, constrained), store)) == ["name_constraint_violation"]


def test_a_leaf_outside_a_permitted_uri_name_constraint_is_a_name_constraint_violation(mesh, store):
    constrained = _uri_constrained(mesh.root, permitted=["cluster.local"])
    leaf = make_workload_svid(constrained, trust_domain="other.example")
    result = check(bundle(leaf, constrained), store)
    assert codes(result) == ["name_constraint_violation"]
    found = result["problems"][0]
    assert "spiffe://other.example/" in found["message"] and "CN=cluster.local only" in found["message"]
    assert found["subject"] == pki.display_name(leaf.cert)


def test_a_leaf_inside_an_excluded_uri_name_constraint_is_a_name_constraint_violation(mesh, store):
    constrained = _uri_constrained(mesh.root, excluded=["cluster.local"])
    assert codes(check(bundle(make_workload_svid(constrained), constrained), store)) == [
        "name_constraint_violation"]
    other = make_workload_svid(constrained, trust_domain="other.example")
    assert check(bundle(other, constrained), store)["valid"]


def test_a_uri_constraint_written_as_a_spiffe_uri_is_a_violation_with_the_fix(mesh, store):
    # OpenSSL refuses this chain too ("permitted subtree violation"): RFC 5280 URI constraints
    # name a host.
    constrained = _uri_constrained(mesh.root, permitted=["spiffe://cluster.local"])
    result = check(bundle(make_workload_svid(constrained), constrained), store)
    assert codes(result) == ["name_constraint_violation"]
    assert "write 'cluster.local'" in result["problems"][0]["message"]


def test_a_uri_constrained_intermediate_from_another_root_stays_untrusted(mesh, store):
    stranger = make_root("stranger root", key_slot="stranger")
    constrained = _uri_constrained(stranger, permitted=["cluster.local"])
    assert codes(check(bundle(make_workload_svid(constrained), constrained), store)) == ["untrusted"]


def test_a_leaf_signed_by_another_key_under_a_uri_constraint_is_untrusted(mesh, store):
    constrained = _uri_constrained(mesh.root, permitted=["cluster.local"])
    rogue = make_intermediate(mesh.root, "cluster.local only", key=make_key("ec", 256, cached=False))
    forged = make_workload_svid(rogue)
    result = check(bundle(forged, constrained), store)
    assert codes(result) == ["untrusted"] and "signature does not verify" in result["problems"][0]["message"]


def test_an_expired_uri_constrained_intermediate_is_expired(mesh, store):
    constrained = make_intermediate(mesh.root, "old constrained", path_length=0, not_before=now() - days(30),
                                    lifetime=days(10), extensions=[(x509.NameConstraints(permitted_subtrees=[
                                        x509.UniformResourceIdentifier("cluster.local")], excluded_subtrees=None), True)])
    leaf = make_workload_svid(constrained, not_before=now() - days(25))
    assert "expired" in codes(check(bundle(leaf, constrained), store))


def test_an_ed25519_chain_is_untrusted_with_the_reason():
    root = make_root("ed root", key_type="ed25519")
    leaf = make_workload_svid(root, key_type="ed25519")
    result = check(leaf.pem, chain.load_store(root.pem))
    assert codes(result) == ["untrusted"] and "RSA and ECDSA" in result["problems"][0]["message"]


def test_an_unknown_purpose_is_a_value_error(mesh, store):
    with pytest.raises(ValueError):
        check(mesh.workload.pem, store, purpose="banana")


def test_every_documented_code_is_produced_by_this_test_module():
    import pathlib
    text = pathlib.Path(__file__).read_text()
    for code in chain.PROBLEM_CODES:
        assert '"%s"' % code in text, code
