"""The mesh's Prometheus objects: thresholds from rotation_check, valid PromQL, valid against the CRDs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib
import re

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, mesh_monitoring
from tests.support.pki_factory import MeshPKI
from tests.support.upstream import crd_validator

promql_parser = pytest.importorskip("promql_parser", reason="promql-parser (requirements-dev.txt) checks PromQL syntax")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[4]
RUNBOOK = REPO_ROOT / "docs" / "runbooks" / "monitoring-alerts.md"

SETTINGS = {
    "cluster": "east", "namespace": "cert-manager", "labels": {"release": "kube-prometheus-stack"},
    "alert_labels": {"team": "platform"}, "cert_manager_namespace": "cert-manager",
    "cert_manager_release": "cert-manager", "issuer": {"name": "istio-ca", "kind": "ClusterIssuer"},
    "workload_certificate_duration": "1h", "for": "10m", "scrape_interval": "60s",
    "runbook_base_url": "https://example.test/docs/runbooks/monitoring-alerts.md",
}


@pytest.fixture(scope="module")
def objects():
    mesh = MeshPKI()
    ca = [{"certificate": "mesh_root", "pem": mesh.root.pem, "origin": "root-ca.crt"},
          {"certificate": "cluster_intermediate", "pem": mesh.intermediate.pem, "origin": "intermediate-ca.crt"}]
    built, problems = mesh_monitoring.monitoring_objects(SETTINGS, ca)
    assert problems == []
    return built


def _rules(objects):
    return [rule for group in objects[0]["spec"]["groups"] for rule in group["rules"]]


def _alert(objects, name):
    return next(rule for rule in _rules(objects) if rule.get("alert") == name)


def _numbers(expr):
    found = []

    def visit(node):
        if isinstance(node, promql_parser.NumberLiteral):
            found.append(node.val)

    promql_parser.walk(promql_parser.parse(expr), visit, None)
    return found


def test_every_rule_expression_is_valid_promql(objects):
    for rule in _rules(objects):
        promql_parser.parse(rule["expr"])  # raises ValueError naming the syntax error


def test_the_parser_used_by_these_tests_rejects_broken_promql():
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(certmanager_controller_sync_error_count[10m])")


@pytest.mark.parametrize("prefix", ["CertmeshCertificate", "CertmeshCA"])
def test_lifetime_relative_alerts_use_rotation_checks_default_fractions(objects, prefix):
    assert _numbers(_alert(objects, prefix + "RenewSoon")["expr"]) == [expiry.DEFAULT_WARN_FRACTION]
    assert _numbers(_alert(objects, prefix + "Critical")["expr"]) == [expiry.DEFAULT_CRITICAL_FRACTION]


def test_workload_alerts_are_the_same_fractions_of_the_workload_lifetime(objects):
    assert _numbers(_alert(objects, "CertmeshWorkloadCertificateRenewSoon")["expr"]) == [int(3600 * expiry.DEFAULT_WARN_FRACTION)]
    assert _numbers(_alert(objects, "CertmeshWorkloadCertificateCritical")["expr"]) == [int(3600 * expiry.DEFAULT_CRITICAL_FRACTION)]


def test_a_certificate_past_two_thirds_of_its_life_is_where_rotation_check_says_renew_soon():
    """The alert's threshold is rotation_check's: the same moment classifies as renew_soon."""
    mesh = MeshPKI()
    cert = mesh.intermediate.cert
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    just_past = cert.not_valid_before_utc + lifetime * (1 - mesh_monitoring.THRESHOLDS["renew_soon"]) + lifetime / 1000
    assert expiry.classify(cert.not_valid_before_utc, cert.not_valid_after_utc, just_past)["status"] == "renew_soon"
    assert mesh_monitoring.THRESHOLDS == {"renew_soon": 1.0 / 3, "critical": 1.0 / 10}


def test_the_ca_validity_is_recorded_for_the_mesh_root_and_the_cluster_intermediate(objects):
    recorded = {(r["record"], r["labels"]["certificate"]) for r in _rules(objects) if "record" in r}
    assert recorded == {("certmesh_ca_certificate_%s_timestamp_seconds" % edge, which)
                        for edge in ("not_before", "not_after") for which in ("mesh_root", "cluster_intermediate")}


def test_the_objects_validate_against_the_prometheus_operator_crds(objects):
    assert [o["kind"] for o in objects] == ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    for obj in objects:
        validator = crd_validator(obj["apiVersion"], obj["kind"])
        assert validator is not None, obj["kind"]
        assert validator.errors(obj) == [], obj["metadata"]["name"]


def test_every_alert_links_to_a_section_of_the_runbook(objects):
    anchors = {re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
               for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    names = mesh_monitoring.alert_names(objects[0])
    assert len(names) == 11
    for name in names:
        url = _alert(objects, name)["annotations"]["runbook_url"]
        assert url == SETTINGS["runbook_base_url"] + "#" + name.lower()
        assert name.lower() in anchors, name


def test_user_values_stay_values(objects):
    hostile = dict(SETTINGS, cluster='east"} or vector(1) #', labels={"x": "a\nb"})
    built, _problems = mesh_monitoring.monitoring_objects(hostile, [])
    expr = _alert(built, "CertmeshCARenewSoon")["expr"]
    promql_parser.parse(expr)
    assert 'cluster="east\\"} or vector(1) #"' in expr
    assert built[0]["metadata"]["labels"] == {"x": "a\nb", "app.kubernetes.io/managed-by": "certmesh.istio"}


def test_service_monitors_select_the_charts_metrics_services(objects):
    cert_manager, istio_csr = objects[1], objects[2]
    assert cert_manager["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    assert cert_manager["spec"]["endpoints"][0]["port"] == "tcp-prometheus-servicemonitor"
    assert cert_manager["spec"]["endpoints"][0]["honorLabels"] is True
    assert istio_csr["spec"]["selector"]["matchLabels"] == {"app": "cert-manager-istio-csr"}
    assert istio_csr["spec"]["namespaceSelector"] == {"matchNames": ["cert-manager"]}


def test_an_issuer_not_ready_alert_follows_the_issuer_kind():
    built, _problems = mesh_monitoring.monitoring_objects(dict(SETTINGS, issuer={"name": "mesh", "kind": "Issuer"}), [])
    assert _alert(built, "CertmeshCAIssuerNotReady")["expr"] == \
        'certmanager_issuer_ready_status{condition="True", name="mesh", namespace="cert-manager"} != 1'


def test_a_bad_workload_duration_names_the_variable():
    with pytest.raises(mesh_monitoring.MonitoringInputError, match="mesh_monitoring_workload_certificate_duration"):
        mesh_monitoring.monitoring_objects(dict(SETTINGS, workload_certificate_duration="soon"), [])


def test_an_unreadable_ca_certificate_is_a_problem_not_an_exception():
    _built, problems = mesh_monitoring.monitoring_objects(SETTINGS, [{"certificate": "mesh_root", "pem": "nope", "origin": "root-ca.crt"}])
    assert len(problems) == 1 and problems[0].startswith("root-ca.crt")
