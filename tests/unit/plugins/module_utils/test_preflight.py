"""Preflight refuses, by stable code, each set-up that upstream documents as breaking."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.certmesh.istio.plugins.module_utils import preflight

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)
CA_ISSUER = {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
SETTINGS = dict(issuer=CA_ISSUER, certificate_namespace="istio-system", istio_namespace="istio-system",
                trust_domains={"certmesh_trust_domain": "cluster.local"}, max_workload_seconds=3600)


def _istiod(ca_server=None):
    env = [] if ca_server is None else [{"name": "ENABLE_CA_SERVER", "value": ca_server}]
    return {"spec": {"template": {"spec": {"containers": [{"name": "discovery", "env": env}]}}}}


def codes(problems):
    return [p["code"] for p in problems]


def test_a_fresh_cluster_passes():
    assert preflight.run_all(SETTINGS, {}, NOW) == []


def test_an_acme_issuer_is_refused_for_mesh_certificates():
    issuer = {"spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory"}}}
    found = preflight.check_issuer(CA_ISSUER, issuer, "istio-system", managed=False)
    assert codes(found) == ["acme_issuer"]
    assert "ClusterIssuer istio-ca" in found[0]["message"] and "SPIFFE" in found[0]["message"]


def test_an_issuer_outside_istio_csrs_namespace_is_refused():
    ref = {"name": "mesh", "kind": "Issuer", "namespace": "security"}
    found = preflight.check_issuer(ref, {"spec": {"ca": {}}}, "istio-system", managed=False)
    assert codes(found) == ["issuer_namespace"]
    assert "Issuer security/mesh" in found[0]["message"]


def test_a_missing_issuer_is_refused_unless_this_run_creates_it():
    assert codes(preflight.check_issuer(CA_ISSUER, None, "istio-system", managed=False)) == ["issuer_not_found"]
    assert preflight.check_issuer(CA_ISSUER, None, "istio-system", managed=True) == []


def test_differing_trust_domains_are_refused_with_every_source_named():
    found = preflight.check_trust_domains({"certmesh_trust_domain": "cluster.local", "istiod": "corp.example", "unset": ""})
    assert codes(found) == ["trust_domain_mismatch"]
    assert "istiod=corp.example" in found[0]["message"] and "certmesh_trust_domain=cluster.local" in found[0]["message"]


def test_the_installed_istiod_trust_domain_counts():
    snapshot = {"istio_configmap": {"data": {"mesh": "defaultConfig:\n  discoveryAddress: x\ntrustDomain: other.local\n"}}}
    assert codes(preflight.run_all(SETTINGS, snapshot, NOW)) == ["trust_domain_mismatch"]


def test_a_ca_expiring_before_the_longest_workload_certificate_is_refused():
    soon = NOW + datetime.timedelta(minutes=30)
    assert codes(preflight.check_ca_lifetime(soon, NOW, 3600, "CA x")) == ["ca_expires_too_soon"]
    assert preflight.check_ca_lifetime(NOW + datetime.timedelta(hours=2), NOW, 3600, "CA x") == []


def test_istio_with_its_own_ca_is_refused_while_istio_csr_is_added():
    found = preflight.check_istio_ca(_istiod(), None, False, "istio-system")
    assert codes(found) == ["istio_has_own_ca"]
    assert "Deployment istio-system/istiod" in found[0]["message"] and "Migrate" in found[0]["message"]


def test_istio_already_using_istio_csr_passes():
    assert preflight.check_istio_ca(_istiod("false"), {"kind": "Deployment"}, False, "istio-system") == []
    assert preflight.check_istio_ca(_istiod("false"), None, False, "istio-system") == []


def test_a_leftover_istiod_ca_secret_is_reported():
    found = preflight.check_istio_ca(_istiod("false"), None, True, "istio-system")
    assert codes(found) == ["istio_has_own_ca"] and "istio-ca-secret" in found[0]["message"]


def test_every_problem_is_reported_not_only_the_first():
    snapshot = {"issuer": {"spec": {"acme": {}}}, "istiod": _istiod(),
                "istio_configmap": {"data": {"mesh": "trustDomain: other"}}}
    found = preflight.run_all(SETTINGS, snapshot, NOW, ca_not_after=NOW)
    assert sorted(codes(found)) == ["acme_issuer", "ca_expires_too_soon", "istio_has_own_ca", "trust_domain_mismatch"]


def test_certificate_lifetimes_follow_cert_managers_rules():
    hosts = [{"name": "app"}, {"name": "short", "duration": "30m"}, {"name": "days", "duration": "90d"},
             {"name": "late", "duration": "2h", "renew_before": "2h"}, {"name": "eager", "renew_before": "1m"}]
    problems = preflight.certificate_lifetime_problems(hosts, "2160h", "720h", variable="gateway_certs_hosts")
    assert problems == [
        "gateway_certs_hosts[1] (Certificate short): duration 30m is shorter than the 1h cert-manager accepts",
        "gateway_certs_hosts[1] (Certificate short): renew_before 720h must be shorter than duration 30m",
        "gateway_certs_hosts[2] (Certificate days): duration '90d' is not a Go duration (units h, m, s, ms; "
        "days are written in hours, 90 days = 2160h)",
        "gateway_certs_hosts[3] (Certificate late): renew_before 2h must be shorter than duration 2h",
        "gateway_certs_hosts[4] (Certificate eager): renew_before 1m is shorter than the 5m cert-manager accepts",
    ]
    assert preflight.certificate_lifetime_problems([{"name": "app"}], "1h", "59m59s") == []
    assert preflight.certificate_lifetime_problems([{"name": "app"}]) == []


def test_go_durations_are_read_as_go_reads_them():
    assert preflight.go_duration_seconds("1h30m") == 5400
    assert preflight.go_duration_seconds("2160h0m0s") == 2160 * 3600
    assert preflight.go_duration_seconds("1.5h") == 5400
    for bad in ("", "90d", "1w", "h", "10", "1h 30m", "banana"):
        try:
            preflight.go_duration_seconds(bad)
        except ValueError:
            continue
        raise AssertionError("%r was accepted" % bad)


def test_a_cluster_pinning_another_root_is_a_split_naming_the_cluster_and_both_fingerprints():
    found = preflight.check_mesh_root("east", ["aa:bb"], "cc:dd", "Secret cert-manager/istio-root-ca")

    assert [p["code"] for p in found] == ["mesh_root_split"]
    message = found[0]["message"]
    assert "cluster east" in message and "aa:bb" in message and "cc:dd" in message
    assert "Secret cert-manager/istio-root-ca" in message and "certmesh_pki_store" in message


def test_a_cluster_pinning_this_root_among_others_is_no_split():
    assert preflight.check_mesh_root("east", ["aa:bb", "cc:dd"], "cc:dd") == []


def test_a_cluster_pinning_no_root_yet_is_no_split():
    assert preflight.check_mesh_root("east", [], "cc:dd") == []
