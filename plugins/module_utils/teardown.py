# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What playbooks/teardown.yml removes, in which order, and why a namespace does not go.

site.yml installs cert-manager, then istio-csr, then Istio (base, istiod, in ambient mode cni and
ztunnel, gateways); teardown uninstalls the releases it finds in the reverse order, recognising
them by chart (a release of another chart in the same namespace is not ours and stays). Pure functions over what
kubernetes.core's helm_info and k8s_info return.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

#: The charts site.yml installs, in install order.
INSTALL_ORDER = ("cert-manager", "cert-manager-istio-csr", "base", "istiod", "cni", "ztunnel", "gateway")
_CHART_VERSION = re.compile(r"-v?\d+(\.\d+)*([-+][0-9A-Za-z.-]*)?$")


def chart_name(chart):
    """``istiod-1.30.3`` -> ``istiod``; ``cert-manager-v1.21.1`` -> ``cert-manager``."""
    return _CHART_VERSION.sub("", chart or "")


def releases_to_remove(helm_infos):
    """helm_info results -> ``[{name, namespace, chart}]`` of our charts, last installed first."""
    found = {}
    for info in helm_infos or []:
        status = info.get("status") or {}
        chart = chart_name(status.get("chart"))
        if chart not in INSTALL_ORDER:
            continue
        key = (status.get("namespace"), status.get("name"))
        found[key] = {"name": status.get("name"), "namespace": status.get("namespace"), "chart": chart}
    return sorted(found.values(), key=lambda r: (-INSTALL_ORDER.index(r["chart"]), r["namespace"], r["name"]))


def release_names(release_secrets):
    """Helm release Secrets (label owner=helm) -> unique ``[{name, namespace}]``."""
    seen = {}
    for secret in release_secrets or []:
        meta = secret.get("metadata") or {}
        labels = meta.get("labels") or {}
        if secret.get("type") == "helm.sh/release.v1" and labels.get("name"):
            seen[(meta.get("namespace"), labels["name"])] = {"name": labels["name"], "namespace": meta.get("namespace")}
    return [seen[key] for key in sorted(seen)]


def namespace_holders(namespace):
    """Why a Terminating namespace is still there, in the namespace controller's words."""
    meta = namespace.get("metadata") or {}
    reasons = []
    for condition in (namespace.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("NamespaceFinalizersRemaining", "NamespaceContentRemaining",
                                     "NamespaceDeletionContentFailure", "NamespaceDeletionDiscoveryFailure") \
                and condition.get("status") == "True" and condition.get("message"):
            reasons.append(condition["message"])
    if meta.get("finalizers"):
        reasons.append("the namespace's own finalizers: %s" % ", ".join(meta["finalizers"]))
    return "; ".join(reasons) or "no finalizer reported (the namespace controller may be slow or down)"


_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _refs(results):
    """Looped k8s_info results -> ``[{api_version, kind, name, namespace}]`` (list items of
    built-in kinds carry no apiVersion/kind, so they come from the loop item)."""
    refs = []
    for result in results or []:
        item = result.get("item") or {}
        for resource in result.get("resources") or []:
            meta = resource.get("metadata") or {}
            ref = {"api_version": item.get("api_version") or resource.get("apiVersion") or "v1",
                   "kind": item.get("kind") or resource.get("kind"), "name": meta.get("name")}
            if meta.get("namespace"):
                ref["namespace"] = meta["namespace"]
            refs.append(ref)
    return refs


def _where(ref):
    return "%s/%s" % (ref["namespace"], ref["name"]) if ref.get("namespace") else ref["name"]


def plan(workload_results, issuer_results, helm_infos, crd_results, extra, cert_manager_namespace, remove_ca):
    """The ordered teardown of one cluster, with one line per step for people.

    ``extra`` holds the k8s_info results of the CA Secrets, the root ConfigMaps, the certmesh
    Namespaces and the cert-manager Namespace, in that order. The cert-manager namespace stays
    while the CA Secrets in it are kept (Helm created it, so only the lookup finds it once the
    releases are gone).
    """
    ca_results, configmap_results, namespace_results, ca_namespace_results = (list(extra or []) + [{}] * 4)[:4]
    releases = releases_to_remove(helm_infos)
    ca_secrets = _refs([ca_results])
    steps = {
        "objects": _refs(workload_results),
        "mesh_releases": [r for r in releases if r["chart"] != "cert-manager"],
        "issuers": _refs(issuer_results),
        "cert_manager_releases": [r for r in releases if r["chart"] == "cert-manager"],
        "ca_secrets": ca_secrets if remove_ca else [],
        "kept_ca_secrets": [] if remove_ca else ca_secrets,
        "crds": sorted({r["name"] for r in _refs(crd_results)}),
        "root_configmaps": _refs([configmap_results]),
    }
    namespaces = [r["name"] for r in _refs([namespace_results, ca_namespace_results])] + [r["namespace"] for r in releases]
    steps["namespaces"] = sorted({n for n in namespaces if n not in _PROTECTED_NAMESPACES
                                  and (remove_ca or n != cert_manager_namespace)})
    lines = ["remove %s %s" % (r["kind"], _where(r)) for r in steps["objects"]]
    lines += ["uninstall Helm release %s/%s (chart %s)" % (r["namespace"], r["name"], r["chart"]) for r in steps["mesh_releases"]]
    lines += ["remove %s %s" % (r["kind"], _where(r)) for r in steps["issuers"]]
    lines += ["uninstall Helm release %s/%s (chart %s)" % (r["namespace"], r["name"], r["chart"]) for r in steps["cert_manager_releases"]]
    lines += ["remove CA Secret %s" % _where(r) for r in steps["ca_secrets"]]
    lines += ["remove CustomResourceDefinition %s" % name for name in steps["crds"]]
    lines += ["remove ConfigMap %s" % _where(r) for r in steps["root_configmaps"]]
    lines += ["remove Namespace %s (and wait until it is gone)" % name for name in steps["namespaces"]]
    lines += ["keep CA Secret %s (teardown_remove_ca: true removes it)" % _where(r) for r in steps["kept_ca_secrets"]]
    steps["lines"] = lines
    return steps
