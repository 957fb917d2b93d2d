"""Inputs that once escaped the parsers' never-raise contract (issue 9), each now refused with
the module's own error naming the input, or reported as the ``malformed`` problem code."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certmesh.istio.plugins.filter.chain_checks import chain_checks
from ansible_collections.certmesh.istio.plugins.filter.spiffe_id import spiffe_id
from ansible_collections.certmesh.istio.plugins.filter.x509_info import x509_info
from ansible_collections.certmesh.istio.plugins.module_utils import chain, pki
from ansible_collections.certmesh.istio.plugins.modules import chain_verify
from tests.support import der
from tests.support.pki_factory import MeshPKI, bundle, craft

UNKNOWN_CURVE = "1.3.132.0.1"  # sect163k1: a binary curve cryptography no longer loads
BAD_UTF8_NAME = der.name(("2.5.4.3", der.UTF8_STRING, b"\xff\xfe not UTF-8"))


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


@pytest.fixture(scope="module")
def store(mesh):
    return chain.load_store(mesh.root.pem)


def _malformed(value, origin="chain"):
    with pytest.raises(pki.MalformedInput) as caught:
        pki.load_certificates(value, origin)
    return str(caught.value)


def _only_problem(result):
    assert result["valid"] is False
    assert len(result["problems"]) == 1, result["problems"]
    return result["problems"][0]


def test_a_certificate_with_version_field_5_is_malformed_naming_the_block(mesh, store):
    bad = craft(mesh.workload, mesh.intermediate, version=5)
    message = _malformed(bundle(mesh.intermediate, bad))
    assert message.startswith("chain, PEM block 2 (line ") and "version" in message
    found = _only_problem(chain.check(bad.pem, store))
    assert found["code"] == "malformed" and "version" in found["message"]


def test_a_root_with_a_bad_version_field_is_refused_as_malformed_roots(mesh):
    bad = craft(mesh.root, version=7)
    with pytest.raises(pki.MalformedInput, match=r"^roots, PEM block 1 .*version"):
        chain.load_store(bad.pem)


def test_undecodable_bytes_in_the_issuer_name_are_malformed_naming_the_field(mesh, store):
    bad = craft(mesh.workload, mesh.intermediate, issuer_name=BAD_UTF8_NAME)
    message = _malformed(bad.pem)
    assert "PEM block 1" in message and "undecodable issuer name" in message
    assert _only_problem(chain.check(bad.pem, store))["code"] == "malformed"


def test_undecodable_bytes_in_the_subject_name_are_malformed_naming_the_field(mesh):
    bad = craft(mesh.workload, mesh.intermediate, subject_name=BAD_UTF8_NAME)
    assert "undecodable subject name" in _malformed(bad.pem)


def test_an_already_loaded_certificate_object_with_a_bad_issuer_is_malformed(mesh, store):
    bad = craft(mesh.workload, mesh.intermediate, issuer_name=BAD_UTF8_NAME)
    found = _only_problem(chain.check([bad.cert, mesh.intermediate.cert], store))
    assert found["code"] == "malformed" and found["message"].startswith("chain, certificate 1:")


def test_an_intermediate_on_an_unsupported_ec_curve_names_the_input_and_its_position(mesh, store):
    odd = craft(mesh.intermediate, mesh.root, curve_oid=UNKNOWN_CURVE)
    found = _only_problem(chain.check(bundle(mesh.workload, odd), store, origin="istio-csr chain"))
    assert found["code"] == "weak_key"
    assert found["message"].startswith("istio-csr chain, certificate 2 (line ")
    assert UNKNOWN_CURVE in found["message"] and found["subject"] == pki.display_name(odd.cert)


def test_a_root_on_an_unsupported_ec_curve_names_the_roots_input(mesh):
    odd_root = craft(mesh.root, curve_oid=UNKNOWN_CURVE)
    result = chain.check(bundle(mesh.workload, mesh.intermediate), chain.load_store(odd_root.pem))
    assert [p["code"] for p in result["problems"]] == ["weak_key"]
    assert result["problems"][0]["message"].startswith("roots, certificate 1 (line 1)")


def test_chain_verify_reports_an_unsupported_curve_without_a_traceback(capsys, mesh):
    odd = craft(mesh.intermediate, mesh.root, curve_oid=UNKNOWN_CURVE)
    with patch_module_args({"chain": bundle(mesh.workload, odd), "roots": mesh.root.pem}):
        with pytest.raises(SystemExit):
            chain_verify.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and "exception" not in result
    assert "[weak_key] chain " in result["msg"] and "chain, certificate 2 (line" in result["msg"]


@pytest.mark.parametrize("field", ["not_before", "not_after"])
def test_a_validity_date_in_year_0_is_malformed_not_an_exception(mesh, store, field):
    bad = craft(mesh.workload, mesh.intermediate, **{field: b"00000101000000Z"})
    assert "undecodable validity date" in _malformed(bad.pem)
    assert _only_problem(chain.check(bad.pem, store))["code"] == "malformed"


def test_a_certificate_valid_until_the_last_second_of_9999_is_summarised(mesh, store):
    late = craft(mesh.workload, mesh.intermediate, not_after=b"99991231235959Z")
    summary = pki.summary(pki.load_certificates(late.pem)[0].cert)
    assert summary["not_after"] == "9999-12-31T23:59:59Z"
    assert chain.check(bundle(late, mesh.intermediate), store)["valid"] is True


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_that_leaves_the_datetime_range_in_utc_is_refused_naming_it(text):
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        pki.parse_time(text)


def test_a_time_of_another_type_is_refused_not_stringified():
    with pytest.raises(ValueError, match="got list"):
        pki.parse_time(["2026-01-01"])


def test_chain_verify_names_the_at_option_for_an_out_of_range_time(capsys, mesh):
    with patch_module_args({"chain": mesh.workload.pem, "roots": mesh.root.pem,
                            "at": "0001-01-01T00:00:00+05:00"}):
        with pytest.raises(SystemExit):
            chain_verify.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and result["msg"].startswith("at: time ")


@pytest.mark.parametrize("seconds,text", [(float("inf"), "forever"), (float("nan"), "an undefined time")])
def test_an_unbounded_duration_is_formatted_in_words(seconds, text):
    assert pki.format_duration(seconds) == text


def test_a_spiffe_id_with_a_lone_surrogate_is_a_spiffe_id_error():
    with pytest.raises(pki.SpiffeIdError, match="lone surrogate"):
        pki.parse_spiffe_id("spiffe://cluster.local/ns/\ud800/sa/web")


def test_the_spiffe_id_filter_reports_a_lone_surrogate_as_invalid():
    assert spiffe_id("spiffe://cluster.local/\udfff", strict=False)["valid"] is False
    with pytest.raises(AnsibleFilterError, match="lone surrogate"):
        spiffe_id("spiffe://cluster.local/\udfff")


def test_x509_info_refuses_a_crafted_certificate_with_the_filters_own_error(mesh):
    bad = craft(mesh.workload, mesh.intermediate, issuer_name=BAD_UTF8_NAME)
    with pytest.raises(AnsibleFilterError, match="^certmesh.istio.x509_info: .*issuer name"):
        x509_info(bad.pem)


@pytest.mark.parametrize("certificates,expected", [
    (["not an object"], "item 0 is str"),
    ([{"metadata": "x"}], "item 0: metadata is str"),
    ([{"spec": {"dnsNames": "shop.example.com"}}], "spec.dnsNames is str"),
    ([{"spec": {"uris": 5}}], "spec.uris is int"),
])
def test_chain_checks_refuses_a_certificate_that_is_not_an_api_object(certificates, expected):
    with pytest.raises(AnsibleFilterError, match=expected):
        chain_checks(certificates, "prod-eu1")


def test_a_device_path_is_refused_instead_of_read_forever():
    message = _malformed("/dev/zero", "roots")
    assert message.startswith("roots (/dev/zero): is not a regular file")


def test_a_named_pipe_is_refused_instead_of_blocking(tmp_path):
    import os
    fifo = tmp_path / "bundle.pem"
    os.mkfifo(fifo)
    assert "is not a regular file" in _malformed(str(fifo))
