"""Loading PEM input, durations, times, SPIFFE IDs and certificate summaries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ansible_collections.certmesh.istio.plugins.module_utils import cert_facts, pki
from tests.support.pki_factory import (
    MeshPKI, bundle, days, hours, make_leaf, make_root, make_workload_svid,
)


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def _malformed(value, origin="chain"):
    with pytest.raises(pki.MalformedInput) as caught:
        pki.load_certificates(value, origin)
    return str(caught.value)


def test_a_bundle_loads_every_certificate_in_order(mesh):
    certs = pki.load_certificates(bundle(mesh.workload, mesh.intermediate, mesh.root))
    assert [c.cert for c in certs] == [mesh.workload.cert, mesh.intermediate.cert, mesh.root.cert]
    leaf_lines = len(mesh.workload.pem.splitlines())
    inter_lines = len(mesh.intermediate.pem.splitlines())
    assert [c.line for c in certs] == [1, 1 + leaf_lines, 1 + leaf_lines + inter_lines]
    assert [c.index for c in certs] == [0, 1, 2]


def test_text_around_pem_blocks_is_ignored(mesh):
    text = "# mesh root, rotated 2026\n" + mesh.root.pem + "\nsome openssl -text output\n"
    assert pki.load_certificates(text)[0].cert == mesh.root.cert


def _armor_variants(pem):
    lines = pem.splitlines()
    return {
        "as written": pem,
        "CRLF line ends": pem.replace("\n", "\r\n"),
        "trailing blanks": pem.replace("\n", " \t\n", 5),
        "no final newline": pem.rstrip(),
        "base64 on one line": "\n".join([lines[0], "".join(lines[1:-1]), lines[-1]]) + "\n",
        "a PEM header": pem.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
        "a stray character": pem.replace("\n", "\n!", 1),
        "a non-ASCII character": pem.replace("\n", "\n\u00fc", 1),
        "padding mid-body": pem.replace("\n", "\n==", 2),
    }


@pytest.mark.parametrize("variant", sorted(_armor_variants("x\ny\nz\n")))
def test_pem_armor_is_read_as_cryptography_reads_it(mesh, variant):
    """The common-case loader decodes blocks itself: it must accept exactly the armor
    cryptography's PEM reader accepts (else the block-by-block path says what is wrong)."""
    text = _armor_variants(mesh.intermediate.pem)[variant]
    try:
        expected = x509.load_pem_x509_certificates(text.encode("latin-1"))
    except ValueError:
        expected = None
    if expected is None:
        assert "not a valid X.509 certificate" in _malformed(text)
    else:
        assert [c.cert for c in pki.load_certificates(text)] == expected


def test_facts_are_the_same_whichever_way_a_certificate_was_loaded(mesh):
    cert_facts.clear()
    loaded = pki.load_certificates(bundle(mesh.workload, mesh.intermediate))
    parsed = x509.load_pem_x509_certificates(bundle(mesh.workload, mesh.intermediate).encode())
    for item, cert in zip(loaded, parsed):
        facts = cert_facts.facts(item.cert)
        again = cert_facts.facts(cert)  # no DER handed over: re-encoded from the object
        assert facts["fingerprint"] == cert.fingerprint(hashes.SHA256()).hex(":").upper()
        assert (again["fingerprint"], again["subject"], again["issuer"]) == (
            facts["fingerprint"], cert.subject.rfc4514_string(), cert.issuer.rfc4514_string())
    assert cert_facts.facts(parsed[1]) is cert_facts.facts(loaded[1].cert)  # a CA's facts, found by value


def test_a_ca_block_read_before_is_not_parsed_again_but_stays_distinct_within_a_bundle(mesh):
    """Thousands of chains carry the same intermediate: its block is parsed once per run. A
    bundle that repeats it still gets two certificates (checks tell them apart by object)."""
    cert_facts.clear()
    first = pki.load_certificates(bundle(mesh.workload, mesh.intermediate))
    second = pki.load_certificates(bundle(mesh.workload, mesh.intermediate, mesh.intermediate))
    assert second[1].cert is first[1].cert  # the CA, found by its block text
    assert second[0].cert is not first[0].cert  # an end-entity certificate is never shared
    assert second[2].cert is not second[1].cert and second[2].cert == second[1].cert
    leaf_lines, inter_lines = len(mesh.workload.pem.splitlines()), len(mesh.intermediate.pem.splitlines())
    assert [c.line for c in second] == [1, 1 + leaf_lines, 1 + leaf_lines + inter_lines]
    cert_facts.clear()
    assert pki.load_certificates(mesh.intermediate.pem)[0].cert is not first[1].cert


def test_a_list_mixes_files_and_text(tmp_path, mesh):
    leaf_file = mesh.workload.write(tmp_path / "leaf.pem")
    certs = pki.load_certificates([str(leaf_file), mesh.intermediate.pem])
    assert [c.cert for c in certs] == [mesh.workload.cert, mesh.intermediate.cert]
    assert str(leaf_file) in certs[0].origin


def test_garbage_is_malformed_and_says_no_pem_block_was_found():
    message = _malformed("this is not a certificate")
    assert message.startswith("chain:") and "no PEM block" in message


def test_a_private_key_is_malformed_and_its_content_is_never_echoed(mesh):
    key_pem = mesh.workload.key_pem
    message = _malformed(key_pem)
    assert "PRIVATE KEY, not a CERTIFICATE" in message and "PEM block 1 (line 1)" in message
    body = key_pem.splitlines()[1]
    assert body not in message


def test_der_is_malformed_with_the_conversion_command(mesh, tmp_path):
    path = tmp_path / "leaf.der"
    path.write_bytes(mesh.workload.der)
    assert "DER (binary) certificate" in _malformed(mesh.workload.der)
    message = _malformed(str(path))
    assert str(path) in message and "openssl x509 -inform der" in message


def test_an_empty_string_is_malformed_as_empty_input():
    assert "empty input" in _malformed("")


def test_a_missing_file_is_malformed_naming_it():
    message = _malformed("/nonexistent/chain.pem")
    assert "no such file" in message and "/nonexistent/chain.pem" in message


def test_five_megabytes_of_input_is_malformed_with_the_size_limit(tmp_path):
    huge = "A" * (5 * 1024 * 1024)
    assert "5.2 MB" in _malformed(huge) and "4 MB" in _malformed(huge)
    path = tmp_path / "huge.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n" + huge)
    assert "huge.pem" in _malformed(str(path))


def test_a_corrupted_certificate_body_names_the_block_and_line(mesh):
    lines = mesh.intermediate.pem.splitlines()
    lines[3] = "!!!!" + lines[3][4:]
    text = mesh.workload.pem + "\n".join(lines) + "\n"
    message = _malformed(text)
    assert "PEM block 2" in message and "not a valid X.509 certificate" in message
    assert "line %d" % (len(mesh.workload.pem.splitlines()) + 1) in message


def test_a_truncated_block_is_malformed(mesh):
    truncated = mesh.root.pem[: len(mesh.root.pem) // 2]
    assert "no matching END line" in _malformed(truncated)


def test_a_certificate_with_an_undecodable_extension_is_malformed(mesh):
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID
    odd = make_leaf(mesh.intermediate, common_name="odd", basic_constraints=False, extensions=[
        (x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02zz"), False)])
    message = _malformed(bundle(mesh.intermediate, odd))
    assert "PEM block 2" in message and "undecodable extension" in message


def test_every_bad_list_item_is_reported_at_once():
    message = _malformed(["", "garbage"])
    assert "chain[0]: empty input" in message and "chain[1]: no PEM block" in message


def test_a_non_string_input_is_malformed():
    assert "got int" in _malformed(42)


@pytest.mark.parametrize("text, seconds", [
    ("24h", 86400), ("90d", 90 * 86400), ("2160h", 2160 * 3600), ("30m", 1800),
    ("1h30m", 5400), ("2160h0m0s", 2160 * 3600), ("1w", 604800), ("45", 45), (60, 60),
    ("1.5h", 5400),
])
def test_durations_parse_to_seconds(text, seconds):
    assert pki.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "banana", "24", "h24", "24 h", "-5m", "10y", True])
def test_bad_durations_are_rejected_with_the_accepted_forms(text):
    if text == "24":  # a bare number is seconds, which is fine
        assert pki.parse_duration(text) == 24
        return
    with pytest.raises(ValueError) as caught:
        pki.parse_duration(text)
    assert "24h" in str(caught.value)


def test_times_accept_z_and_naive_values_as_utc():
    moment = pki.parse_time("2026-11-25T08:00:00Z")
    assert moment == datetime.datetime(2026, 11, 25, 8, tzinfo=datetime.timezone.utc)
    assert pki.parse_time("2026-11-25T08:00:00") == moment
    assert pki.parse_time("2026-11-25T09:00:00+01:00") == moment
    with pytest.raises(ValueError):
        pki.parse_time("yesterday")


def test_an_istio_spiffe_id_splits_into_namespace_and_service_account():
    parsed = pki.parse_spiffe_id("spiffe://cluster.local/ns/shop/sa/frontend")
    assert (parsed["trust_domain"], parsed["namespace"], parsed["service_account"]) == (
        "cluster.local", "shop", "frontend")


@pytest.mark.parametrize("value, fragment", [
    ("SPIFFE://cluster.local/ns/a/sa/b", "does not start with 'spiffe://'"),
    ("spiffe:///ns/a/sa/b", "empty trust domain"),
    ("spiffe://Cluster.local/ns/a/sa/b", "lowercase"),
    ("spiffe://cluster.local:8443/ns/a/sa/b", "port"),
    ("spiffe://cluster.local/ns/a/sa/b/", "empty segment"),
    ("spiffe://cluster.local/ns/../sa/b", "'.' or '..'"),
    ("spiffe://cluster.local/ns/a/sa/b?x=1", "query or fragment"),
    ("spiffe://cluster.local/ns/a b/sa/c", "may only hold"),
    ("spiffe://cluster.local/workload/web", "/ns/<namespace>/sa/<service account>"),
    ("spiffe://cluster.local/" + "a" * 2100, "longer than 2048"),
])
def test_invalid_spiffe_ids_say_which_rule_broke(value, fragment):
    with pytest.raises(pki.SpiffeIdError) as caught:
        pki.parse_spiffe_id(value)
    assert fragment in str(caught.value)


def test_a_non_istio_spiffe_id_is_valid_when_istio_form_is_not_required():
    parsed = pki.parse_spiffe_id("spiffe://example.org/workload/web", istio=False)
    assert parsed["path"] == "/workload/web" and parsed["namespace"] is None


def test_the_summary_of_a_workload_svid_has_its_spiffe_id_and_lifetime(mesh):
    at = mesh.workload.cert.not_valid_before_utc + hours(1)
    info = pki.summary(mesh.workload.cert, at)
    assert info["spiffe_id"] == "spiffe://cluster.local/ns/shop/sa/frontend"
    assert info["seconds_left"] == 23 * 3600
    assert info["lifetime_seconds"] == 24 * 3600
    assert info["is_ca"] is False and info["path_length"] is None
    assert (info["key_type"], info["key_size"], info["key_curve"]) == ("EC", 256, "secp256r1")
    assert info["extended_key_usage"] == ["serverAuth", "clientAuth"]
    assert len(info["fingerprint_sha256"].split(":")) == 32
    assert info["subject"] == "" and info["issuer"] == "CN=certmesh cluster intermediate"


def test_the_summary_of_an_rsa_intermediate_shows_ca_flags_and_key_size():
    root = make_root(key_type="rsa", key_size=2048)
    info = pki.summary(root.cert)
    assert (info["is_ca"], info["key_type"], info["key_size"], info["self_signed"]) == (True, "RSA", 2048, True)
    assert "keyCertSign" in info["key_usage"]


def test_summaries_of_the_same_certificate_do_not_share_lists(mesh):
    first = pki.summary(mesh.gateway.cert)
    first["sans"].append("DNS:tampered")
    assert "DNS:tampered" not in pki.summary(mesh.gateway.cert)["sans"]


def test_display_name_of_an_empty_subject_uses_the_first_san(mesh):
    assert pki.display_name(mesh.workload.cert) == (
        "(empty subject; SAN spiffe://cluster.local/ns/shop/sa/frontend)")
    plain = make_leaf(mesh.intermediate, common_name="web")
    assert pki.display_name(plain.cert) == "CN=web"


def test_serials_are_even_length_hex(mesh):
    svid = make_workload_svid(mesh.intermediate, serial=0xABC)
    assert pki.serial_hex(svid.cert) == "0ABC"


def test_format_duration_is_short_and_signed():
    assert pki.format_duration(93784) == "1d2h"
    assert pki.format_duration(-90) == "-1m30s"
    assert pki.format_duration(0) == "0s"
    assert pki.format_duration(days(90).total_seconds()) == "90d"
