#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rotation_check
short_description: Find mesh certificates that need rotating, across clusters and files
version_added: 0.1.0
description:
  - Scans certificates and classifies each as V(ok), V(renew_soon), V(critical), V(expired)
    or V(invalid), with thresholds relative to each certificate's lifetime (mesh certificates
    live hours, gateway certificates 90 days, roots years).
  - Kubernetes sources (O(clusters)) - TLS Secrets, Istio's plugged-in CA Secrets
    (C(cacerts), C(istio-ca-secret)), cert-manager C(Certificate) resources (their
    C(spec.renewBefore)/C(duration) and C(status.notAfter)/C(renewalTime) are compared with
    the Secret they point to) and the C(istio-ca-root-cert) ConfigMaps. One task covers many
    clusters, read through kubernetes.core's client.
  - Local sources (O(paths)) - PEM files and directories, recursively; a file may hold
    several certificates.
  - Flags a CA that expires before a certificate it may still issue would.
  - Can write the result as JSON, JUnit XML, Markdown and HTML (O(report)) for AWX artefacts
    and CI.
  - Never changes anything on a cluster; V(changed) is always false.
author:
  - certmesh developers (@certmesh)
requirements:
  - cryptography >= 43.0
  - kubernetes (only for O(clusters))
extends_documentation_fragment:
  - certmesh.istio.cluster_connection
attributes:
  check_mode:
    support: full
    description: The module only reads (the report files are written in check mode too).
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  clusters:
    description:
      - Clusters to scan. Each item needs a O(clusters[].name) (used in results) and may set
        any connection option; unset ones fall back to the module-level options, the
        C(K8S_AUTH_*) variables and C(~/.kube/config), as in M(kubernetes.core.k8s).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the cluster in the results.
        type: str
        required: true
      kubeconfig:
        description: Kubeconfig path or dict.
        type: raw
      context:
        description: Kubeconfig context.
        type: str
      host:
        description: API server URL.
        type: str
      api_key:
        description: Bearer token.
        type: str
      validate_certs:
        description: Whether to verify the API server's certificate.
        type: bool
  namespaces:
    description: Namespaces to scan; all namespaces when not given.
    type: list
    elements: str
  label_selector:
    description: Label selector for Secrets and Certificates (not for the root ConfigMaps).
    type: str
  paths:
    description:
      - PEM files and directories (scanned recursively; files without a certificate in a
        directory are skipped, a named file without one is reported V(invalid)).
    type: list
    elements: path
  warn_within:
    description:
      - V(renew_soon) when less than this is left. A duration (V(7d), V(12h)) or a percentage
        of the certificate's lifetime (V(33%)).
      - Default - the Certificate's C(spec.renewBefore) when known, else one third of the
        lifetime.
    type: str
  critical_within:
    description:
      - V(critical) when less than this is left; a duration or a percentage of the lifetime.
        Default one tenth of the lifetime.
    type: str
  issuer_max_duration:
    description:
      - Longest lifetime a CA issues (for example V(24h) for istio-csr workload certificates).
        A CA expiring sooner than now plus this is flagged. Default - the longest lifetime
        among the scanned certificates it issued.
    type: str
  at:
    description: ISO 8601 time to evaluate at. Default now.
    type: str
  fail_on:
    description: Fail the task when a certificate has one of these statuses.
    type: list
    elements: str
    choices: [renew_soon, critical, expired, invalid]
    default: []
  result_detail:
    description:
      - How much the task returns. V(attention) - the RV(summary) counts over every certificate
        scanned, and in RV(certificates) only the certificates that need attention (any status
        but V(ok)); the full list goes to the O(report) files. V(full) - every certificate in
        RV(certificates).
      - A scan of thousands of Secrets returns megabytes with V(full), which Ansible copies and
        scrubs of secret option values before the next task runs.
    type: str
    choices: [attention, full]
    default: attention
  report:
    description: Write the result to files (always every certificate, whatever O(result_detail) says).
    type: dict
    suboptions:
      dest:
        description: Folder to write to (created when missing).
        type: path
        required: true
      formats:
        description:
          - Formats to write. V(markdown) also writes the timeline as C(<basename>-timeline.svg);
            V(html) embeds it.
        type: list
        elements: str
        choices: [json, junit, markdown, html]
        default: [json, junit, markdown, html]
      basename:
        description: File name without extension.
        type: str
        default: rotation-check
seealso:
  - module: certmesh.istio.chain_verify
"""

EXAMPLES = r"""
- name: Check every cluster of the mesh and the local PKI folder, with reports for AWX
  certmesh.istio.rotation_check:
    clusters:
      - {name: east, context: east}
      - {name: west, context: west}
    paths: [pki/]
    report:
      dest: "{{ playbook_dir }}/out/rotation"
  register: rotation

- name: Fail CI when a gateway certificate is critical or expired
  certmesh.istio.rotation_check:
    clusters: [{name: prod, kubeconfig: ~/.kube/prod}]
    namespaces: [istio-ingress]
    warn_within: 30d
    critical_within: 7d
    fail_on: [critical, expired, invalid]

- name: What needs rotating (the default result lists only the certificates that need attention)
  ansible.builtin.debug:
    msg: "{{ rotation.certificates | map(attribute='name') | list }} of {{ rotation.summary.total }}"

- name: Every certificate in the result, as for an inventory of the fleet
  certmesh.istio.rotation_check:
    clusters: [{name: prod, kubeconfig: ~/.kube/prod}]
    result_detail: full
  register: inventory
"""

RETURN = r"""
certificates:
  description:
    - One entry per certificate, sorted by expiry - with O(result_detail=attention) (the
      default) only the certificates whose status is not V(ok); with O(result_detail=full)
      every certificate. The O(report) files always list every certificate.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: Cluster name, or null for files.
      type: str
    source:
      description: >-
        V(secret), V(certificate) (a Secret managed by a cert-manager Certificate, named after
        the Certificate), V(configmap), V(file) or V(cluster) (the cluster could not be read).
      type: str
    namespace:
      description: Namespace, or null for files.
      type: str
    name:
      description: Secret, Certificate or ConfigMap name, or the file name.
      type: str
    key:
      description: Data key (C(tls.crt), C(ca.crt), C(root-cert.pem)...), with C(#N) for the N-th certificate of a bundle.
      type: str
    path:
      description: File path, for files.
      type: str
    subject:
      description: Subject (or first SAN when the subject is empty).
      type: str
    issuer:
      description: Issuer.
      type: str
    serial:
      description: Serial number in hexadecimal.
      type: str
    not_after:
      description: Expiry, ISO 8601 UTC.
      type: str
    seconds_left:
      description: Seconds until expiry at the evaluation time (negative when expired).
      type: int
    status:
      description: V(ok), V(renew_soon), V(critical), V(expired) or V(invalid).
      type: str
    reason:
      description: Why, with the threshold that applied.
      type: str
  sample:
    - cluster: east
      source: certificate
      namespace: istio-ingress
      name: shop-example-com
      key: tls.crt
      subject: CN=shop.example.com
      issuer: CN=certmesh cluster intermediate
      serial: 3C12EE
      not_after: "2027-01-20T08:00:00Z"
      seconds_left: 2160000
      status: renew_soon
      reason: expires in 25d, within the warning threshold (renewBefore 30d)
summary:
  description: Counts per status, total, how many need attention, and the soonest expiry, over every certificate scanned.
  returned: always
  type: dict
  sample:
    total: 3
    needs_attention: 1
    counts: {ok: 2, renew_soon: 1, critical: 0, expired: 0, invalid: 0}
    soonest: {cluster: east, name: shop-example-com, not_after: "2027-01-20T08:00:00Z", seconds_left: 2160000, status: renew_soon}
at:
  description: The evaluation time, ISO 8601 UTC.
  returned: always
  type: str
result_detail:
  description: What RV(certificates) holds - V(attention) or V(full) (O(result_detail)).
  returned: always
  type: str
  sample: attention
report_files:
  description: Paths of the files written, per format.
  returned: when O(report) is given
  type: dict
  sample: {json: out/rotation/rotation-check.json, junit: out/rotation/rotation-check.junit.xml}
"""

import copy

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import expiry
from ansible_collections.certmesh.istio.plugins.module_utils import kube
from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.certmesh.istio.plugins.module_utils import report
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        clusters=dict(type="list", elements="dict", options=dict(
            name=dict(type="str", required=True),
            kubeconfig=dict(type="raw", no_log=True),
            context=dict(type="str"),
            host=dict(type="str"),
            api_key=dict(type="str", no_log=True),
            validate_certs=dict(type="bool"),
        )),
        namespaces=dict(type="list", elements="str"),
        label_selector=dict(type="str"),
        paths=dict(type="list", elements="path"),
        warn_within=dict(type="str"),
        critical_within=dict(type="str"),
        issuer_max_duration=dict(type="str"),
        at=dict(type="str"),
        fail_on=dict(type="list", elements="str", default=[],
                     choices=["renew_soon", "critical", "expired", "invalid"]),
        result_detail=dict(type="str", choices=["attention", "full"], default="attention"),
        report=dict(type="dict", options=dict(
            dest=dict(type="path", required=True),
            formats=dict(type="list", elements="str", default=list(report.FORMATS),
                         choices=list(report.FORMATS)),
            basename=dict(type="str", default="rotation-check"),
        )),
    )
    return spec


def collect(module):
    params = module.params
    records = expiry.scan_paths(params["paths"] or [])
    clusters = params["clusters"] or []
    if clusters:
        try:
            import kubernetes  # noqa: F401 pylint: disable=unused-import
        except ImportError:
            module.fail_json(msg=missing_required_lib("kubernetes"))
    for cluster in clusters:
        try:
            client = kube.api_client(kube.cluster_auth(params, cluster))
        except kube.KubeError as exc:
            records.append(expiry.broken("cluster %s: %s" % (cluster["name"], exc), "cluster",
                                         cluster["name"], cluster["name"]))
            continue
        records.extend(kube.records_for_cluster(cluster["name"], client, params["namespaces"],
                                                params["label_selector"]))
    return records


def compact(result, detail):
    """The task result for ``result_detail``: with ``attention``, only the certificates that
    need it (the summary still counts every one, the report files list every one)."""
    result = dict(result, result_detail=detail)
    if detail != "full":
        result["certificates"] = [entry for entry in result["certificates"] if entry["status"] != "ok"]
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("clusters", "paths")])
    kube.reveal_kubeconfig_paths(module)
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        at = pki.parse_time(params["at"])
        for option in ("warn_within", "critical_within"):
            expiry.parse_threshold(params[option])
        if params["issuer_max_duration"]:
            pki.parse_duration(params["issuer_max_duration"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    records = collect(module)
    result = expiry.rotation_result(records, at, params["warn_within"], params["critical_within"],
                                    params["issuer_max_duration"])
    if params["report"]:
        try:
            result["report_files"] = report.write(result, params["report"]["dest"],
                                                  params["report"]["formats"], params["report"]["basename"])
        except (OSError, ValueError) as exc:
            module.fail_json(msg="cannot write the report to %s: %s" % (params["report"]["dest"], exc),
                             **compact(result, params["result_detail"]))
    failing = [entry for entry in result["certificates"] if entry["status"] in params["fail_on"]]
    if failing:
        lines = ["%d certificate(s) with status %s:" % (len(failing), ", ".join(params["fail_on"]))]
        lines += ["[%s] %s %s: %s" % (entry["status"], "/".join(p for p in (
            entry["cluster"], entry["namespace"], entry["name"]) if p), entry["subject"] or "",
            entry["reason"]) for entry in failing[:50]]
        module.fail_json(msg="\n".join(lines), changed=False, **compact(result, params["result_detail"]))
    module.exit_json(changed=False, **compact(result, params["result_detail"]))


if __name__ == "__main__":
    main()
