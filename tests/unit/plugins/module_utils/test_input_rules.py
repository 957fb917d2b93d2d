"""Every input rule accepts what its reader accepts, refuses the rest in one sentence, and never raises
anything but InputRuleError."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import input_rules as rules
from ansible_collections.certmesh.istio.plugins.module_utils.input_rules import InputRuleError


@pytest.mark.parametrize("rule, good, bad", [
    ("dns1123_label", ["istio-system", "a", "0ab", "a" * 63],
     ["Istio", "-a", "a-", "a.b", "a" * 64, "", "a\nb: c", 3, None]),
    ("dns1123_subdomain", ["istio-ca", "a.b-c.d", "a" * 253],
     ["a..b", ".a", "A", "a_b", "a" * 254, "", "x\n", ["a"]]),
    ("dns1035_label", ["cert-manager-istio-csr", "a1"], ["1a", "a.b", "a_"]),
    ("helm_release_name", ["cert-manager", "a.b", "a" * 53], ["a" * 54, "Cert", "a_b"]),
    ("label_value", ["", "certmesh.istio", "A_b-c.d", "a" * 63], ["-a", "a-", "a" * 64, "a b", 5]),
    ("label_selector", ["app.kubernetes.io/managed-by=certmesh.istio", "a=b,c==d", "a=", "a = b"],
     ["", "a", "a=b,", "a=-b", "a!b"]),
    ("spiffe_trust_domain", ["cluster.local", "corp_example.com", "a-b", "x" * 255],
     ["Corp_Example.com!", "spiffe://a", "a:443", "a/b", "", "x" * 256, "a\n: b", 1]),
    ("go_duration", ["1h", "2160h0m0s", "1.5h", ".5h", "1.h", "300ms", "1\u00b5s", "1\u03bcs", "+1h"],
     ["90d", "1w", "10", "", "h", "1h 30m", " 1h", "0", "-1h", ".h", "1e3s", 3600, True, None]),
    ("go_duration_or_zero", ["0s", "0", "1h"], ["-1h", "90d", ""]),
    ("vault_ttl", ["3600", "30d", "8760h", 60, "1h30m"], ["", "1d12h", "-1h", "0", "banana", True, 0]),
    ("path_component", ["prod", "local", "dev-1", "a.b", "a_b"],
     ["../../..", "..", ".", ".hidden", "a/b", "a\\b", "a\x00b", "a..b", "", "a b", "x" * 64, None]),
    ("rollout_waves", [[1, "100%"], [1, 5, "25%"], [3], ["10%", "100%"]],
     [[], [0], [1, "0%"], [1, "101%"], ["25"], [True], "1", None, [1, "25 %"], [1.5]]),
])
def test_each_rule_keeps_its_grammar(rule, good, bad):
    for value in good:
        assert rules.check(rule, value) is None, value
    for value in bad:
        message = rules.check(rule, value)
        assert message and message.startswith("must be"), (value, message)


def test_a_refusal_quotes_the_value_the_user_wrote():
    assert "'Corp_Example.com!'" in rules.check_spiffe_trust_domain("Corp_Example.com!")


def test_a_day_duration_gets_the_hint_that_go_has_no_days():
    message = rules.check_go_duration("90d")
    assert "90 days = 2160h" in message and "'90d'" in message


@pytest.mark.parametrize("text, seconds", [
    ("1h30m", 5400), ("2160h0m0s", 2160 * 3600), ("1.5h", 5400), ("0", 0), ("-0", 0), ("-1m", -60),
    ("300ms", 0.3), ("1h1ns", 3600.000000001),
])
def test_go_durations_are_read_as_go_reads_them(text, seconds):
    assert rules.go_duration_seconds(text) == pytest.approx(seconds)


def test_a_go_duration_past_the_int64_nanoseconds_is_refused_not_overflowed():
    assert rules.go_duration_seconds("2562047h") > 0
    for text in ("2562048h", "9" * 100 + "h", "1" + "0" * 400 + "s"):
        with pytest.raises(InputRuleError):
            rules.go_duration_seconds(text)


def test_a_go_duration_refusal_names_the_option_when_given():
    with pytest.raises(InputRuleError) as caught:
        rules.go_duration_seconds("90d", "gateway_certs_duration")
    assert str(caught.value).startswith("gateway_certs_duration '90d' is not a Go duration")


@pytest.mark.parametrize("text, seconds", [("3600", 3600), ("30d", 30 * 86400), ("8760h", 8760 * 3600), (60, 60)])
def test_vault_ttls_are_read_as_vault_reads_them(text, seconds):
    assert rules.vault_ttl_seconds(text) == seconds


def test_a_vault_ttl_past_go_range_is_refused():
    with pytest.raises(InputRuleError):
        rules.vault_ttl_seconds("9" * 15 + "d")
    with pytest.raises(InputRuleError):
        rules.vault_ttl_seconds(10 ** 30)


@pytest.mark.parametrize("text, seconds", [
    ("24h", 86400), ("90d", 90 * 86400), ("1w", 604800), ("45", 45), ("1.5", 1.5), (60, 60), (2.5, 2.5),
    (datetime.timedelta(hours=1), 3600), (" 1h ", 3600),
])
def test_extended_durations_also_take_days_weeks_and_seconds(text, seconds):
    assert rules.extended_duration_seconds(text) == seconds


@pytest.mark.parametrize("value", [
    "", "banana", "-5m", "10y", True, None, -1, float("nan"), float("inf"), 10 ** 400, "9" * 30 + "d",
    "1" * 200, datetime.timedelta(days=999999999), "\udcff", b"1h",
])
def test_extended_durations_refuse_anything_else_with_input_rule_error(value):
    with pytest.raises(InputRuleError):
        rules.extended_duration_seconds(value, "min_remaining")


def test_time_shifts_outside_the_datetime_range_are_refused_not_overflowed():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert rules.shift_time(now, 3600) == now + datetime.timedelta(hours=1)
    for seconds in (1e20, -1e20, float("inf"), float("nan")):
        with pytest.raises(InputRuleError) as caught:
            rules.shift_time(now, seconds, "not_after")
        assert "not_after" in str(caught.value)


def test_timestamps_outside_the_datetime_range_are_refused():
    assert rules.time_from_timestamp(0).year == 1970
    for stamp in (1e20, "x", None, float("inf")):
        with pytest.raises(InputRuleError):
            rules.time_from_timestamp(stamp)


@pytest.mark.parametrize("value, expected", [
    (True, True), ("false", False), ("True", True), ("no", False), ("yes", True), (0, False), (1, True),
    ("off", False),
])
def test_booleans_typed_as_strings_mean_their_typed_value(value, expected):
    assert rules.typed_boolean(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, None, [], "flase"])
def test_a_value_that_is_no_boolean_is_refused(value):
    with pytest.raises(InputRuleError):
        rules.typed_boolean(value)


def test_a_list_given_as_a_string_gets_the_argument_spec_message():
    message = rules.check_type("app.example.com", "list", "str")
    assert message == "is of type str and we were unable to convert to list: must be a list of str"


def test_list_elements_and_scalars_are_typed_like_the_argument_spec():
    assert rules.check_type(["a", 1], "list", "str").startswith("element 1 is of type int")
    assert rules.check_type(True, "int") and rules.check_type(3, "int") is None
    assert rules.check_type({}, "dict") is None and rules.check_type("x", "dict")
    assert rules.check_type(object(), "raw") is None


def test_a_misspelt_name_suggests_the_closest_known_one():
    known = ["certmesh_trust_domain", "certmesh_mesh_id", "certmesh_environment"]
    assert rules.closest_name("certmesh_trust_domian", known) == "certmesh_trust_domain"
    assert rules.closest_name("certmesh_zzz", known) is None


def test_paths_inside_a_folder_are_recognised_without_prefix_tricks():
    assert rules.is_inside("/out/local/x", "/out")
    assert rules.is_inside("/out", "/out/")
    assert not rules.is_inside("/outside/x", "/out")
    assert not rules.is_inside("/etc", "/out")
    assert rules.is_inside("/etc", "/")


def test_a_rule_that_meets_an_unexpected_value_reports_it_instead_of_raising():
    class Weird(str):
        def __len__(self):
            raise RuntimeError("boom")
    assert "could not be checked" in rules.check("dns1123_label", Weird("a"))


def test_a_field_manager_is_what_the_api_server_accepts_for_an_apply():
    assert rules.check("field_manager", "certmesh") is None
    assert rules.check("field_manager", "kubectl-client-side-apply") is None
    for bad in ("", "x" * 129, "cert\nmesh", 7, None):
        assert "must be a field manager name" in rules.check("field_manager", bad), bad


@pytest.mark.parametrize("mount", ["secret", "kv/mesh", "platform-kv_2.prod"])
def test_a_kv_mount_path_of_plain_segments_is_kept(mount):
    assert rules.check("vault_mount", mount) is None


@pytest.mark.parametrize("mount", ["", "/secret", "secret/", "kv//mesh", "kv/../sys", "sys", "auth/kv", "identity",
                                   "secret data", 7, None])
def test_a_kv_mount_path_vault_would_refuse_or_reserve_is_refused(mount):
    assert "must be the path of a KV version 2 mount" in rules.check("vault_mount", mount)


@pytest.mark.parametrize("path, kept", [("certmesh", True), ("platform/certmesh", True), ("certmesh/", False),
                                        ("../certmesh", False), ("cert mesh", False), ("", False)])
def test_a_store_folder_in_the_kv_mount_is_plain_segments(path, kept):
    assert (rules.check("vault_kv_path", path) is None) is kept


@pytest.mark.parametrize("url, kept", [("https://vault.example.com:8200", True), ("http://127.0.0.1:8200", True),
                                       ("https://[::1]:8200/", True), ("vault.example.com:8200", False),
                                       ("https://user:pw@vault:8200", False), ("https://vault:8200 ", False),
                                       ("ftp://vault", False)])
def test_a_vault_address_is_what_vault_addr_takes(url, kept):
    assert (rules.check("vault_address", url) is None) is kept


@pytest.mark.parametrize("namespace, kept", [("platform", True), ("platform/mesh", True), ("/platform", False),
                                             ("a b", False), ("", False)])
def test_a_vault_namespace_is_a_path_of_plain_segments(namespace, kept):
    assert (rules.check("vault_namespace", namespace) is None) is kept


@pytest.mark.parametrize("path, kept", [("/etc/ssl/vault-ca.pem", True), ("ca.pem", True), ("a\nb", False),
                                        ("a\x00b", False), ("", False), (["x"], False)])
def test_a_control_node_file_is_one_line_of_text(path, kept):
    assert (rules.check("control_node_file", path) is None) is kept
