"""Lifetime-relative rotation classification, sources (files, Kubernetes objects), summaries."""

import base64

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, pki
from tests.support.pki_factory import (
    MeshPKI, bundle, days, hours, make_gateway_cert, make_intermediate, make_root,
    make_workload_svid, now,
)


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def status_at(cert, at, **options):
    return expiry.classify(cert.not_valid_before_utc, cert.not_valid_after_utc, at, **options)


# --- classification -------------------------------------------------------------------------

def test_a_24h_svid_is_ok_with_more_than_a_third_left(mesh):
    cert = mesh.workload.cert
    assert status_at(cert, cert.not_valid_before_utc + hours(15))["status"] == "ok"


def test_a_24h_svid_needs_renewal_with_less_than_a_third_left(mesh):
    cert = mesh.workload.cert
    verdict = status_at(cert, cert.not_valid_before_utc + hours(17))
    assert verdict["status"] == "renew_soon"
    assert verdict["warn_within_seconds"] == 8 * 3600 and "33% of the 1d lifetime" in verdict["reason"]


def test_a_24h_svid_is_critical_with_less_than_a_tenth_left(mesh):
    cert = mesh.workload.cert
    assert status_at(cert, cert.not_valid_after_utc - hours(2))["status"] == "critical"


def test_an_svid_past_its_end_is_expired(mesh):
    cert = mesh.workload.cert
    verdict = status_at(cert, cert.not_valid_after_utc + hours(1))
    assert verdict["status"] == "expired" and verdict["seconds_left"] == -3600


def test_a_certificate_before_its_start_is_invalid(mesh):
    cert = mesh.workload.cert
    assert status_at(cert, cert.not_valid_before_utc - hours(1))["status"] == "invalid"


def test_the_seeds_gateway_certificate_warns_at_renew_before_30_days(mesh):
    cert = mesh.gateway.cert  # 90 days
    start = cert.not_valid_before_utc
    renew_before = pki.parse_duration("720h")
    assert status_at(cert, start + days(59), renew_before=renew_before)["status"] == "ok"
    verdict = status_at(cert, start + days(61), renew_before=renew_before)
    assert verdict["status"] == "renew_soon" and "renewBefore 30d" in verdict["reason"]
    assert status_at(cert, start + days(82), renew_before=renew_before)["status"] == "critical"


def test_absolute_thresholds_override_the_lifetime_defaults(mesh):
    cert = mesh.gateway.cert
    at = cert.not_valid_before_utc + days(50)  # 40 days left
    assert status_at(cert, at)["status"] == "ok"
    assert status_at(cert, at, warn_within=expiry.parse_threshold("45d"))["status"] == "renew_soon"
    assert status_at(cert, at, critical_within=expiry.parse_threshold("41d"))["status"] == "critical"


def test_percentage_thresholds_are_relative_to_the_lifetime(mesh):
    cert = mesh.workload.cert
    at = cert.not_valid_before_utc + hours(12)
    assert status_at(cert, at, warn_within=expiry.parse_threshold("60%"))["status"] == "renew_soon"
    assert status_at(cert, at, warn_within=expiry.parse_threshold("40%"))["status"] == "ok"


def test_an_explicit_warn_within_beats_renew_before(mesh):
    cert = mesh.gateway.cert
    at = cert.not_valid_before_utc + days(61)
    verdict = status_at(cert, at, renew_before=pki.parse_duration("720h"),
                        warn_within=expiry.parse_threshold("7d"))
    assert verdict["status"] == "ok"


@pytest.mark.parametrize("text", ["banana", "150%", "x%"])
def test_bad_thresholds_are_rejected(text):
    with pytest.raises(ValueError):
        expiry.parse_threshold(text)


# --- files ----------------------------------------------------------------------------------

def test_a_directory_is_scanned_recursively_and_keys_are_skipped(tmp_path, mesh):
    (tmp_path / "east" / "istio").mkdir(parents=True)
    (tmp_path / "east" / "istio" / "cert-chain.pem").write_text(bundle(mesh.workload, mesh.intermediate))
    (tmp_path / "root-cert.pem").write_text(mesh.root.pem)
    (tmp_path / "east" / "istio" / "key.pem").write_text(mesh.workload.key_pem)
    (tmp_path / "notes.txt").write_text("not a certificate")
    records = expiry.scan_paths([str(tmp_path)])
    assert sorted((r["name"], r["key"]) for r in records) == [
        ("cert-chain.pem", "certificate#0"), ("cert-chain.pem", "certificate#1"), ("root-cert.pem", None)]
    assert all(r["error"] is None for r in records)


def test_a_combined_key_and_certificate_file_gives_its_certificate(tmp_path, mesh):
    combined = tmp_path / "haproxy.pem"
    combined.write_text(mesh.gateway.key_pem + mesh.gateway.pem)
    result = expiry.rotation_result(expiry.scan_paths([str(tmp_path)]))
    assert [(e["name"], e["status"], e["subject"]) for e in result["certificates"]] == [
        ("haproxy.pem", "ok", "CN=shop.example.com")]


def test_a_named_file_without_a_certificate_is_invalid(tmp_path, mesh):
    key_file = tmp_path / "tls.key"
    key_file.write_text(mesh.workload.key_pem)
    result = expiry.rotation_result(expiry.scan_paths([str(key_file), str(tmp_path / "missing.pem")]))
    assert [e["status"] for e in result["certificates"]] == ["invalid", "invalid"]
    reasons = " ".join(e["reason"] for e in result["certificates"])
    assert "no certificate, only PRIVATE KEY" in reasons and "missing.pem" in reasons
    assert mesh.workload.key_pem.splitlines()[1] not in reasons


def test_a_pem_file_in_a_directory_with_a_broken_certificate_is_invalid(tmp_path, mesh):
    (tmp_path / "broken.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = expiry.rotation_result(expiry.scan_paths([str(tmp_path)]))
    assert result["summary"]["counts"]["invalid"] == 1


# --- Kubernetes objects ---------------------------------------------------------------------

def _b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def tls_secret(namespace, name, chain_pem, ca_pem=None):
    data = {"tls.crt": _b64(chain_pem), "tls.key": _b64("redacted")}
    if ca_pem:
        data["ca.crt"] = _b64(ca_pem)
    return {"kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"namespace": namespace, "name": name},
            "data": data}


def certificate(namespace, name, secret_name, **spec_and_status):
    status = spec_and_status.pop("status", {})
    spec = {"secretName": secret_name, "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer"}}
    spec.update(spec_and_status)
    return {"kind": "Certificate", "metadata": {"namespace": namespace, "name": name}, "spec": spec,
            "status": status}


def root_configmap(namespace, pem):
    return {"kind": "ConfigMap", "metadata": {"namespace": namespace, "name": "istio-ca-root-cert"},
            "data": {"root-cert.pem": pem}}


def test_a_gateway_secret_managed_by_a_certificate_uses_its_renew_before(mesh):
    secret = tls_secret("istio-ingress", "shop-tls", bundle(mesh.gateway, mesh.intermediate), mesh.root.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls", duration="2160h", renewBefore="720h",
                           status={"notAfter": pki.iso(mesh.gateway.cert.not_valid_after_utc)})
    records = expiry.records_from_kube("east", [secret], [resource], [])
    at = mesh.gateway.cert.not_valid_before_utc + days(61)
    entries = expiry.rotation_result(records, at)["certificates"]
    leaf = [e for e in entries if e["key"] == "tls.crt#0"][0]
    assert (leaf["source"], leaf["name"], leaf["secret_name"], leaf["status"]) == (
        "certificate", "shop", "shop-tls", "renew_soon")
    assert "renewBefore 30d" in leaf["reason"]
    assert {e["key"] for e in entries} == {"tls.crt#0", "tls.crt#1", "ca.crt"}


def test_a_certificate_whose_status_disagrees_with_its_secret_is_flagged(mesh):
    secret = tls_secret("istio-ingress", "shop-tls", mesh.gateway.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls", renewBefore="720h",
                           status={"notAfter": "2020-01-01T00:00:00Z"})
    entry = expiry.rotation_result(expiry.records_from_kube("east", [secret], [resource], []))["certificates"][0]
    assert entry["status"] == "renew_soon" and "differs from the Secret" in entry["reason"]


def test_the_chain_behind_a_managed_leaf_is_not_compared_with_the_leafs_status(mesh):
    """status.notAfter is the leaf's: the intermediate (tls.crt#1) and ca.crt keep their own verdict."""
    secret = tls_secret("istio-ingress", "shop-tls", bundle(mesh.gateway, mesh.intermediate), mesh.root.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls", duration="2160h", renewBefore="720h",
                           status={"notAfter": pki.iso(mesh.gateway.cert.not_valid_after_utc),
                                   "renewalTime": pki.iso(now() + days(30))})
    at = mesh.gateway.cert.not_valid_before_utc + days(1)
    entries = expiry.rotation_result(expiry.records_from_kube("east", [secret], [resource], []), at)["certificates"]
    by_key = dict((e["key"], e) for e in entries)
    assert by_key["tls.crt#0"]["status"] == "ok", by_key["tls.crt#0"]
    assert by_key["tls.crt#1"]["status"] == "ok" and "replaced by hand" not in by_key["tls.crt#1"]["reason"]
    assert by_key["ca.crt"]["status"] == "ok" and "status.notAfter" not in by_key["ca.crt"]["reason"]


def test_an_overdue_renewal_time_is_flagged(mesh):
    secret = tls_secret("istio-ingress", "shop-tls", mesh.gateway.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls",
                           status={"renewalTime": pki.iso(now() - hours(3))})
    entry = expiry.rotation_result(expiry.records_from_kube("east", [secret], [resource], []))["certificates"][0]
    assert entry["status"] == "renew_soon" and "renewal overdue" in entry["reason"]


def test_renew_before_not_shorter_than_duration_is_invalid(mesh):
    secret = tls_secret("istio-ingress", "shop-tls", mesh.gateway.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls", duration="24h", renewBefore="48h")
    entry = expiry.rotation_result(expiry.records_from_kube("east", [secret], [resource], []))["certificates"][0]
    assert entry["status"] == "invalid" and "renew continuously" in entry["reason"]


def test_an_unparsable_duration_on_a_certificate_is_invalid(mesh):
    secret = tls_secret("istio-ingress", "shop-tls", mesh.gateway.pem)
    resource = certificate("istio-ingress", "shop", "shop-tls", duration="banana")
    entry = expiry.rotation_result(expiry.records_from_kube("east", [secret], [resource], []))["certificates"][0]
    assert entry["status"] == "invalid" and "spec.duration" in entry["reason"]


def test_a_certificate_without_its_secret_is_invalid():
    resource = certificate("istio-ingress", "shop", "shop-tls")
    entry = expiry.rotation_result(expiry.records_from_kube("east", [], [resource], []))["certificates"][0]
    assert (entry["status"], entry["source"], entry["name"]) == ("invalid", "certificate", "shop")
    assert "does not exist" in entry["reason"] and "cluster east" in entry["reason"]


def test_the_same_ca_in_many_secrets_is_reported_once_with_its_copies(mesh):
    secrets = [tls_secret("ns%d" % n, "tls", make_workload_svid(mesh.intermediate).pem, mesh.root.pem)
               for n in range(3)]
    entries = expiry.rotation_result(expiry.records_from_kube("east", secrets, [], []))["certificates"]
    roots = [e for e in entries if e["key"] == "ca.crt"]
    assert len(roots) == 1 and roots[0]["copies"] == 3
    assert len([e for e in entries if e["key"] == "tls.crt"]) == 3


def test_root_configmaps_are_deduplicated_and_a_stale_root_stands_out(mesh):
    stale = make_root("certmesh old root")
    configmaps = [root_configmap("a", mesh.root.pem), root_configmap("b", mesh.root.pem),
                  root_configmap("c", stale.pem), root_configmap("d", "")]
    entries = expiry.rotation_result(expiry.records_from_kube("east", [], [], configmaps))["certificates"]
    by_subject = dict((e["subject"], e) for e in entries if e["subject"])
    assert by_subject["CN=certmesh mesh root"]["copies"] == 2
    assert "CN=certmesh old root" in by_subject
    assert [e["namespace"] for e in entries if e["status"] == "invalid"] == ["d"]


def test_a_tls_secret_with_garbage_is_invalid_and_names_the_object(mesh):
    secret = tls_secret("shop", "broken", "garbage")
    entry = expiry.rotation_result(expiry.records_from_kube("east", [secret], [], []))["certificates"][0]
    assert entry["status"] == "invalid"
    assert "cluster east, Secret shop/broken, key tls.crt" in entry["reason"]


def test_istios_plugged_in_ca_secret_is_read(mesh):
    secret = {"type": "Opaque", "metadata": {"namespace": "istio-system", "name": "cacerts"},
              "data": {"ca-cert.pem": _b64(mesh.intermediate.pem), "root-cert.pem": _b64(mesh.root.pem),
                       "cert-chain.pem": _b64(bundle(mesh.intermediate, mesh.root))}}
    entries = expiry.rotation_result(expiry.records_from_kube("east", [secret], [], []))["certificates"]
    assert sorted(e["subject"] for e in entries) == ["CN=certmesh cluster intermediate", "CN=certmesh mesh root"]


# --- CA issuance and summary ----------------------------------------------------------------

def test_a_ca_expiring_before_a_certificate_it_may_issue_is_flagged():
    root = make_root()
    # 20h of 40h left: fine by the lifetime thresholds, but a 24h SVID issued now outlives it.
    dying = make_intermediate(root, "dying intermediate", not_before=now() - hours(20), lifetime=hours(40))
    svid = make_workload_svid(dying)
    records = [expiry.record(c.cert, "file", n) for n, c in (("root", root), ("dying", dying), ("svid", svid))]
    entries = dict((e["name"], e) for e in expiry.rotation_result(records)["certificates"])
    assert entries["dying"]["status"] == "renew_soon"
    assert "before a certificate it may issue" in entries["dying"]["reason"]
    assert entries["root"]["status"] == "ok"


def test_a_ca_that_outlives_everything_it_issues_is_ok(mesh):
    records = [expiry.record(c.cert, "file", n) for n, c in (
        ("root", mesh.root), ("intermediate", mesh.intermediate), ("gateway", mesh.gateway),
        ("svid", mesh.workload))]
    statuses = dict((e["name"], e["status"]) for e in expiry.rotation_result(records)["certificates"])
    assert statuses == {"root": "ok", "intermediate": "ok", "gateway": "ok", "svid": "ok"}


def test_issuer_max_duration_applies_to_every_ca():
    root = make_root(lifetime=days(20))
    record = expiry.record(root.cert, "file", "root")
    assert expiry.rotation_result([record])["certificates"][0]["status"] == "ok"
    flagged = expiry.rotation_result([record], issuer_max_duration="30d")["certificates"][0]
    assert flagged["status"] == "renew_soon" and "up to 30d" in flagged["reason"]


def test_the_summary_counts_statuses_and_names_the_soonest_expiry(mesh):
    expired = make_workload_svid(mesh.intermediate, not_before=now() - days(2), lifetime=days(1))
    records = [expiry.record(mesh.root.cert, "file", "root"), expiry.record(expired.cert, "file", "old"),
               expiry.broken("bad", "file", "junk")]
    result = expiry.rotation_result(records)
    summary = result["summary"]
    assert summary["counts"] == {"ok": 1, "renew_soon": 0, "critical": 0, "expired": 1, "invalid": 1}
    assert summary["total"] == 3 and summary["needs_attention"] == 2
    assert summary["soonest"]["name"] == "old"
    assert [e["name"] for e in result["certificates"]] == ["junk", "old", "root"]


def test_entries_carry_the_documented_fields(mesh):
    entry = expiry.rotation_result([expiry.record(mesh.gateway.cert, "file", "gw")])["certificates"][0]
    for field in ("cluster", "source", "namespace", "name", "subject", "issuer", "serial", "not_after",
                  "seconds_left", "status", "reason"):
        assert field in entry
    assert entry["dns_names"] == ["shop.example.com"]


def test_gateway_certificates_of_90_days_and_svids_of_24h_share_one_rule(mesh):
    at = now() + days(61)
    gateway = make_gateway_cert(mesh.intermediate)
    result = expiry.rotation_result([expiry.record(gateway.cert, "file", "gw")], at)
    assert result["certificates"][0]["status"] == "renew_soon"
