# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus Operator objects that keep watching the mesh between runs, built as data.

The expiry alerts use the same lifetime-relative thresholds as rotation_check
(``expiry.DEFAULT_WARN_FRACTION`` / ``DEFAULT_CRITICAL_FRACTION``): an alert fires when a
certificate has less than that fraction of its lifetime left, so a 1h workload certificate and a
10-year root are judged alike. The mesh root and the cluster intermediate are files on the
control node, not scraped by anything: their validity is published as recording rules
(``certmesh_ca_certificate_not_{before,after}_timestamp_seconds``) and rewritten by every run,
so the alert over them has the same shape as the one over cert-manager's Certificate metrics.
Every value a user gives lands in a string or a label value, never in the object's structure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, pki

API_VERSION = "monitoring.coreos.com/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "certmesh.istio"}
#: CRDs the objects need; apply mode refuses (or skips) without them.
REQUIRED_CRDS = ("prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com")
#: Alert thresholds, as fractions of a certificate's lifetime left: rotation_check's defaults.
THRESHOLDS = {"renew_soon": expiry.DEFAULT_WARN_FRACTION, "critical": expiry.DEFAULT_CRITICAL_FRACTION}
_SEVERITY = {"renew_soon": "warning", "critical": "critical"}
#: cert-manager's controller Service (chart value prometheus.enabled) and its port name.
CERT_MANAGER_METRICS_PORT = "tcp-prometheus-servicemonitor"
#: istio-csr's chart names its objects after the chart (not the release): the metrics Service
#: (chart value app.metrics.service.enabled) is <name>-metrics, labelled app=<name>.
ISTIO_CSR_NAME = "cert-manager-istio-csr"
ISTIO_CSR_METRICS_PORT = "metrics"


def cert_manager_service(release):
    """Name of cert-manager's controller Service: Helm's fullname of the chart for ``release``."""
    return release if "cert-manager" in release else "%s-cert-manager" % release


class MonitoringInputError(ValueError):
    """A setting that cannot become a rule; ``str()`` names the setting."""


def _fraction(value):
    # Full precision, so the number in the rule is rotation_check's number, not an approximation.
    return repr(float(value))


def _selector(labels):
    return "{%s}" % ", ".join('%s="%s"' % (key, _escape(value)) for key, value in sorted(labels.items()))


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def _epoch(moment):
    return calendar.timegm(moment.utctimetuple())


def ca_certificate_records(ca_certificates):
    """``[{certificate, pem, origin}]`` -> ``[{certificate, not_before, not_after}]`` (epoch
    seconds; the first certificate of each PEM). Unreadable entries are returned as problems."""
    records, problems = [], []
    for entry in ca_certificates or []:
        try:
            first = pki.load_pem_certificates(entry["pem"], entry.get("origin") or entry["certificate"])[0]
        except (pki.MalformedInput, KeyError, IndexError) as exc:
            problems.append("%s: %s" % (entry.get("origin") or entry.get("certificate"), exc))
            continue
        records.append({"certificate": entry["certificate"],
                        "not_before": _epoch(first.cert.not_valid_before_utc),
                        "not_after": _epoch(first.cert.not_valid_after_utc)})
    return records, problems


def _runbook(settings, alert):
    return "%s#%s" % (settings["runbook_base_url"], alert.lower())


def _alert(settings, name, expr, severity, summary, description, for_=None):
    rule = {"alert": name, "expr": expr,
            "labels": dict(settings.get("alert_labels") or {}, severity=severity, cluster=settings["cluster"]),
            "annotations": {"summary": summary, "description": description,
                            "runbook_url": _runbook(settings, name)}}
    if for_:
        rule["for"] = for_
    return rule


def _left_below(not_after, not_before, fraction):
    """PromQL: less than ``fraction`` of the lifetime (not_after - not_before) is left."""
    return "(%s - time()) < (%s - %s) * %s" % (not_after, not_after, not_before, _fraction(fraction))


def _expiry_alerts(settings):
    """Renew-soon and critical alerts for cert-manager Certificates, workload certificates and the CA."""
    rules = []
    lifetime = pki.parse_duration(settings["workload_certificate_duration"])
    certificate = "certmanager_certificate_%s_timestamp_seconds"
    ca = "certmesh_ca_certificate_%s_timestamp_seconds" + _selector({"cluster": settings["cluster"]})
    for level, fraction in sorted(THRESHOLDS.items()):
        percent = "%g%%" % round(fraction * 100, 1)
        suffix = "RenewSoon" if level == "renew_soon" else "Critical"
        rules.append(_alert(
            settings, "CertmeshCertificate" + suffix,
            _left_below(certificate % "not_after", certificate % "not_before", fraction),
            _SEVERITY[level], "Certificate {{ $labels.namespace }}/{{ $labels.name }} has less than %s of its lifetime left"
            % percent, "cert-manager should have renewed it; see why it did not.", settings["for"]))
        rules.append(_alert(
            settings, "CertmeshWorkloadCertificate" + suffix,
            "istio_agent_cert_expiry_seconds < %d" % int(lifetime * fraction),
            _SEVERITY[level], "A workload certificate on {{ $labels.pod }} has less than %s of its %s lifetime left"
            % (percent, pki.format_duration(lifetime)),
            "istio-csr signs workload certificates; the proxy should have renewed it.", settings["for"]))
        rules.append(_alert(
            settings, "CertmeshCA" + suffix,
            _left_below(ca % "not_after", ca % "not_before", fraction),
            _SEVERITY[level], "The {{ $labels.certificate }} of cluster %s has less than %s of its lifetime left"
            % (settings["cluster"], percent), "Rotate it with playbooks/rotate.yml.", settings["for"]))
    return rules


def _health_alerts(settings):
    issuer = settings["issuer"]
    metric = "certmanager_clusterissuer_ready_status" if issuer["kind"] == "ClusterIssuer" else "certmanager_issuer_ready_status"
    issuer_labels = {"name": issuer["name"], "condition": "True"}
    if issuer["kind"] != "ClusterIssuer":
        issuer_labels["namespace"] = settings["cert_manager_namespace"]
    cert_manager_up = {"namespace": settings["cert_manager_namespace"],
                       "service": cert_manager_service(settings["cert_manager_release"])}
    istio_csr_up = {"namespace": settings["cert_manager_namespace"], "service": ISTIO_CSR_NAME + "-metrics"}
    return [
        _alert(settings, "CertmeshCAIssuerNotReady", "%s%s != 1" % (metric, _selector(issuer_labels)), "critical",
               "%s %s is not Ready" % (issuer["kind"], issuer["name"]),
               "No workload or gateway certificate can be signed until it is.", settings["for"]),
        _alert(settings, "CertmeshCertManagerDown", "absent(up%s == 1)" % _selector(cert_manager_up), "critical",
               "cert-manager is not scraped as up on cluster %s" % settings["cluster"],
               "Certificates are not renewed while cert-manager is down.", settings["for"]),
        _alert(settings, "CertmeshIstioCsrDown", "absent(up%s == 1)" % _selector(istio_csr_up), "critical",
               "istio-csr is not scraped as up on cluster %s" % settings["cluster"],
               "Workloads cannot get or renew certificates while istio-csr is down.", settings["for"]),
        _alert(settings, "CertmeshCertificateNotReady", 'certmanager_certificate_ready_status{condition="False"} == 1',
               "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} is not Ready",
               "Its last issuance failed; its CertificateRequest says why.", settings["for"]),
        _alert(settings, "CertmeshCertificateRequestsFailing",
               'sum by (controller) (rate(certmanager_controller_sync_error_count{controller=~"certificaterequests.*"}[10m])) > 0',
               "warning", "cert-manager fails to process CertificateRequests ({{ $labels.controller }})",
               "istio-csr's workload requests go through these controllers.", settings["for"]),
    ]


def _ca_recording_rules(settings, records):
    rules = []
    for record in records:
        labels = {"cluster": settings["cluster"], "certificate": record["certificate"]}
        for edge in ("not_before", "not_after"):
            rules.append({"record": "certmesh_ca_certificate_%s_timestamp_seconds" % edge,
                          "expr": "vector(%d)" % record[edge], "labels": labels})
    return rules


def _metadata(settings, name):
    return {"name": name, "namespace": settings["namespace"], "labels": dict(settings.get("labels") or {}, **MANAGED_BY)}


def prometheus_rule(settings, records):
    """The PrometheusRule of one cluster: CA recording rules, expiry and health alerts."""
    groups = []
    recording = _ca_recording_rules(settings, records)
    if recording:
        groups.append({"name": "certmesh-ca-certificates", "rules": recording})
    groups.append({"name": "certmesh-expiry", "rules": _expiry_alerts(settings)})
    groups.append({"name": "certmesh-health", "rules": _health_alerts(settings)})
    return {"apiVersion": API_VERSION, "kind": "PrometheusRule", "metadata": _metadata(settings, "certmesh-mesh"),
            "spec": {"groups": groups}}


def _service_monitor(settings, name, match_labels, port, honor_labels):
    return {"apiVersion": API_VERSION, "kind": "ServiceMonitor", "metadata": _metadata(settings, name),
            "spec": {"selector": {"matchLabels": match_labels},
                     "namespaceSelector": {"matchNames": [settings["cert_manager_namespace"]]},
                     "endpoints": [{"port": port, "path": "/metrics", "interval": settings["scrape_interval"],
                                    "honorLabels": honor_labels}]}}


def service_monitors(settings):
    """ServiceMonitors for cert-manager's controller and istio-csr's metrics Services.

    cert-manager's metrics carry ``name``/``namespace`` labels of the Certificate; honorLabels
    keeps them instead of renaming them ``exported_*`` for the scrape target's namespace.
    """
    return [
        _service_monitor(settings, "certmesh-cert-manager",
                         {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller",
                          "app.kubernetes.io/instance": settings["cert_manager_release"]},
                         CERT_MANAGER_METRICS_PORT, True),
        _service_monitor(settings, "certmesh-istio-csr", {"app": ISTIO_CSR_NAME},
                         ISTIO_CSR_METRICS_PORT, False),
    ]


def monitoring_objects(settings, ca_certificates=None):
    """Everything the mesh_monitoring role applies or renders: ``(objects, problems)``."""
    try:
        records, problems = ca_certificate_records(ca_certificates)
        objects = [prometheus_rule(settings, records)] + service_monitors(settings)
    except KeyError as exc:
        raise MonitoringInputError("mesh monitoring setting %s is missing" % exc)
    except ValueError as exc:
        raise MonitoringInputError("mesh_monitoring_workload_certificate_duration: %s" % exc)
    return objects, problems


def alert_names(rule):
    """Every alert name in a PrometheusRule (for docs and tests)."""
    return [r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]
