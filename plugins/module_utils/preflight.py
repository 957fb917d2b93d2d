# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that refuse, before anything changes, what is known to break istio-csr and Istio.

Each check is a pure function of a cluster snapshot (plain dicts read beforehand) and the
desired settings, returning problems ``{code, message, object}``. Codes are stable:
``acme_issuer``, ``issuer_namespace``, ``issuer_not_found``, ``trust_domain_mismatch``,
``ca_expires_too_soon``, ``istio_has_own_ca``, ``mesh_root_split``, ``ambient_cni_exclusive``.

:func:`certificate_lifetime_problems` needs no cluster: it applies cert-manager's webhook rules
for Certificate lifetimes to the desired values, so render and apply refuse them alike; nor do
:func:`ambient_problems` and :func:`ambient_mesh_problems`, which the input gate calls to refuse
ambient-mode inventories that cannot work (istio-cni off, clusters without one shared root).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.certmesh.istio.plugins.module_utils import input_rules

ISTIOD_DEPLOYMENT = "istiod"
ISTIOD_OWN_CA_SECRET = "istio-ca-secret"


def problem(code, message, obj):
    return {"code": code, "message": message, "object": obj}


def _ref(issuer):
    where = "%s/" % issuer["namespace"] if issuer.get("namespace") else ""
    return "%s %s%s" % (issuer.get("kind", "ClusterIssuer"), where, issuer["name"])


def check_issuer(issuer_ref, issuer_object, certificate_namespace, managed):
    """The workload issuer must be able to sign SPIFFE certificates where istio-csr asks."""
    found = []
    ref = _ref(issuer_ref)
    if issuer_ref.get("kind") == "Issuer":
        namespace = issuer_ref.get("namespace") or certificate_namespace
        if namespace != certificate_namespace:
            found.append(problem(
                "issuer_namespace",
                "%s is namespaced in %s, but istio-csr creates its CertificateRequests in %s and "
                "can only use an Issuer there: move the Issuer, use a ClusterIssuer, or set "
                "istio_csr_certificate_namespace=%s" % (ref, namespace, certificate_namespace, namespace),
                ref))
    if issuer_object is None:
        if not managed:
            found.append(problem(
                "issuer_not_found",
                "%s does not exist: create it first (or let certmesh.istio.mesh_ca create the CA "
                "issuer)" % ref, ref))
        return found
    if "acme" in (issuer_object.get("spec") or {}):
        found.append(problem(
            "acme_issuer",
            "%s is an ACME issuer: ACME CAs do not sign certificates with SPIFFE URI SANs, so "
            "every workload certificate request would fail. Use a CA, Vault or Venafi issuer for "
            "the mesh and keep ACME for gateway certificates (gateway_certs_issuer)" % ref, ref))
    return found


def check_trust_domains(trust_domains):
    """istio-csr, istiod and the policies must agree on one trust domain."""
    values = dict((source, value) for source, value in trust_domains.items() if value)
    if len(set(values.values())) <= 1:
        return []
    listing = ", ".join("%s=%s" % item for item in sorted(values.items()))
    return [problem(
        "trust_domain_mismatch",
        "trust domains differ (%s): istio-csr would sign SPIFFE IDs that Istio rejects. Set one "
        "value in certmesh_trust_domain and remove the overrides" % listing,
        "trust domain")]


def mesh_config_trust_domain(istio_configmap):
    """trustDomain from istiod's ``istio`` ConfigMap (its ``mesh`` key is YAML or JSON)."""
    if not istio_configmap:
        return None
    mesh = (istio_configmap.get("data") or {}).get("mesh") or ""
    for line in mesh.splitlines():
        stripped = line.strip()
        if stripped.startswith("trustDomain:"):
            return stripped.split(":", 1)[1].strip().strip("'\"") or None
    try:
        return (json.loads(mesh) or {}).get("trustDomain")
    except ValueError:
        return None


def check_ca_lifetime(ca_not_after, now, max_workload_seconds, ca_name):
    """A CA expiring before a certificate it may still sign makes that certificate invalid early."""
    if ca_not_after is None:
        return []
    remaining = (ca_not_after - now).total_seconds()
    if remaining >= max_workload_seconds:
        return []
    return [problem(
        "ca_expires_too_soon",
        "%s expires at %s, sooner than the longest workload certificate it may sign (%ds from "
        "now): rotate the CA first (playbooks/rotate.yml) or lower "
        "certmesh_max_workload_certificate_duration" % (ca_name, ca_not_after.isoformat(), max_workload_seconds),
        ca_name)]


def _env_value(deployment, name):
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for container in containers:
        for env in container.get("env") or []:
            if env.get("name") == name:
                return env.get("value")
    return None


def check_istio_ca(istiod, istio_csr, istiod_own_ca_secret, istio_namespace):
    """Adding istio-csr under an Istio that runs its own CA splits the mesh's trust."""
    if istiod is None or istio_csr is not None:
        return []
    if str(_env_value(istiod, "ENABLE_CA_SERVER")).lower() == "false" and not istiod_own_ca_secret:
        return []
    obj = "Deployment %s/%s" % (istio_namespace, ISTIOD_DEPLOYMENT)
    return [problem(
        "istio_has_own_ca",
        "Istio is already installed with its own CA (%s%s) and istio-csr is not: switching "
        "would give workloads certificates from a root their peers do not trust. Migrate first: "
        "plug the mesh root into istiod as the cacerts Secret (or publish a trust bundle with both "
        "roots), restart workloads, then run this playbook; see docs/runbooks/migrate-to-istio-csr.md"
        % (obj, ", Secret %s/%s" % (istio_namespace, ISTIOD_OWN_CA_SECRET) if istiod_own_ca_secret else ""),
        obj)]


def check_mesh_root(cluster, pinned_root_fingerprints, mesh_root_fingerprint, pinned_secret="the pinned root Secret"):
    """Split detection: a cluster that already pins mesh roots, none of them the root this run
    holds, would be moved to another trust island (its workloads stop trusting the others').
    That is what two control nodes with their own local PKI files do (AWX slices without a
    shared store). A cluster that pins nothing yet is a new cluster: nothing to compare."""
    pinned = [fingerprint for fingerprint in pinned_root_fingerprints or [] if fingerprint]
    if not pinned or not mesh_root_fingerprint or mesh_root_fingerprint in pinned:
        return []
    return [problem(
        "mesh_root_split",
        "cluster %s already trusts mesh root %s (%s), not %s, the mesh root this run holds: going on would "
        "split the mesh into trust islands. Another control node made its own root: run every slice with one "
        "shared store (certmesh_pki_store: kubernetes) or this run's certmesh_output_dir; to change the root on "
        "purpose, rotate it with playbooks/rotate.yml" % (cluster, ", ".join(pinned), pinned_secret, mesh_root_fingerprint),
        pinned_secret)]


def run_all(settings, snapshot, now, ca_not_after=None):
    """Every check over one cluster's snapshot; returns the list of problems."""
    found = []
    found += check_issuer(settings["issuer"], snapshot.get("issuer"), settings["certificate_namespace"],
                          settings.get("issuer_managed", True))
    trust_domains = dict(settings.get("trust_domains") or {})
    trust_domains["istiod mesh config (installed)"] = mesh_config_trust_domain(snapshot.get("istio_configmap"))
    found += check_trust_domains(trust_domains)
    found += check_ca_lifetime(ca_not_after, now, settings["max_workload_seconds"], settings.get("ca_name", "the mesh CA"))
    found += check_istio_ca(snapshot.get("istiod"), snapshot.get("istio_csr"), snapshot.get("istiod_own_ca_secret"),
                            settings["istio_namespace"])
    found += check_ambient_cni(settings.get("cluster", "?"), settings.get("istio_mode"), snapshot.get("cilium_config"))
    if settings.get("mesh_root_fingerprint"):
        found += check_mesh_root(settings.get("cluster", "?"), snapshot.get("pinned_root_fingerprints"),
                                 settings["mesh_root_fingerprint"], settings.get("pinned_root_secret", "the pinned root Secret"))
    return found


# cert-manager reads durations with Go's time.ParseDuration (no "d" or "w") and its webhook
# refuses a Certificate living less than an hour or renewed less than 5 minutes before its end.
MINIMUM_CERTIFICATE_DURATION = 3600
MINIMUM_RENEW_BEFORE = 300


def go_duration_seconds(value):
    """Seconds of a Go duration (``2160h``, ``1h30m``, ``90s``); ValueError for anything Go refuses.

    The grammar lives in :func:`input_rules.go_duration_seconds`; this name stays for callers."""
    return input_rules.go_duration_seconds(value)


def certificate_lifetime_problems(certificates, duration=None, renew_before=None, variable="certificates"):
    """Messages for every Certificate whose lifetime cert-manager would refuse.

    ``certificates``: dicts with ``name`` and optionally ``duration`` and ``renew_before``;
    ``duration`` and ``renew_before`` are the defaults for those that set none. Each message
    names the list item (``variable[index]``) and the Certificate.
    """
    problems = []
    for index, item in enumerate(certificates or []):
        where = "%s[%d] (Certificate %s)" % (variable, index, item.get("name", "?"))
        wanted = {"duration": item.get("duration", duration), "renew_before": item.get("renew_before", renew_before)}
        seconds = {}
        for key, value in wanted.items():
            if value in (None, ""):
                continue
            try:
                seconds[key] = go_duration_seconds(value)
            except ValueError as exc:
                problems.append("%s: %s %s" % (where, key, exc))
        if "duration" in seconds and seconds["duration"] < MINIMUM_CERTIFICATE_DURATION:
            problems.append("%s: duration %s is shorter than the 1h cert-manager accepts"
                            % (where, wanted["duration"]))
        if "renew_before" in seconds and seconds["renew_before"] < MINIMUM_RENEW_BEFORE:
            problems.append("%s: renew_before %s is shorter than the 5m cert-manager accepts"
                            % (where, wanted["renew_before"]))
        if "renew_before" in seconds and "duration" in seconds and seconds["renew_before"] >= seconds["duration"]:
            problems.append("%s: renew_before %s must be shorter than duration %s"
                            % (where, wanted["renew_before"], wanted["duration"]))
    return problems


# --------------------------------------------------------------------------------------------
# Ambient mode: inputs that cannot work, judged from the inventory before anything is written

AMBIENT = "ambient"
# What every cluster of an ambient multi-cluster mesh must share: ztunnels of different clusters
# accept each other's HBONE connections only when their certificates chain to one root under one
# trust domain (Istio, "Install ambient multicluster": "a shared root of trust is required").
AMBIENT_SHARED_ACROSS_CLUSTERS = ("certmesh_mesh_root_dir", "mesh_ca_byo_root_certificate",
                                  "certmesh_trust_domain", "certmesh_mesh_id")


def _is_false(value):
    try:
        return not input_rules.typed_boolean(value)
    except input_rules.InputRuleError:
        return False  # the input gate names a value that is no boolean on its own


def ambient_problems(host, values):
    """Sentences for one inventory host whose ambient settings cannot work (CNI conflicts)."""
    if values.get("certmesh_istio_mode") != AMBIENT:
        return []
    found = []
    if _is_false(values.get("istio_cni_enabled", True)):
        found.append("istio_cni_enabled (inventory host %s) is false while certmesh_istio_mode is ambient: ztunnel "
                     "only receives the traffic istio-cni redirects to it; set istio_cni_enabled: true, or "
                     "certmesh_istio_mode: sidecar" % host)
    cni_values = values.get("istio_cni_helm_values")
    ambient = cni_values.get("ambient") if isinstance(cni_values, dict) else None
    if isinstance(ambient, dict) and "enabled" in ambient and _is_false(ambient["enabled"]):
        found.append("istio_cni_helm_values (inventory host %s) sets ambient.enabled false while certmesh_istio_mode "
                     "is ambient: istio-cni would not redirect ambient pods to ztunnel; remove ambient.enabled from "
                     "istio_cni_helm_values" % host)
    return found


def ambient_mesh_problems(values_by_host):
    """Sentences for an inventory with several clusters, one of them ambient, that does not share
    one root (and trust domain and mesh ID), which ambient multi-cluster requires."""
    ambient_hosts = sorted(host for host, values in values_by_host.items()
                           if values.get("certmesh_istio_mode") == AMBIENT)
    if not ambient_hosts or len(values_by_host) < 2:
        return []
    found = []
    for name in AMBIENT_SHARED_ACROSS_CLUSTERS:
        by_value = {}
        for host in sorted(values_by_host):
            value = values_by_host[host].get(name)
            by_value.setdefault(json.dumps(value, sort_keys=True, default=str), []).append(host)
        if len(by_value) > 1:
            found.append("%s differs between inventory hosts (%s) while certmesh_istio_mode is ambient on %s: ambient "
                         "multi-cluster needs one shared root of trust; set %s once for the whole mesh (group_vars)"
                         % (name, "; ".join("%s: %s" % (", ".join(hosts), value) for value, hosts in sorted(by_value.items())),
                            ", ".join(ambient_hosts), name))
    return found


# A CNI that removes istio-cni: Cilium, by default, deletes every CNI configuration but its own
# (Helm value cni.exclusive, ConfigMap key cni-exclusive), istio-cni's chained plugin included;
# Istio's platform prerequisites for ambient require cni.exclusive=false.
CILIUM_CONFIG_NAMESPACE = "kube-system"
CILIUM_CONFIG = "cilium-config"


def check_ambient_cni(cluster, istio_mode, cilium_config):
    """An ambient cluster whose CNI would remove istio-cni's configuration (``ambient_cni_exclusive``)."""
    if istio_mode != AMBIENT or not isinstance(cilium_config, dict):
        return []
    exclusive = (cilium_config.get("data") or {}).get("cni-exclusive")
    if str(exclusive).strip().lower() != "true":
        return []
    obj = "ConfigMap %s/%s" % (CILIUM_CONFIG_NAMESPACE, CILIUM_CONFIG)
    return [problem(
        "ambient_cni_exclusive",
        "cluster %s: %s sets cni-exclusive: \"true\" while certmesh_istio_mode is ambient: Cilium then deletes "
        "istio-cni's CNI configuration and pods of ambient namespaces are never redirected to ztunnel; install "
        "Cilium with cni.exclusive=false (Istio's platform prerequisites for ambient), or set "
        "certmesh_istio_mode: sidecar" % (cluster, obj), obj)]


# Gateway API --------------------------------------------------------------------------------
# Istio 1.30 needs Gateway API v1.5: with older CRDs, TLSRoute v1 and ReferenceGrant v1 are not
# served and Istio silently ignores what uses them. The release of installed CRDs is in their
# ``gateway.networking.k8s.io/bundle-version`` annotation (``v1.5.1``).
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_BUNDLE_VERSION = GATEWAY_API_GROUP + "/bundle-version"
GATEWAY_API_MINIMUM_VERSION = (1, 5)
GATEWAY_API_REQUIRED_CRDS = ("gatewayclasses", "gateways", "httproutes", "referencegrants")
GATEWAY_API_UPGRADE = (
    "install the standard channel of Gateway API v1.5 or later (kubectl apply --server-side -f "
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml), "
    "or set gateway_certs_gateway_api_crds_install=true with gateway_certs_gateway_api_crds_dir "
    "pointing at the release's standard-channel CRD files")


def gateway_api_version(text):
    """``(major, minor, patch)`` of a bundle version (``v1.5.1``, ``v1.5.0-rc.1``), or None."""
    if not isinstance(text, str) or not text.startswith("v"):
        return None
    numbers = text[1:].split("-", 1)[0].split(".")
    if len(numbers) != 3 or not all(n.isdigit() for n in numbers):
        return None
    return tuple(int(n) for n in numbers)


def check_gateway_api_crds(crds, source="the cluster"):
    """Problems with the Gateway API CRDs found in ``source`` (the cluster, or supplied files).

    ``crds``: CustomResourceDefinition dicts (others are ignored). Codes:
    ``gateway_api_crds_missing``, ``gateway_api_crds_too_old``.
    """
    found = []
    by_name = {}
    for crd in crds or []:
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        by_name[(crd.get("metadata") or {}).get("name")] = crd
    missing = ["%s.%s" % (plural, GATEWAY_API_GROUP) for plural in GATEWAY_API_REQUIRED_CRDS
               if "%s.%s" % (plural, GATEWAY_API_GROUP) not in by_name]
    if missing:
        found.append(problem(
            "gateway_api_crds_missing",
            "gateway_certs_api is gateway-api, but %s has no %s: %s"
            % (source, ", ".join(missing), GATEWAY_API_UPGRADE),
            "CustomResourceDefinition %s" % missing[0]))
    minimum = ".".join(str(n) for n in GATEWAY_API_MINIMUM_VERSION)
    for name in sorted(n for n in by_name if n and n.endswith("." + GATEWAY_API_GROUP)):
        annotations = (by_name[name].get("metadata") or {}).get("annotations") or {}
        version_text = annotations.get(GATEWAY_API_BUNDLE_VERSION)
        version = gateway_api_version(version_text)
        if version is not None and version[:2] >= GATEWAY_API_MINIMUM_VERSION:
            continue
        found_text = "version %s" % version_text if version_text else "no %s annotation" % GATEWAY_API_BUNDLE_VERSION
        found.append(problem(
            "gateway_api_crds_too_old",
            "CustomResourceDefinition %s in %s is Gateway API %s; Istio 1.30 needs v%s or later "
            "(older CRDs hide TLSRoute and ReferenceGrant): %s" % (name, source, found_text, minimum, GATEWAY_API_UPGRADE),
            "CustomResourceDefinition %s" % name))
    return found
