# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan and write the render sink: Kubernetes objects and Helm releases as files, GitOps style.

The same object descriptions that apply mode hands to kubernetes.core are written here, one
object per file, under ``<render dir>/<component>/``, with a kustomization.yaml per component
and an INDEX.md over all components. Secrets are written 0600 and never shown in diffs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

try:
    import yaml
except ImportError:  # the module reports missing_required_lib("PyYAML")
    yaml = None

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
INDEX_NAME = "INDEX.md"
KUSTOMIZATION = "kustomization.yaml"
REDACTED = "<Secret data is not shown>"
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def _str_presenter(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _dumper():
    """Block-style YAML with multi-line strings (PEM) kept readable."""
    dumper = type("RenderDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(str, _str_presenter)
    return dumper


def to_yaml(document):
    """Serialise one document deterministically (keys keep their order: order is meaning)."""
    return yaml.dump(document, Dumper=_dumper(), default_flow_style=False, sort_keys=False, width=120)


def _slug(text):
    return _UNSAFE.sub("-", str(text).lower()).strip("-")


def object_filename(obj):
    """File name of a Kubernetes object: ``<namespace>.<kind>.<name>.yaml`` (namespace if any)."""
    meta = obj.get("metadata") or {}
    parts = [meta.get("namespace"), obj.get("kind"), meta.get("name")]
    return ".".join(_slug(p) for p in parts if p) + ".yaml"


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


def helm_release_files(release):
    """Return {file name: document} for one Helm release: its values and how to install it."""
    name = _slug(release["name"])
    install = {
        "release": release["name"],
        "namespace": release["namespace"],
        "chart": release["chart"],
        "version": release.get("version"),
        "repo": release.get("repo"),
        "create_namespace": release.get("create_namespace", True),
        "values_file": "helm-%s.values.yaml" % name,
    }
    return {
        "helm-%s.release.yaml" % name: install,
        "helm-%s.values.yaml" % name: release.get("values") or {},
    }


def plan_component(objects, helm_releases):
    """Return {file name: (text, mode, sensitive)} for one component, plus its kustomization."""
    files = {}
    resources = []
    for obj in objects:
        name = object_filename(obj)
        sensitive = is_sensitive(obj)
        files[name] = (to_yaml(obj), SECRET_MODE if sensitive else PUBLIC_MODE, sensitive)
        resources.append(name)
    for release in helm_releases:
        for name, document in helm_release_files(release).items():
            files[name] = (to_yaml(document), PUBLIC_MODE, False)
    if resources:
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(resources),
        }
        files[KUSTOMIZATION] = (to_yaml(kustomization), PUBLIC_MODE, False)
    return files


def _summary_of(path):
    try:
        with open(path) as stream:
            doc = yaml.safe_load(stream) or {}
    except (OSError, yaml.YAMLError):
        return "?"
    if "kind" in doc and "metadata" in doc:
        meta = doc["metadata"]
        where = "%s/" % meta["namespace"] if meta.get("namespace") else ""
        return "%s %s%s" % (doc["kind"], where, meta.get("name"))
    if "release" in doc and "chart" in doc:
        return "Helm release %s (chart %s %s) in %s" % (doc["release"], doc["chart"], doc.get("version"), doc.get("namespace"))
    return "Helm values"


def build_index(render_dir):
    """Return INDEX.md text listing every component folder and what its files hold."""
    lines = [
        "# Rendered desired state",
        "",
        "Written by certmesh.istio in render mode; apply mode sends the same objects to the cluster.",
        "Files holding key material are mode 0600: keep them out of git or encrypt them",
        "(see docs/render-mode.md).",
        "",
    ]
    for component in sorted(os.listdir(render_dir)):
        folder = os.path.join(render_dir, component)
        if not os.path.isdir(folder):
            continue
        if component == "pki":
            lines.append("## pki")
            lines.append("")
            for name in sorted(os.listdir(folder)):
                private = name.endswith(".key")
                lines.append("- `pki/%s`: %s" % (name, "private key (mode 0600)" if private else "certificate material (public)"))
            lines.append("")
            continue
        names = sorted(n for n in os.listdir(folder) if n.endswith(".yaml") and n != KUSTOMIZATION)
        if not names:
            continue
        lines.append("## %s" % component)
        lines.append("")
        for name in names:
            lines.append("- `%s/%s`: %s" % (component, name, _summary_of(os.path.join(folder, name))))
        lines.append("")
    return "\n".join(lines)


def read_text(path):
    try:
        with open(path) as stream:
            return stream.read()
    except OSError:
        return None


def write_text(path, text, mode):
    """Write atomically with the final mode set before the content lands (keys never 0644)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, ".%s.tmp" % os.path.basename(path))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w") as stream:
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


def sync_component(render_dir, component, objects, helm_releases, check_mode=False, prune=True):
    """Bring ``<render_dir>/<component>/`` to the planned files; return (changes, diffs).

    changes: list of {path, action} with action created|updated|mode|removed.
    diffs: Ansible diff dicts (before/after text; Secrets redacted).
    """
    folder = os.path.join(render_dir, component)
    planned = plan_component(objects, helm_releases)
    changes, diffs = [], []
    for name in sorted(planned):
        text, mode, sensitive = planned[name]
        path = os.path.join(folder, name)
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
    if prune and os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".yaml") and name not in planned:
                path = os.path.join(folder, name)
                changes.append({"path": path, "action": "removed"})
                diffs.append({"before_header": path, "after_header": path, "before": "(file)\n", "after": ""})
                if not check_mode:
                    os.unlink(path)
    return changes, diffs


def sync_index(render_dir, check_mode=False):
    """Rewrite INDEX.md when the folder's contents changed; return the change or None."""
    if not os.path.isdir(render_dir):
        return None
    path = os.path.join(render_dir, INDEX_NAME)
    text = build_index(render_dir)
    if read_text(path) == text:
        return None
    if not check_mode:
        write_text(path, text, PUBLIC_MODE)
    return {"path": path, "action": "updated"}
