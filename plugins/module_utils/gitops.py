# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects a GitOps engine reads, built as data: kustomize, Flux or Argo CD.

Render mode writes each component's plain objects once, whatever the engine. What differs is
how Helm releases are described and how the cluster's components are chained in install order
(cert-manager before the CA issuer, istio-csr before istiod, istiod before gateways and policy):

- kustomize: ``helmCharts`` entries (what ``kustomize build --enable-helm`` reads) and one
  top-level ``kustomization.yaml`` per cluster; kustomize has no ordering of its own.
- flux: a ``HelmRepository`` + ``HelmRelease`` per chart and one ``Kustomization`` per component,
  chained with ``dependsOn`` and health-checked (``wait``, HelmRelease readiness).
- argocd: one ``Application`` per Helm release and per plain component, ordered by sync waves,
  grouped by an app-of-apps ``Application``.

Pure functions, no I/O: render.py decides where each document goes and writes it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ENGINES = ("kustomize", "flux", "argocd")
NAMESPACES_COMPONENT = "namespaces"
# Install order of the components: one waits for the one before (cert-manager's CRDs and webhook
# before the CA issuer, the issuer before istio-csr, istio-csr before istiod, istiod before the
# gateways and the policy). A component not listed here comes last, by name.
INSTALL_ORDER = (NAMESPACES_COMPONENT, "cert_manager", "mesh_ca", "vault_pki", "istio_csr", "istio",
                 "gateway_certs", "mesh_policy", "mesh_monitoring")
# Namespaces of the engine's own control plane: created by its bootstrap, never by this tree
# (a Kustomization pruning flux-system would delete Flux itself).
ENGINE_NAMESPACES = {"kustomize": (), "flux": ("flux-system",), "argocd": ("argocd",)}
# Namespaces every cluster has: rendering them would let a pruning engine try to delete them.
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FLUX_INTERVAL = "10m"
FLUX_HELM_TIMEOUT = "10m"


def engine_problem(engine):
    """Return why engine is not one render mode supports, else None."""
    if engine not in ENGINES:
        return "certmesh_gitops_engine must be one of %s (got %r)" % (", ".join(ENGINES), engine)
    return None


def ordered_components(components):
    """Components in install order: the known ones by INSTALL_ORDER, then the others by name."""
    rank = {name: index for index, name in enumerate(INSTALL_ORDER)}
    return sorted(components, key=lambda name: (rank.get(name, len(INSTALL_ORDER)), name))


def sync_wave(component, index_in_component=0):
    """Argo CD sync wave of a component's n-th Application: ten waves per component."""
    rank = {name: index for index, name in enumerate(INSTALL_ORDER)}
    return str(rank.get(component, len(INSTALL_ORDER)) * 10 + index_in_component)


def _name(*parts):
    """A DNS-1123 object name from parts ('_' is not allowed in names)."""
    return "-".join(str(p).replace("_", "-").strip("-") for p in parts if p)[:63].rstrip("-")


def namespace_object(name):
    """A plain core/v1 Namespace."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


# ---------------------------------------------------------------- kustomize

def kustomize_helm_chart(release, values_file):
    """One ``helmCharts`` entry of a kustomization (kustomize's HelmChartInflationGenerator)."""
    entry = {
        "name": release["chart"],
        "releaseName": release["name"],
        "namespace": release["namespace"],
        "includeCRDs": True,
        "valuesFile": values_file,
    }
    if release.get("repo"):
        entry["repo"] = release["repo"]
    if release.get("version"):
        entry["version"] = release["version"]
    return entry


def kustomization(resources=None, helm_charts=None):
    """A kustomize Kustomization (kustomize.config.k8s.io/v1beta1)."""
    document = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        document["resources"] = list(resources)
    if helm_charts:
        document["helmCharts"] = list(helm_charts)
    return document


# ---------------------------------------------------------------- flux

def flux_helm_repository(release):
    """The HelmRepository a HelmRelease installs from, in the release's namespace."""
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": _name(release["name"]), "namespace": release["namespace"]},
        "spec": {"interval": FLUX_INTERVAL, "url": release["repo"]},
    }


def flux_helm_release(release, depends_on=None):
    """A HelmRelease with the values inline; depends_on: earlier releases of the same component."""
    spec = {
        "interval": FLUX_INTERVAL,
        "timeout": FLUX_HELM_TIMEOUT,
        "releaseName": release["name"],
        "targetNamespace": release["namespace"],
        "chart": {"spec": {
            "chart": release["chart"],
            "sourceRef": {"kind": "HelmRepository", "name": _name(release["name"]), "namespace": release["namespace"]},
        }},
        # CRDs come with the chart (cert-manager's crds.enabled, Istio's base chart) and follow upgrades.
        "install": {"crds": "CreateReplace", "remediation": {"retries": 3}},
        "upgrade": {"crds": "CreateReplace", "remediation": {"retries": 3}},
        "values": release.get("values") or {},
    }
    if release.get("version"):
        spec["chart"]["spec"]["version"] = release["version"]
    if depends_on:
        spec["dependsOn"] = [{"name": _name(r["name"]), "namespace": r["namespace"]} for r in depends_on]
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": _name(release["name"]), "namespace": release["namespace"]},
        "spec": spec,
    }


def flux_helm_objects(helm_releases):
    """HelmRepository + HelmRelease for each release, each release after the one before it."""
    objects = []
    for index, release in enumerate(helm_releases):
        objects.append(flux_helm_repository(release))
        objects.append(flux_helm_release(release, helm_releases[index - 1:index]))
    return objects


def flux_kustomization(component, git, depends_on=None, helm_releases=()):
    """The Flux Kustomization that applies one component folder, after the one before it."""
    spec = {
        "interval": FLUX_INTERVAL,
        "path": "./%s/%s" % (git["path"].strip("/"), component) if git["path"].strip("/") else "./%s" % component,
        "prune": True,
        "wait": True,
        "timeout": FLUX_HELM_TIMEOUT,
        "sourceRef": {"kind": "GitRepository", "name": git["flux_source"], "namespace": "flux-system"},
    }
    if depends_on:
        spec["dependsOn"] = [{"name": _name("certmesh", depends_on)}]
    if helm_releases:
        spec["healthChecks"] = [
            {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "name": r["name"], "namespace": r["namespace"]}
            for r in helm_releases
        ]
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": _name("certmesh", component), "namespace": "flux-system"},
        "spec": spec,
    }


# ---------------------------------------------------------------- argocd

def _argocd_application(name, wave, source, namespace, git, sync_options=()):
    destination = {"server": git["argocd_server"]}
    if namespace:
        destination["namespace"] = namespace
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {"argocd.argoproj.io/sync-wave": wave},
        },
        "spec": {
            "project": git["argocd_project"],
            "source": source,
            "destination": destination,
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                # Server-side apply, as apply mode does: one object, several field managers, no conflict.
                "syncOptions": ["ServerSideApply=true"] + list(sync_options),
            },
        },
    }


def argocd_helm_applications(component, helm_releases, git, cluster):
    """One Argo CD Application (Helm source, values inline) per release, in waves of the component."""
    apps = []
    for index, release in enumerate(helm_releases):
        source = {
            "repoURL": release.get("repo") or "",
            "chart": release["chart"],
            "targetRevision": release.get("version") or "*",
            "helm": {"releaseName": release["name"], "valuesObject": release.get("values") or {}},
        }
        apps.append(_argocd_application(_name(cluster, release["name"]), sync_wave(component, index + 1), source,
                                        release["namespace"], git))
    return apps


def argocd_directory_application(component, git, cluster):
    """The Application that syncs one component's plain manifests (directory source)."""
    source = {
        "repoURL": git["repo_url"],
        "targetRevision": git["revision"],
        "path": "/".join(p for p in (git["path"].strip("/"), component) if p),
        # A directory source, not kustomize: the folder's kustomization.yaml is for kustomize users.
        "directory": {"exclude": "kustomization.yaml"},
    }
    # Plain objects of a component go in the wave before its Helm releases, so namespaces exist.
    return _argocd_application(_name(cluster, component), sync_wave(component), source, None, git)


def argocd_app_of_apps(git, cluster, apps_path):
    """The one Application to apply by hand: it syncs every other Application of the cluster."""
    source = {
        "repoURL": git["repo_url"],
        "targetRevision": git["revision"],
        "path": "/".join(p for p in (git["path"].strip("/"), apps_path) if p),
        "directory": {"recurse": True},
    }
    app = _argocd_application(_name(cluster, "certmesh"), "0", source, "argocd", git)
    del app["metadata"]["annotations"]
    return app


# ---------------------------------------------------------------- namespaces

def namespaces_of(document):
    """Namespaces an object lives in or installs into (Helm targets and Application destinations)."""
    if not isinstance(document, dict):
        return set()
    found = set()
    meta = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    if isinstance(meta.get("namespace"), str):
        found.add(meta["namespace"])
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    if document.get("kind") == "HelmRelease" and isinstance(spec.get("targetNamespace"), str):
        found.add(spec["targetNamespace"])
    if document.get("kind") == "Application":
        destination = spec.get("destination") if isinstance(spec.get("destination"), dict) else {}
        if isinstance(destination.get("namespace"), str):
            found.add(destination["namespace"])
    for chart in document.get("helmCharts") or []:
        if isinstance(chart, dict) and isinstance(chart.get("namespace"), str):
            found.add(chart["namespace"])
    return found


def missing_namespaces(documents, engine):
    """Namespace objects for every namespace the documents use that none of them creates."""
    used, created = set(), set()
    for document in documents:
        used |= namespaces_of(document)
        if isinstance(document, dict) and document.get("kind") == "Namespace" and document.get("apiVersion") == "v1":
            created.add((document.get("metadata") or {}).get("name"))
    wanted = used - created - set(ENGINE_NAMESPACES[engine]) - set(BUILTIN_NAMESPACES)
    return [namespace_object(name) for name in sorted(wanted)]
