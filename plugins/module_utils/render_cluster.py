# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster-wide part of a render: namespaces, the engine's entry point, .gitignore, INDEX.md.

Components are rendered one role at a time; what spans them (the namespaces none of them
creates, the install order as the engine expresses it, the summary) is rebuilt from the
cluster folder after each component, so a run with ``--tags`` keeps the cluster whole. The
folder is split in two: everything is meant for Git except ``pki/`` and ``secrets/`` (key
material), which the written ``.gitignore`` keeps out and INDEX.md names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.certmesh.istio.plugins.module_utils import gitops
from ansible_collections.certmesh.istio.plugins.module_utils import render

try:
    import yaml
except ImportError:  # the module reports missing_required_lib("PyYAML")
    yaml = None

# pki-*/: the rotation role's next CA (pki-next/) holds a key too.
CLUSTER_GITIGNORE = "# Key material: never commit (see INDEX.md and docs/render-mode.md).\n/%s/\n/%s-*/\n/%s/\n" % (
    render.PKI_DIR, render.PKI_DIR, render.SECRETS_DIR)
TOP_GITIGNORE = ("# Key material: never commit (see INDEX.md and docs/render-mode.md).\n/mesh-root/\n/*/%s/\n/*/%s-*/\n/*/%s/\n"
                 % (render.PKI_DIR, render.PKI_DIR, render.SECRETS_DIR))


def _not_for_git(name):
    return name in render.NOT_FOR_GIT or name.startswith(render.PKI_DIR + "-")


def _load(path):
    """The document of a rendered file, or None (a parser never raises)."""
    if os.path.islink(path):
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return document if isinstance(document, dict) else None


def _is_dir(render_dir, folder):
    path = os.path.join(render_dir, folder)
    return os.path.isdir(path) and not os.path.islink(path)


def components(render_dir):
    """Components of the cluster, in install order: its folders, and (Argo CD) those of only Helm Applications."""
    names = [n for n in os.listdir(render_dir) if not n.startswith(".") and n not in render.LAYER_DIRS
             and not _not_for_git(n) and render.component_problem(n) is None and _is_dir(render_dir, n)]
    apps = os.path.join(render.ARGOCD_DIR, render.ARGOCD_APPS)
    if _is_dir(render_dir, apps):
        names += [n for n in os.listdir(os.path.join(render_dir, apps)) if n not in names
                  and render.component_problem(n) is None and _is_dir(render_dir, os.path.join(apps, n))]
    return gitops.ordered_components(names)


def _documents(render_dir, folders):
    for folder in folders:
        for name in render._yaml_files(render_dir, folder):
            document = _load(os.path.join(render_dir, name))
            if document is not None:
                yield name, document


def _has(render_dir, relative):
    return os.path.isfile(os.path.join(render_dir, relative))


def plan_cluster(render_dir, engine, git, cluster):
    """Return the cluster-wide files: ({relative path: (text, mode, False)}, owned folders, files to remove).

    Files to remove: the kustomize entry point when another engine is chosen (its folders are
    owned folders, so their files are pruned anyway).
    """
    git = dict(render.DEFAULT_GIT, **(git or {}))
    names = components(render_dir)
    folders = [f for name in names for f in render.component_folders(name)]
    documents = [doc for _path, doc in _documents(render_dir, folders)]
    planned = {}

    def add(relative, document):
        planned[relative] = (render.to_yaml(document), render.PUBLIC_MODE, False)

    namespaces = gitops.missing_namespaces(documents, engine)
    ns = gitops.NAMESPACES_COMPONENT
    for obj in namespaces:
        add("%s/%s" % (ns, render.object_filename(obj)), obj)
    if namespaces:
        add("%s/%s" % (ns, render.KUSTOMIZATION),
            gitops.kustomization(resources=[render.object_filename(o) for o in namespaces]))
        names = [ns] + names
    applied = [n for n in names if n == ns and namespaces or _has(render_dir, "%s/%s" % (n, render.KUSTOMIZATION))]
    if engine == "kustomize":
        resources = []
        for name in names:
            if name in applied:
                resources.append(name)
            if _has(render_dir, "%s/%s/%s" % (name, render.HELM_DIR, render.KUSTOMIZATION)):
                resources.append("%s/%s" % (name, render.HELM_DIR))
        add(render.KUSTOMIZATION, gitops.kustomization(resources=resources))
    elif engine == "flux":
        files = []
        for index, name in enumerate(applied):
            releases = [{"name": d["metadata"]["name"], "namespace": d["metadata"]["namespace"]}
                        for _path, d in _documents(render_dir, ["%s/%s" % (name, render.HELM_DIR)])
                        if d.get("kind") == "HelmRelease" and isinstance(d.get("metadata"), dict)]
            obj = gitops.flux_kustomization(name, git, applied[index - 1] if index else None, releases)
            files.append(render.object_filename(obj))
            add("%s/%s" % (render.FLUX_DIR, files[-1]), obj)
        add("%s/%s" % (render.FLUX_DIR, render.KUSTOMIZATION), gitops.kustomization(resources=files))
    elif engine == "argocd":
        apps = "%s/%s" % (render.ARGOCD_DIR, render.ARGOCD_APPS)
        for name in applied:
            obj = gitops.argocd_directory_application(name, git, cluster)
            add("%s/%s" % (apps, render.object_filename(obj)), obj)
        add("%s/%s" % (render.ARGOCD_DIR, render.ARGOCD_ROOT), gitops.argocd_app_of_apps(git, cluster, apps))
    planned[render.GITIGNORE] = (CLUSTER_GITIGNORE, render.PUBLIC_MODE, False)
    remove = [render.KUSTOMIZATION] if engine != "kustomize" and _has(render_dir, render.KUSTOMIZATION) else []
    owned = [ns, render.FLUX_DIR, render.ARGOCD_DIR, "%s/%s" % (render.ARGOCD_DIR, render.ARGOCD_APPS)]
    return planned, owned, remove


def sync_cluster(render_dir, engine, git=None, cluster="", check_mode=False):
    """Rewrite the cluster-wide files and the cluster's INDEX.md; return the list of changes."""
    planned, owned, remove = plan_cluster(render_dir, engine, git, cluster)
    changes = render.sync_files(render_dir, planned, owned, check_mode=check_mode)[0]
    for relative in remove:
        path = os.path.join(render_dir, relative)
        render.check_path(render_dir, path)
        changes.append({"path": path, "action": "removed"})
        if not check_mode:
            os.unlink(path)
    index = build_index(render_dir, engine)
    changes += render.sync_files(render_dir, {render.INDEX_NAME: (index, render.PUBLIC_MODE, False)}, [],
                                 check_mode=check_mode)[0]
    return changes


# ---------------------------------------------------------------- INDEX.md

def _one_line(text):
    """A value quoted in INDEX.md stays on its line, whatever it holds."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def _label(document):
    meta = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    where = "%s/" % _one_line(meta["namespace"]) if meta.get("namespace") else ""
    return "%s %s%s" % (_one_line(document.get("kind")), where, _one_line(meta.get("name")))


def _points_at(document):
    """What an engine object points at, in one line (a chart, a Git path, the objects it applies)."""
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    kind = document.get("kind")
    if kind == "HelmRelease":
        chart = ((spec.get("chart") or {}).get("spec") or {})
        return "chart %s %s into %s" % (_one_line(chart.get("chart")), _one_line(chart.get("version")),
                                        _one_line(spec.get("targetNamespace")))
    if kind == "HelmRepository":
        return _one_line(spec.get("url"))
    if kind == "Kustomization" and "spec" in document:
        after = ", after %s" % ", ".join(_one_line(d.get("name")) for d in spec["dependsOn"]) if spec.get("dependsOn") else ""
        return "Git path %s%s" % (_one_line(spec.get("path")), after)
    if kind == "Application":
        source = spec.get("source") if isinstance(spec.get("source"), dict) else {}
        wave = ((document.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/sync-wave")
        target = ("chart %s %s from %s" % (_one_line(source.get("chart")), _one_line(source.get("targetRevision")),
                                           _one_line(source.get("repoURL")))
                  if source.get("chart") else "Git path %s" % _one_line(source.get("path")))
        return "%s%s" % (target, ", sync wave %s" % _one_line(wave) if wave is not None else "")
    if "helmCharts" in document:
        return "; ".join("chart %s %s as %s in %s" % tuple(_one_line(c.get(k)) for k in ("name", "version", "releaseName", "namespace"))
                         for c in document["helmCharts"] if isinstance(c, dict))
    if "resources" in document:
        return "resources %s" % ", ".join(_one_line(r) for r in document["resources"])
    return None


def _describe(render_dir, relative):
    document = _load(os.path.join(render_dir, relative))
    if document is None:
        return "?"
    target = _points_at(document)
    if document.get("kind") == "Kustomization" and "spec" not in document:
        return "kustomization: %s" % (target or "empty")
    if document.get("kind") and isinstance(document.get("metadata"), dict):
        return _label(document) + (": %s" % target if target else "")
    return "Helm values"


ENTRY_POINTS = {
    "kustomize": "`kustomize build --enable-helm .` (or `kubectl kustomize --enable-helm .`) builds the whole cluster "
                 "from `kustomization.yaml`; each component folder alone builds without Helm.",
    "flux": "Point a Flux `Kustomization` (or `flux bootstrap --path`) at `flux/`: it creates one Kustomization per "
            "component, each waiting (`dependsOn`, `wait`, HelmRelease health) for the one before.",
    "argocd": "`kubectl apply -n argocd -f argocd/app-of-apps.yaml` once: it syncs every Application in "
              "`argocd/apps/`, in sync-wave order.",
}


def build_index(render_dir, engine):
    """Return the cluster's INDEX.md: apply order, what each engine object points at, the not-for-Git part."""
    lines = ["# Rendered desired state", "",
             "Written by certmesh.istio in render mode for the `%s` engine; apply mode sends the same objects "
             "to the cluster." % engine, "", "## How to apply", "", ENTRY_POINTS.get(engine, ""), "",
             "## Apply order", ""]
    names = components(render_dir)
    if _is_dir(render_dir, gitops.NAMESPACES_COMPONENT):
        names = [gitops.NAMESPACES_COMPONENT] + names
    for number, name in enumerate(names, 1):
        lines.append("%d. `%s`" % (number, name))
    lines += ["", "## Meant for Git", ""]
    layer = [render.KUSTOMIZATION] if _has(render_dir, render.KUSTOMIZATION) else []
    layer += render._yaml_files(render_dir, render.FLUX_DIR) + render._yaml_files(render_dir, render.ARGOCD_DIR)
    layer += render._yaml_files(render_dir, "%s/%s" % (render.ARGOCD_DIR, render.ARGOCD_APPS))
    for relative in layer:
        lines.append("- `%s`: %s" % (relative, _describe(render_dir, relative)))
    for name in names:
        folders = [f for f in render.component_folders(name) if not f.startswith(render.SECRETS_DIR + "/")]
        files = [f for folder in folders for f in render._yaml_files(render_dir, folder)]
        if not files:
            continue
        lines += ["", "### %s" % name, ""]
        lines += ["- `%s`: %s" % (f, _describe(render_dir, f)) for f in files]
    lines += ["", "## Not for Git (key material, kept out by `.gitignore`)", "",
              "Apply these with apply mode (`ansible-playbook playbooks/site.yml --tags pki,mesh_ca "
              "-e certmesh_mode=apply -e manifest_sink_secrets_only=true` with a kubeconfig): see docs/render-mode.md.",
              ""]
    for folder in sorted(n for n in os.listdir(render_dir) if _not_for_git(n)):
        path = os.path.join(render_dir, folder)
        if not _is_dir(render_dir, folder):
            continue
        for root, dirs, files in sorted(os.walk(path)):
            dirs.sort()
            for name in sorted(files):
                relative = os.path.relpath(os.path.join(root, name), render_dir)
                what = "private key (mode 0600)" if name.endswith(".key") else (
                    "key-bearing Secret (mode 0600)" if folder == render.SECRETS_DIR else "certificate material (public)")
                lines.append("- `%s`: %s" % (relative, what))
    return "\n".join(lines) + "\n"


def build_top_index(top_dir):
    """Return the INDEX.md over every cluster of one environment."""
    lines = ["# Rendered environment", "",
             "One folder per cluster, each with its own INDEX.md (apply order and engine objects).", "",
             "## Clusters", ""]
    for name in sorted(os.listdir(top_dir)):
        if _is_dir(top_dir, name) and os.path.isfile(os.path.join(top_dir, name, render.INDEX_NAME)):
            lines.append("- [`%s`](%s/%s)" % (name, name, render.INDEX_NAME))
    lines += ["", "## Not for Git (key material, kept out by `.gitignore`)", "",
              "- `mesh-root/`: the mesh root CA key and certificate",
              "- `*/%s/`: each cluster's intermediate CA files, its key included" % render.PKI_DIR,
              "- `*/%s/`: each cluster's key-bearing Secret manifests" % render.SECRETS_DIR, ""]
    return "\n".join(lines)


def sync_top(top_dir, check_mode=False):
    """Rewrite the environment's INDEX.md and .gitignore; return the list of changes."""
    planned = {render.INDEX_NAME: (build_top_index(top_dir), render.PUBLIC_MODE, False),
               render.GITIGNORE: (TOP_GITIGNORE, render.PUBLIC_MODE, False)}
    return render.sync_files(top_dir, planned, [], check_mode=check_mode)[0]


def input_problem(component, objects):
    """The first reason manifest_render refuses a component or one of its objects, or None."""
    problems = [render.component_problem(component)] + [render.validate_object(obj, component) for obj in objects]
    return next((problem for problem in problems if problem), None)


def sync_render(dest, component, objects, helm_releases, engine, secret_objects, cluster, git, summary_dir,
                prune=True, check_mode=False):
    """What one manifest_render call does, in order: refuse a symlinked index before anything is
    written, sync the component, the cluster-wide files and the environment's index; return
    (changes, diffs). manifest_render runs it, and the render_drift filter runs it in check mode."""
    render.check_path(dest, os.path.join(dest, render.INDEX_NAME))
    if summary_dir:
        render.check_path(summary_dir, os.path.join(summary_dir, render.INDEX_NAME))
    changes, diffs = render.sync_component(dest, component, objects, helm_releases, check_mode=check_mode, prune=prune,
                                           engine=engine, secret_objects=secret_objects, cluster=cluster, git=git)
    if os.path.isdir(dest):
        changes += sync_cluster(dest, engine, git, cluster, check_mode=check_mode)
    if summary_dir and os.path.isdir(summary_dir):
        changes += sync_top(summary_dir, check_mode=check_mode)
    return changes, diffs
