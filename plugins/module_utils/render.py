# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan and write the render sink: Kubernetes objects and Helm releases as files, GitOps style.

The same object descriptions that apply mode hands to kubernetes.core are written here, one
object per file, under ``<render dir>/<component>/``, with a kustomization.yaml per component;
key-bearing Secrets go to ``secrets/<component>/``, never meant for Git; Helm releases become
the chosen GitOps engine's own documents (gitops.py). The cluster-wide files (namespaces, the
engine's entry point, INDEX.md) are render_cluster.py's. Secrets are written 0600 and never
shown in diffs.

Values are written by a YAML dumper, never pasted into YAML text: whatever a value holds
(newlines, colons, quotes, ``{{``, ``../``, non-ASCII), it is one scalar that reads back equal,
and ``to_yaml`` proves it on every document before it is written. Every path is checked before
anything is read or written: it stays inside the render folder (names are slugged into one file
name) and no file is read or written through a symlink.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.certmesh.istio.plugins.module_utils import gitops

try:
    import yaml
except ImportError:  # the module reports missing_required_lib("PyYAML")
    yaml = None

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
INDEX_NAME = "INDEX.md"
KUSTOMIZATION = "kustomization.yaml"
GITIGNORE = ".gitignore"
# Never meant for Git: key-bearing Secret manifests and the CA files (keys included).
SECRETS_DIR = "secrets"
PKI_DIR = "pki"
NOT_FOR_GIT = (PKI_DIR, SECRETS_DIR)
HELM_DIR = "helm"
FLUX_DIR = "flux"
ARGOCD_DIR = "argocd"
ARGOCD_APPS = "apps"
ARGOCD_ROOT = "app-of-apps.yaml"
# Folders of a cluster that are not components.
LAYER_DIRS = (PKI_DIR, SECRETS_DIR, FLUX_DIR, ARGOCD_DIR, gitops.NAMESPACES_COMPONENT)
# Where the engine objects say the cluster folder is in Git (manifest_render's git option).
DEFAULT_GIT = {
    "repo_url": "https://git.example.com/platform/mesh.git",
    "revision": "HEAD",
    "path": "",
    "flux_source": "flux-system",
    "argocd_project": "default",
    "argocd_server": "https://kubernetes.default.svc",
}
REDACTED = "<Secret data is not shown>"
_UNSAFE = re.compile(r"[^a-z0-9.-]+")
# A component is one folder name chosen by a role: refused, not slugged, when it is anything else.
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Characters a YAML reader folds or drops in block scalars (YAML 1.1 line breaks, BOM).
_BLOCK_UNSAFE = re.compile("[\x85\u2028\u2029\ufeff\r]")


class RenderPathError(ValueError):
    """A path of the render folder that must not be written (outside the folder, or a symlink)."""


def _str_presenter(dumper, value):
    # PEM and other multi-line text as a literal block, where the dumper can keep it exact.
    style = "|" if "\n" in value and not _BLOCK_UNSAFE.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _quoted_str_presenter(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


def _dumper(readable=True):
    """Block-style YAML; readable: multi-line strings (PEM) as literal blocks, else all strings quoted."""
    dumper = type("RenderDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(str, _str_presenter if readable else _quoted_str_presenter)
    return dumper


def _dump(document, readable):
    return yaml.dump(document, Dumper=_dumper(readable), default_flow_style=False, sort_keys=False, width=120,
                     allow_unicode=readable)


def to_yaml(document):
    """Serialise one document deterministically (keys keep their order: order is meaning).

    The readable form is checked by reading it back: a value it cannot keep exactly (rare
    characters that YAML folds) makes the whole document use double-quoted, escaped strings,
    which every YAML reader reads back byte for byte.
    """
    text = _dump(document, readable=True)
    try:
        if yaml.safe_load(text) == document:
            return text
    except yaml.YAMLError:
        pass
    return _dump(document, readable=False)


def _slug(text):
    """One safe file-name part: lowercase letters, digits, '-' and '.', never leading or trailing '.'."""
    return _UNSAFE.sub("-", str(text).lower()).strip("-.")


def object_filename(obj):
    """File name of a Kubernetes object: ``<namespace>.<kind>.<name>.yaml`` (namespace if any).

    Each part is slugged, so a name holding ``/`` or ``../`` stays inside the component folder.
    """
    meta = obj.get("metadata") or {}
    parts = [meta.get("namespace"), obj.get("kind"), meta.get("name")]
    return ".".join(s for s in (_slug(p) for p in parts if p) if s) + ".yaml"


def component_problem(component):
    """Return why a component name cannot be a folder of the render directory, else None."""
    if not isinstance(component, str) or not _COMPONENT.match(component):
        return ("component %r is not a plain folder name (letters, digits, '_', '-' and '.', "
                "starting with a letter or digit)" % (component,))
    return None


def _object_label(obj):
    meta = obj.get("metadata") or {}
    where = "%s/" % meta["namespace"] if meta.get("namespace") else ""
    return "%s %s%s" % (obj.get("kind"), where, meta.get("name"))


def _inside(root, path):
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def check_path(render_dir, path):
    """Raise RenderPathError unless path is inside render_dir and nothing on the way is a symlink."""
    render_dir = os.path.abspath(render_dir)
    path = os.path.abspath(path)
    if os.path.commonpath([render_dir, path]) != render_dir:
        raise RenderPathError("%s is outside the render folder %s" % (path, render_dir))
    current = path
    while True:
        if os.path.islink(current):
            raise RenderPathError("%s is a symlink: refusing to read or write through it (remove it, or "
                                  "point certmesh_output_dir at a real folder)" % current)
        if current == render_dir:
            break
        current = os.path.dirname(current)
    if not _inside(render_dir, path):  # a symlink above the render folder cannot move what is below it
        raise RenderPathError("%s is outside the render folder %s" % (path, render_dir))


def is_sensitive(obj):
    """Secrets carry key material: private files and no diffs."""
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def validate_object(obj, component):
    """Return a problem string for an object that cannot be a Kubernetes object, else None."""
    if not isinstance(obj, dict):
        return "component %s: an object is not a mapping: %r" % (component, obj)
    missing = [key for key in ("apiVersion", "kind") if not obj.get(key)]
    if not (obj.get("metadata") or {}).get("name"):
        missing.append("metadata.name")
    if missing:
        return "component %s: object %s/%s lacks %s" % (
            component, obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?"), ", ".join(missing))
    return None


def _values_file(release):
    return "%s.values.yaml" % _slug(release["name"])


def helm_folder(component, engine):
    """Folder (relative to the cluster) of a component's engine-specific Helm documents."""
    if engine == "argocd":
        return "%s/%s/%s" % (ARGOCD_DIR, ARGOCD_APPS, component)
    return "%s/%s" % (component, HELM_DIR)


def plan_component(component, objects, helm_releases, engine="kustomize", secret_objects=(), cluster="", git=None):
    """Return {path relative to the cluster: (text, mode, sensitive)} for one component.

    Plain objects go to ``<component>/`` with a kustomization.yaml, key-bearing Secrets to
    ``secrets/<component>/`` (never meant for Git), Helm releases to the engine's own documents
    (see gitops.py). Raises RenderPathError when two things would share a file (names that
    differ only in characters a file name cannot hold): one would silently replace the other.
    """
    git = git or DEFAULT_GIT
    files = {}
    owners = {}

    def add(name, owner, document, mode, sensitive=False):
        if name in owners:
            raise RenderPathError("%s and %s would both be written to %s: give them names that differ in "
                                  "letters or digits" % (owners[name], owner, name))
        owners[name] = owner
        files[name] = (to_yaml(document), mode, sensitive)

    resources = []
    for obj in objects:
        name = object_filename(obj)
        sensitive = is_sensitive(obj)
        add("%s/%s" % (component, name), _object_label(obj), obj, SECRET_MODE if sensitive else PUBLIC_MODE, sensitive)
        resources.append(name)
    for obj in secret_objects:
        add("%s/%s/%s" % (SECRETS_DIR, component, object_filename(obj)), _object_label(obj), obj, SECRET_MODE, True)
    helm_dir = helm_folder(component, engine)
    helm_documents = []
    if engine == "kustomize" and helm_releases:
        charts = []
        for release in helm_releases:
            add("%s/%s" % (helm_dir, _values_file(release)), "Helm release %s" % release["name"],
                release.get("values") or {}, PUBLIC_MODE)
            charts.append(gitops.kustomize_helm_chart(release, _values_file(release)))
        add("%s/%s" % (helm_dir, KUSTOMIZATION), "the Helm kustomization", gitops.kustomization(helm_charts=charts), PUBLIC_MODE)
    elif engine == "flux":
        helm_documents = gitops.flux_helm_objects(helm_releases)
    elif engine == "argocd":
        helm_documents = gitops.argocd_helm_applications(component, helm_releases, git, cluster)
    helm_resources = []
    for obj in helm_documents:
        add("%s/%s" % (helm_dir, object_filename(obj)), _object_label(obj), obj, PUBLIC_MODE)
        helm_resources.append(object_filename(obj))
    if engine == "flux" and helm_resources:
        add("%s/%s" % (helm_dir, KUSTOMIZATION), "the Helm kustomization",
            gitops.kustomization(resources=sorted(helm_resources)), PUBLIC_MODE)
        resources.append(HELM_DIR)
    if resources:
        add("%s/%s" % (component, KUSTOMIZATION), "the kustomization",
            gitops.kustomization(resources=sorted(resources)), PUBLIC_MODE)
    return files


def read_text(path):
    """Current text of a file, or None; undecodable bytes read as different text, never raise."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read()
    except OSError:
        return None


def write_text(path, text, mode):
    """Write atomically with the final mode set before the content lands (keys never 0644).

    The temporary file is created new (never opened through a symlink someone left there).
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, ".%s.tmp" % os.path.basename(path))
    if os.path.lexists(temp):
        os.unlink(temp)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except Exception:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _file_mode(path):
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None


def _yaml_files(render_dir, folder):
    path = os.path.join(render_dir, folder)
    if os.path.islink(path) or not os.path.isdir(path):
        return []
    return sorted("%s/%s" % (folder, n) for n in os.listdir(path) if n.endswith(".yaml"))


def sync_files(render_dir, planned, owned_folders, check_mode=False, prune=True):
    """Bring files of render_dir to planned ({relative path: (text, mode, sensitive)}); return (changes, diffs).

    owned_folders: folders (relative) whose YAML files not planned are removed (prune).
    changes: list of {path, action} with action created|updated|mode|removed.
    diffs: Ansible diff dicts (before/after text; Secrets redacted).
    Every path is checked (inside render_dir, no symlink on the way) before anything is written.
    """
    stale = []
    if prune:
        for folder in owned_folders:
            stale += [name for name in _yaml_files(render_dir, folder) if name not in planned]
    for name in sorted(planned) + stale:
        check_path(render_dir, os.path.join(render_dir, name))
    changes, diffs = [], []
    for name in sorted(planned):
        text, mode, sensitive = planned[name]
        path = os.path.join(render_dir, name)
        current = read_text(path)
        if current == text and _file_mode(path) == mode:
            continue
        action = "created" if current is None else ("updated" if current != text else "mode")
        changes.append({"path": path, "action": action})
        if action != "mode":
            diffs.append({
                "before_header": path, "after_header": path,
                "before": REDACTED if (sensitive and current is not None) else (current or ""),
                "after": REDACTED if sensitive else text,
            })
        if not check_mode:
            write_text(path, text, mode)
    for name in sorted(set(stale)):
        path = os.path.join(render_dir, name)
        changes.append({"path": path, "action": "removed"})
        diffs.append({"before_header": path, "after_header": path, "before": "(file)\n", "after": ""})
        if not check_mode:
            os.unlink(path)
    return changes, diffs


def component_folders(component):
    """Every folder (relative to the cluster) a component's files live in, whatever the engine."""
    return [component, "%s/%s" % (SECRETS_DIR, component), "%s/%s" % (component, HELM_DIR),
            "%s/%s/%s" % (ARGOCD_DIR, ARGOCD_APPS, component)]


def sync_component(render_dir, component, objects, helm_releases, check_mode=False, prune=True,
                   engine="kustomize", secret_objects=(), cluster="", git=None):
    """Bring a component's files (plain, secret and Helm parts) to the desired state; return (changes, diffs).

    Raises RenderPathError, before anything is read or written, for a component that is not a
    plain folder name or a layer folder, a path outside render_dir or a symlink on the way.
    """
    problem = component_problem(component)
    if problem is None and component in LAYER_DIRS:
        problem = "component %r is a folder render mode keeps for itself (%s)" % (component, ", ".join(LAYER_DIRS))
    if problem:
        raise RenderPathError(problem)
    planned = plan_component(component, objects, helm_releases, engine, secret_objects, cluster, git)
    return sync_files(render_dir, planned, component_folders(component), check_mode, prune)
