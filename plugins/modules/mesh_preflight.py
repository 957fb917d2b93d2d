#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_preflight
short_description: Refuse, before any change, a mesh set-up that is known to break
version_added: 0.1.0
description:
  - Reads one cluster (issuer, istiod, istio-csr, istiod's mesh config) and checks what upstream
    documents as breaking istio-csr and Istio, before anything is installed or changed.
  - Problem codes are stable. C(unreachable) (the API server cannot be read, including 401 and
    403), C(acme_issuer) (an ACME issuer cannot sign SPIFFE URI SANs), C(issuer_namespace) (an
    Issuer outside the namespace where istio-csr creates requests), C(issuer_not_found),
    C(trust_domain_mismatch) (istio-csr, Istio and the installed istiod disagree),
    C(ca_expires_too_soon) (the CA expires before the longest workload certificate could),
    C(istio_has_own_ca) (Istio runs its own CA and istio-csr is being added).
  - Reads only; never changes anything.
author:
  - certmesh developers (@certmesh)
extends_documentation_fragment:
  - certmesh.istio.cluster_connection
options:
  cluster:
    description: Name of the cluster, used in every message.
    type: str
    required: true
  issuer:
    description: The cert-manager issuer istio-csr will use.
    type: dict
    required: true
    suboptions:
      name:
        description: Issuer name.
        type: str
        required: true
      kind:
        description: C(ClusterIssuer) or C(Issuer).
        type: str
        default: ClusterIssuer
      group:
        description: API group of the issuer.
        type: str
        default: cert-manager.io
      namespace:
        description: Namespace of an C(Issuer); defaults to I(certificate_namespace).
        type: str
  issuer_managed:
    description: The issuer is created by this run (so it may not exist yet).
    type: bool
    default: true
  certificate_namespace:
    description: Namespace where istio-csr creates CertificateRequests.
    type: str
    default: istio-system
  istio_namespace:
    description: Namespace of istiod.
    type: str
    default: istio-system
  istio_csr_namespace:
    description: Namespace of istio-csr's Deployment.
    type: str
    default: cert-manager
  istio_csr_deployment:
    description: Name of istio-csr's Deployment.
    type: str
    default: cert-manager-istio-csr
  trust_domains:
    description: Trust domain as each component will be configured, by source name.
    type: dict
    default: {}
  ca_certificate:
    description: PEM text or path of the CA certificate that will sign workload certificates.
    type: str
  mesh_root_certificate:
    description:
      - PEM text or path of the mesh root this run holds. With O(root_secret), a cluster that
        already pins other roots, none of them this one, is refused (problem C(mesh_root_split),
        naming the cluster and both fingerprints), since the mesh would split into trust islands.
    type: str
  root_secret:
    description: The cluster's pinned root Secret (its C(ca.crt)) to compare with O(mesh_root_certificate).
    type: dict
    suboptions:
      name:
        description: Secret name.
        type: str
        required: true
      namespace:
        description: Secret namespace.
        type: str
        required: true
  istio_mode:
    description:
      - Istio data plane the run installs. With C(ambient), a Cilium CNI that removes other CNI
        configurations (C(cni-exclusive) in ConfigMap C(kube-system/cilium-config)) is refused
        (problem C(ambient_cni_exclusive)), since istio-cni could not redirect pods to ztunnel.
    type: str
    choices: [sidecar, ambient]
    default: sidecar
  max_workload_certificate_duration:
    description: Longest workload certificate (Go duration such as C(1h) or C(24h)).
    type: str
    default: 1h
  fail_on_problem:
    description: Fail the task, listing every problem, when any check fails.
    type: bool
    default: true
  observe:
    description:
      - Also return, in the same call, what the cluster already runs (RV(observed)), so that a
        re-run can skip the reads and waits whose answer is known. Nothing secret is returned.
      - Omitted, nothing more is read and RV(observed) is empty.
    type: dict
    suboptions:
      namespaces:
        description: Namespaces whose Deployments, cert-manager Issuers and Helm releases to describe.
        type: list
        elements: str
        default: []
      secrets:
        description: Secrets whose existence to report (never their data).
        type: list
        elements: dict
        default: []
        suboptions:
          namespace:
            description: Namespace of the Secret.
            type: str
            required: true
          name:
            description: Name of the Secret.
            type: str
            required: true
      certificate_selector:
        description: Label selector of the cert-manager Certificates (all namespaces) to return in RV(observed.certificates); empty for none.
        type: str
        default: ""
      objects:
        description:
          - Also describe, in RV(observed.objects), every object with I(label_selector) of the
            kinds the certmesh.istio roles apply, and the Namespaces of I(namespaces), with the
            fields I(field_manager) owns there, so the sink applies only what would change.
          - Omitted, no object is described.
        type: dict
        suboptions:
          field_manager:
            description: The server-side apply field manager whose owned fields to report.
            type: str
            required: true
          label_selector:
            description: Equality label selector of the objects to describe.
            type: str
            default: app.kubernetes.io/managed-by=certmesh.istio
attributes:
  check_mode:
    support: full
    description: Reads only, in every mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
"""

EXAMPLES = r"""
- name: Check the cluster before installing istio-csr
  certmesh.istio.mesh_preflight:
    cluster: prod-eu1
    kubeconfig: ~/.kube/prod-eu1.yaml
    issuer: {name: istio-ca, kind: ClusterIssuer}
    trust_domains:
      istio-csr: cluster.local
      istiod: cluster.local
    ca_certificate: out/prod/prod-eu1/pki/intermediate-ca.crt
    max_workload_certificate_duration: 24h
"""

RETURN = r"""
problems:
  description: Every problem found, C({code, message, object}).
  returned: always
  type: list
  elements: dict
state:
  description: What was found in the cluster.
  returned: always
  type: dict
  contains:
    istiod_installed:
      description: An istiod Deployment exists.
      type: bool
    istio_csr_installed:
      description: istio-csr's Deployment exists.
      type: bool
    issuer_exists:
      description: The issuer exists.
      type: bool
observed:
  description:
    - What the cluster runs, read before anything changes; empty without I(observe), or when
      it could not be read (a warning says why; the roles then read and wait as before).
  returned: always
  type: dict
  contains:
    namespaces:
      description: The namespaces observed.
      type: list
      elements: str
    ready:
      description:
        - C(<api group>/<kind>/<namespace>/<name>) of each Deployment and cert-manager Issuer of
          the namespaces and of every ClusterIssuer, C(true) when its C(Available) or C(Ready)
          condition is C(True) for its current generation; of each Secret asked for, C(true)
          when it exists.
      type: dict
      sample: {"apps/Deployment/cert-manager/cert-manager-webhook": true, "cert-manager.io/ClusterIssuer//mesh-ca": true}
    helm_releases:
      description:
        - C(<namespace>/<name>) of each Helm release of the namespaces, its newest revision as
          C(revision), C(status), C(chart), C(chart_version) and C(values_sha256) (a digest of
          the user-supplied values; the values are not returned).
      type: dict
    certificate_selector:
      description: The label selector of RV(observed.certificates), when I(observe.certificate_selector) is set.
      type: str
    certificates:
      description: The Certificates matching I(observe.certificate_selector), as M(kubernetes.core.k8s_info) lists them.
      type: list
      elements: dict
    objects:
      description:
        - With I(observe.objects), C(<apiVersion>/<kind>/<namespace>/<name>) of each object
          described, with C(object) (the object without its status and server bookkeeping; a
          Secret's C(data) only as its SHA-256 digest, never its values) and C(owned) (the field
          paths the field manager's apply owns there, C(null) when they cannot be read).
      type: dict
      sample: {"security.istio.io/v1/PeerAuthentication/istio-system/mesh-wide": {"owned": [["spec", "mtls", "mode"]]}}
"""

import base64

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import cluster_view, kube, pki, preflight

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:
    AUTH_ARG_SPEC = {}


def _snapshot(client, params):
    issuer = params["issuer"]
    namespace = None
    if issuer["kind"] == "Issuer":
        namespace = issuer.get("namespace") or params["certificate_namespace"]
    istio_ns = params["istio_namespace"]
    return {
        "issuer": kube.get_object(client, issuer["kind"], "%s/v1" % issuer["group"], namespace, issuer["name"]),
        "istiod": kube.get_object(client, "Deployment", "apps/v1", istio_ns, preflight.ISTIOD_DEPLOYMENT),
        "istio_csr": kube.get_object(client, "Deployment", "apps/v1", params["istio_csr_namespace"], params["istio_csr_deployment"]),
        "istio_configmap": kube.get_object(client, "ConfigMap", "v1", istio_ns, "istio"),
        "istiod_own_ca_secret": kube.get_object(client, "Secret", "v1", istio_ns, preflight.ISTIOD_OWN_CA_SECRET) is not None,
        "pinned_root_fingerprints": _pinned_root_fingerprints(client, params),
        "cilium_config": kube.get_object(client, "ConfigMap", "v1", preflight.CILIUM_CONFIG_NAMESPACE,
                                         preflight.CILIUM_CONFIG) if params["istio_mode"] == preflight.AMBIENT else None,
    }


def _pinned_root_fingerprints(client, params):
    """Fingerprints of the roots the cluster pins already (the mesh_ca root Secret's ca.crt)."""
    if not (params["mesh_root_certificate"] and params["root_secret"]):
        return []
    secret = kube.get_object(client, "Secret", "v1", params["root_secret"]["namespace"], params["root_secret"]["name"])
    data = ((secret or {}).get("data") or {}).get("ca.crt")
    if not data:
        return []
    try:
        loaded = pki.load_certificates(base64.b64decode(data).decode("ascii"), origin="pinned root Secret")
    except Exception:  # an unreadable pinned root is the chain checks' business, not a split
        return []
    return [pki.fingerprint_sha256(item.cert) for item in loaded]


def _observed(module, client):
    """cluster_view.observe, or an empty view (and a warning) when it cannot be read: the view
    only saves reads, the roles do their own when it is missing."""
    observe = module.params["observe"]
    try:
        return cluster_view.observe(client, observe["namespaces"], observe["secrets"], observe["certificate_selector"],
                                    observe["objects"])
    except kube.KubeError as exc:
        module.warn("cluster %s: what the cluster runs could not be read in one call (%s); the roles "
                    "read it object by object" % (module.params["cluster"], exc))
        return {}


def _where(params):
    return ", ".join("%s=%s" % (key, params[key]) for key in ("kubeconfig", "context", "host") if params.get(key)) or "default kubeconfig"


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        issuer=dict(type="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            kind=dict(type="str", default="ClusterIssuer"),
            group=dict(type="str", default="cert-manager.io"),
            namespace=dict(type="str"),
        )),
        issuer_managed=dict(type="bool", default=True),
        certificate_namespace=dict(type="str", default="istio-system"),
        istio_namespace=dict(type="str", default="istio-system"),
        istio_csr_namespace=dict(type="str", default="cert-manager"),
        istio_csr_deployment=dict(type="str", default="cert-manager-istio-csr"),
        trust_domains=dict(type="dict", default={}),
        ca_certificate=dict(type="str"),
        istio_mode=dict(type="str", choices=["sidecar", "ambient"], default="sidecar"),
        max_workload_certificate_duration=dict(type="str", default="1h"),
        fail_on_problem=dict(type="bool", default=True),
        mesh_root_certificate=dict(type="str"),
        root_secret=dict(type="dict", no_log=False, options=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
        )),
        observe=dict(type="dict", options=dict(
            namespaces=dict(type="list", elements="str", default=[]),
            secrets=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
                namespace=dict(type="str", required=True),
                name=dict(type="str", required=True),
            )),
            certificate_selector=dict(type="str", default=""),
            objects=dict(type="dict", options=dict(
                field_manager=dict(type="str", required=True),
                label_selector=dict(type="str", default="app.kubernetes.io/managed-by=certmesh.istio"),
            )),
        )),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    kube.reveal_kubeconfig_paths(module)
    if not AUTH_ARG_SPEC:
        module.fail_json(msg=missing_required_lib("the kubernetes.core collection"))
    params = module.params
    cluster = params["cluster"]

    try:
        max_seconds = pki.parse_duration(params["max_workload_certificate_duration"])
    except ValueError as exc:
        module.fail_json(msg="cluster %s: max_workload_certificate_duration: %s" % (cluster, exc))
    mesh_root_fingerprint = None
    if params["mesh_root_certificate"]:
        try:
            mesh_root_fingerprint = pki.fingerprint_sha256(
                pki.load_certificates(params["mesh_root_certificate"], origin="mesh_root_certificate")[0].cert)
        except Exception as exc:  # MalformedInput and friends: the message says what and where
            module.fail_json(msg="cluster %s: mesh_root_certificate: %s" % (cluster, exc))
    ca_not_after = None
    if params["ca_certificate"]:
        try:
            ca_cert = pki.load_certificates(params["ca_certificate"], origin="ca_certificate")[0].cert
        except Exception as exc:  # MalformedInput and friends: the message says what and where
            module.fail_json(msg="cluster %s: ca_certificate: %s" % (cluster, exc))
        ca_not_after = ca_cert.not_valid_after_utc

    auth = dict((key, params.get(key)) for key in AUTH_ARG_SPEC)
    try:
        client = kube.api_client(auth)
        snapshot = _snapshot(client, params)
    except kube.KubeError as exc:
        problems = [preflight.problem(
            "unreachable",
            "cannot read the Kubernetes API of cluster %s%s: %s. Check the kubeconfig, context "
            "and credentials (and that they may read Deployments, Secrets, ConfigMaps and issuers)"
            % (cluster, "" if str(exc).startswith("cannot connect with") else " (%s)" % _where(params), exc),
            "API server")]
        module.fail_json(msg=problems[0]["message"], problems=problems, state={})

    problems = preflight.run_all(
        settings=dict(
            issuer=params["issuer"],
            issuer_managed=params["issuer_managed"],
            certificate_namespace=params["certificate_namespace"],
            istio_namespace=params["istio_namespace"],
            trust_domains=params["trust_domains"],
            istio_mode=params["istio_mode"],
            cluster=cluster,
            mesh_root_fingerprint=mesh_root_fingerprint,
            pinned_root_secret="Secret %s/%s" % (params["root_secret"]["namespace"], params["root_secret"]["name"])
            if params["root_secret"] else "the pinned root Secret",
            max_workload_seconds=max_seconds,
            ca_name="the CA certificate %s" % ("(PEM)" if pki.looks_like_pem(params["ca_certificate"]) else params["ca_certificate"]),
        ),
        snapshot=snapshot,
        now=pki.parse_time(None),
        ca_not_after=ca_not_after,
    )
    state = dict(
        istiod_installed=snapshot["istiod"] is not None,
        istio_csr_installed=snapshot["istio_csr"] is not None,
        issuer_exists=snapshot["issuer"] is not None,
    )
    observed = _observed(module, client) if params["observe"] else {}
    if problems and params["fail_on_problem"]:
        module.fail_json(
            msg="cluster %s: preflight found %d problem(s), nothing was changed:\n%s" % (
                cluster, len(problems), "\n".join("- [%s] %s" % (p["code"], p["message"]) for p in problems)),
            problems=problems, state=state)
    module.exit_json(changed=False, problems=problems, state=state, observed=observed)


if __name__ == "__main__":
    main()
