"""Checks over one cluster's render tree that hold for every GitOps engine (shared by the render tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

import yaml
from cryptography.hazmat.primitives import serialization

from tests.support import core_schema
from tests.support.upstream import crd_validator, known_custom_kinds

# Folders of a cluster's render that are never meant for Git (the written .gitignore names them).
NOT_FOR_GIT = ("pki", "secrets")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]{64,}")


def git_part(cluster_dir):
    """Every file of the cluster folder a user commits: all but pki/ and secrets/."""
    return sorted(p for p in cluster_dir.rglob("*") if p.is_file() and p.relative_to(cluster_dir).parts[0] not in NOT_FOR_GIT
                  and not p.relative_to(cluster_dir).parts[0].startswith("pki-"))


def _is_private_key_der(blob):
    for load in (serialization.load_der_private_key,):
        try:
            load(blob, password=None)
            return True
        except (ValueError, TypeError):
            pass
    return False


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _texts(text, depth=0):
    """The file's text, its YAML string values, and what every base64 blob in them decodes to."""
    yield text
    if depth > 2:
        return
    candidates = [text]
    try:
        candidates += list(_strings(list(yaml.safe_load_all(text))))
    except yaml.YAMLError:
        pass
    for candidate in candidates:
        for blob in _BASE64.findall(candidate):
            try:
                raw = base64.b64decode("".join(blob.split()), validate=True)
            except ValueError:
                continue
            if _is_private_key_der(raw):
                yield "-----BEGIN DER PRIVATE KEY-----"
            try:
                yield from _texts(raw.decode("utf-8"), depth + 1)
            except UnicodeDecodeError:
                pass


def private_keys_in(path):
    """Names of the private keys (PEM blocks or base64 DER, however deeply base64-wrapped) in one file."""
    found = []
    for text in _texts(path.read_text(errors="replace")):
        found += [label for label in _PEM.findall(text) if "PRIVATE" in label]
        for block in re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*-----END [A-Z ]*PRIVATE KEY-----", text):
            found.append(block.splitlines()[0])
    return found


def rendered_objects(cluster_dir):
    """(path, document) of every Kubernetes object the cluster's render holds (Git part and secrets)."""
    for path in sorted(cluster_dir.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.name.endswith(".values.yaml"):
            continue
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and "kind" in document:
            yield path, document


def schema_errors(obj):
    """Upstream CRD errors of a custom resource, or strict field and type errors of a built-in object
    (tests/support/core_schema.py: the kubernetes client's models of Kubernetes' OpenAPI document)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in known_custom_kinds():
        return crd_validator(*key).errors(obj)
    if core_schema.model_for(*key) is not None:
        return core_schema.errors(obj) + ([] if (obj.get("metadata") or {}).get("name") else ["metadata.name: Required value"])
    return ["no upstream CRD or built-in kind defines %s %s" % key]


def unrendered_namespaces(cluster_dir, engine_namespaces=()):
    """Namespaces rendered objects live in or install into that no rendered Namespace creates."""
    used, created = set(), set()
    skip = set(engine_namespaces) | {"default", "kube-system", "kube-public", "kube-node-lease"}
    for _path, obj in rendered_objects(cluster_dir):
        meta = obj.get("metadata") or {}
        if obj["kind"] == "Namespace":
            created.add(meta["name"])
        used.add(meta.get("namespace"))
        spec = obj.get("spec") or {}
        used.add(spec.get("targetNamespace"))
        used.add((spec.get("destination") or {}).get("namespace") if isinstance(spec, dict) else None)
    for kustomization in cluster_dir.rglob("kustomization.yaml"):
        for chart in yaml.safe_load(kustomization.read_text()).get("helmCharts") or []:
            used.add(chart["namespace"])
    return sorted(n for n in used - created - skip if n)
