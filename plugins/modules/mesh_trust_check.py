#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_trust_check
short_description: Check the trust of a multi-cluster mesh, cluster by cluster and across clusters
version_added: 0.1.0
description:
  - For every cluster of O(clusters) - the mesh issuer is Ready; istio-csr is Available behind
    its Service with its pinned root Secret; istiod sends proxies to istio-csr and runs no CA of
    its own (no C(istio-ca-secret)); every managed cert-manager C(Certificate)'s Secret chains to
    O(roots) (workload, gateway and CA rules of M(certmesh.istio.chain_verify)); every
    Istio Gateway's C(credentialName) Secret and every Gateway API Gateway's C(certificateRefs)
    Secret exists and serves a valid certificate for its hosts; the
    C(istio-ca-root-cert) ConfigMap of every namespace carries exactly O(roots); a mesh-wide
    STRICT C(PeerAuthentication) exists where required.
  - Across clusters - one trust domain and one published root set.
  - Each result names the cluster, the object and the likely cause. O(wait_timeout) polls until
    every selected check passes (root rotation waits on it).
  - Changes nothing on a cluster, except with O(renew).
author:
  - certmesh developers (@certmesh)
requirements:
  - cryptography >= 43.0
  - kubernetes
extends_documentation_fragment:
  - certmesh.istio.cluster_connection
attributes:
  check_mode:
    support: full
    description: In check mode no renewal is triggered (the report files are written in check mode too).
  diff_mode:
    support: none
    description: No diff.
options:
  clusters:
    description:
      - The clusters of the mesh. Unset connection options fall back to the module-level ones,
        the C(K8S_AUTH_*) variables and C(~/.kube/config).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the cluster in the results.
        type: str
        required: true
      kubeconfig:
        description: Kubeconfig path or dict.
        type: raw
      context:
        description: Context in the kubeconfig.
        type: str
      host:
        description: API server URL.
        type: str
      api_key:
        description: Bearer token.
        type: str
      validate_certs:
        description: Verify the API server's certificate.
        type: bool
      trust_domain:
        description: SPIFFE trust domain this cluster is configured with.
        type: str
      strict_mtls:
        description: Whether a mesh-wide STRICT PeerAuthentication is required on this cluster.
        type: bool
        default: true
      istio_mode:
        description:
          - The cluster's Istio data plane. With C(ambient) the checks C(ztunnel_ready) (the ztunnel
            DaemonSet ready on every node and asking istio-csr) and C(ambient_namespaces) run too.
        type: str
        choices: [sidecar, ambient]
        default: sidecar
      ambient_namespaces:
        description: Namespaces that must carry the label C(istio.io/dataplane-mode=ambient) (ambient mode).
        type: list
        elements: str
        default: []
  roots:
    description:
      - The trusted mesh root(s) - PEM text, a file path, or a list of either. Every
        C(istio-ca-root-cert) ConfigMap must carry exactly these; chains must lead to one of them.
    type: raw
    required: true
  chain_roots:
    description:
      - Roots the certificate chains must lead to, when they differ from O(roots) (while a root
        rotation drains, ConfigMaps carry old and new root but every certificate must already
        chain to the new one).
    type: raw
  checks:
    description: The checks to run (default all).
    type: list
    elements: str
    choices: [issuer_ready, istio_csr_serving, istiod_external_ca, certificate_chains, gateway_credentials, root_configmaps,
              strict_mtls, ztunnel_ready, ambient_namespaces, trust_bundle,
              one_trust_domain, one_root]
  issuer:
    description: The mesh issuer (name, kind, group).
    type: dict
    default: {name: istio-ca, kind: ClusterIssuer, group: cert-manager.io}
  cert_manager_namespace:
    description: Namespace of cert-manager, istio-csr and the CA Secrets.
    type: str
    default: cert-manager
  istio_namespace:
    description: Istio's root namespace.
    type: str
    default: istio-system
  istio_csr_name:
    description: Name of istio-csr's Deployment and Service.
    type: str
    default: cert-manager-istio-csr
  root_ca_secret_name:
    description: Secret holding the root istio-csr pins.
    type: str
    default: istio-root-ca
  trust_bundle_name:
    description:
      - Name of the trust-manager C(Bundle) that publishes the mesh roots (roles/trust_manager).
        When set, the C(trust_bundle) check requires that Bundle to list exactly O(roots) and its
        ConfigMap in O(cert_manager_namespace) (what istio-csr pins) to carry the same.
    type: str
  trust_bundle_key:
    description: Key of the roots in the Bundle's ConfigMap.
    type: str
    default: ca.pem
  label_selector:
    description: Label selector of the Certificates to check.
    type: str
    default: app.kubernetes.io/managed-by=certmesh.istio
  events:
    description: Also collect Warning events and events of cert-manager objects, and attach
      to each failed check the events of its object (diagnosis).
    type: bool
    default: false
  renew:
    description:
      - Trigger the re-issuance (as C(cmctl renew) does, with the C(Issuing) condition) of every
        managed Certificate whose chain does not lead to O(chain_roots), once per run. cert-manager
        does not re-issue a Certificate because its issuer's CA changed; a CA rotation needs this.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to poll until every selected check passes; 0 checks once.
    type: int
    default: 0
  fail:
    description: Fail the task when a check fails (the results are returned either way).
    type: bool
    default: true
  report:
    description: Write the results as C(<basename>.json), C(.junit.xml) and C(.md) under O(report.dest).
    type: dict
    suboptions:
      dest:
        description: Folder of the report files.
        type: path
        required: true
      basename:
        description: File name without extension.
        type: str
        default: mesh-trust
"""

EXAMPLES = r"""
- name: Verify the whole mesh once, from the control node
  certmesh.istio.mesh_trust_check:
    clusters:
      - {name: east, kubeconfig: ~/.kube/prod.yaml, context: east, trust_domain: prod.example.com}
      - {name: west, kubeconfig: ~/.kube/prod.yaml, context: west, trust_domain: prod.example.com}
    roots: out/prod/mesh-root/root-ca.crt
    report:
      dest: out/prod/reports/mesh
  run_once: true

- name: Wait until every namespace of every cluster publishes both roots (root rotation)
  certmesh.istio.mesh_trust_check:
    clusters: "{{ mesh_clusters }}"
    roots: [out/prod/mesh-root/root-ca.crt, out/prod/mesh-root-next/root-ca.crt]
    checks: [root_configmaps]
    wait_timeout: 300
"""

RETURN = r"""
results:
  description: One item per check (cluster C(mesh) for the cross-cluster checks).
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: Cluster name, or C(mesh) for the cross-cluster checks.
      type: str
    check:
      description: Check name.
      type: str
    ok:
      description: Whether it passed.
      type: bool
    object:
      description: The Kubernetes object checked (C(Kind namespace/name)).
      type: str
    message:
      description: What was found.
      type: str
    cause:
      description: The likely cause when it failed.
      type: str
    details:
      description: Conditions, chain problems, fingerprints and (with O(events)) events.
      type: dict
failures:
  description: One line per failed check, naming cluster, object and likely cause.
  returned: always
  type: list
  elements: str
summary:
  description: Counts, the clusters, and the failing clusters.
  returned: always
  type: dict
clusters:
  description: Per cluster, its trust domain(s) and the root fingerprints it publishes.
  returned: always
  type: list
  elements: dict
events:
  description: Per cluster, the collected events (with O(events)).
  returned: always
  type: dict
renewed:
  description: The Certificates whose renewal was triggered (O(renew)), as C(cluster/namespace/name).
  returned: always
  type: list
  elements: str
report_files:
  description: Paths of the written report files.
  returned: when O(report) is given
  type: dict
"""

import copy
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from ansible_collections.certmesh.istio.plugins.module_utils import kube
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust_ambient
from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

POLL_SECONDS = 2


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        clusters=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            kubeconfig=dict(type="raw", no_log=True),
            context=dict(type="str"),
            host=dict(type="str"),
            api_key=dict(type="str", no_log=True),
            validate_certs=dict(type="bool"),
            trust_domain=dict(type="str"),
            strict_mtls=dict(type="bool", default=True),
            istio_mode=dict(type="str", choices=["sidecar", "ambient"], default="sidecar"),
            ambient_namespaces=dict(type="list", elements="str", default=[]),
        )),
        roots=dict(type="raw", required=True),
        chain_roots=dict(type="raw"),
        checks=dict(type="list", elements="str",
                    choices=list(mesh_trust.CHECKS + mesh_trust_ambient.CHECKS + mesh_trust.MESH_CHECKS)),
        issuer=dict(type="dict", default=dict(name="istio-ca", kind="ClusterIssuer", group="cert-manager.io")),
        cert_manager_namespace=dict(type="str", default="cert-manager"),
        istio_namespace=dict(type="str", default="istio-system"),
        istio_csr_name=dict(type="str", default="cert-manager-istio-csr"),
        root_ca_secret_name=dict(type="str", default="istio-root-ca"),
        trust_bundle_name=dict(type="str"),
        trust_bundle_key=dict(type="str", default="ca.pem", no_log=False),
        label_selector=dict(type="str", default="app.kubernetes.io/managed-by=certmesh.istio"),
        events=dict(type="bool", default=False),
        renew=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=0),
        fail=dict(type="bool", default=True),
        report=dict(type="dict", options=dict(
            dest=dict(type="path", required=True),
            basename=dict(type="str", default="mesh-trust"),
        )),
    )
    return spec


def run_once(module, store, expected, renewed):
    params = module.params
    settings = dict((key, params[key]) for key in ("issuer", "cert_manager_namespace", "istio_namespace", "istio_csr_name",
                                                   "root_ca_secret_name", "label_selector", "events",
                                                   "trust_bundle_name", "trust_bundle_key"))
    results, summaries, events = [], [], {}
    for cluster in params["clusters"]:
        name = cluster["name"]
        trust_domain = cluster.get("trust_domain")
        try:
            client = kube.api_client(kube.cluster_auth(params, cluster))
            snap = mesh_trust.snapshot(client, settings)
            ambient = cluster.get("istio_mode") == mesh_trust_ambient.AMBIENT
            if ambient:
                snap["ambient"] = mesh_trust_ambient.snapshot(client, settings["istio_namespace"],
                                                              cluster.get("ambient_namespaces"))
        except kube.KubeError as exc:
            results.append(mesh_trust.result(name, "cluster_reachable", False, "", "cannot read cluster %s: %s" % (name, exc),
                                             "the API server is unreachable, the context is wrong, or access is forbidden"))
            continue
        cluster_settings = dict(settings, strict_mtls=cluster.get("strict_mtls", True))
        checked = mesh_trust.cluster_checks(name, snap, store, expected, trust_domain, cluster_settings)
        if ambient:
            checked.extend(mesh_trust_ambient.ambient_checks(name, snap["ambient"], cluster_settings))
        if params["renew"] and not module.check_mode:
            for item in mesh_trust.renewal_candidates(checked):
                key = "%s/%s" % (name, item["object"].split(" ", 1)[1])
                if key in renewed:
                    continue
                try:
                    mesh_trust.trigger_renewal(client, item, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                    renewed.append(key)
                except kube.KubeError as exc:
                    item["message"] += "; %s" % exc
        if params["events"]:
            mesh_trust.attach_events(checked, snap.get("events"))
        results.extend(checked)
        summaries.append(mesh_trust.cluster_summary(name, snap, trust_domain))
        if params["events"]:
            events[name] = snap.get("events") or []
    results.extend(mesh_trust.mesh_checks(summaries, expected))
    if params["checks"]:
        wanted = set(params["checks"]) | set(["cluster_reachable"])
        results = [item for item in results if item["check"] in wanted]
    return results, summaries, events


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    kube.reveal_kubeconfig_paths(module)
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    try:
        import kubernetes  # noqa: F401 pylint: disable=unused-import
    except ImportError:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    params = module.params
    try:
        store = chain.load_store(params["roots"])
        expected = [pki.fingerprint_sha256(cert) for cert in store.roots]
        if params["chain_roots"]:
            store = chain.load_store(params["chain_roots"], "chain_roots")
    except pki.MalformedInput as exc:
        module.fail_json(msg="roots: %s" % exc)
    deadline = time.time() + max(0, params["wait_timeout"])
    renewed = []
    while True:
        results, summaries, events = run_once(module, store, expected, renewed)
        if all(item["ok"] for item in results) or time.time() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    outcome = dict(changed=bool(renewed), renewed=renewed, results=results, failures=mesh_trust.failure_lines(results),
                   summary=mesh_trust.summarize(results), clusters=summaries, events=events, roots=expected)
    if params["report"]:
        try:
            outcome["report_files"] = mesh_trust.write_report(results, dict(clusters=summaries, roots=expected),
                                                              params["report"]["dest"], params["report"]["basename"])
        except (OSError, ValueError) as exc:
            module.fail_json(msg="cannot write the report to %s: %s" % (params["report"]["dest"], exc), **outcome)
    if params["fail"] and outcome["failures"]:
        lines = "\n".join(outcome["failures"])
        module.fail_json(msg="%d of %d mesh checks failed:\n%s" % (len(outcome["failures"]), len(results), lines), **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
