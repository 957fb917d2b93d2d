"""Find and load the upstream CRDs and Helm value schemas that rendered objects must satisfy.

The files are not part of this project: they live in ``../shared/upstream/`` beside the
checkout (or wherever ``CERTMESH_UPSTREAM_DIR`` points). Without them a test is skipped with
the reason, except under CI (``CI`` set), where their absence is a failure.
"""

import functools
import json
import os
import pathlib

import pytest

from tests.support.k8s_openapi import StructuralValidator
from tests.emulators import fast_yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def upstream_dir():
    """Return the upstream data folder, or skip (fail under CI) when it is missing."""
    configured = os.environ.get("CERTMESH_UPSTREAM_DIR")
    path = pathlib.Path(configured) if configured else REPO_ROOT.parent / "shared" / "upstream"
    if not (path / "cert-manager" / "crds").is_dir():
        reason = (
            "upstream CRDs and chart schemas not found at %s; set CERTMESH_UPSTREAM_DIR to the "
            "folder holding cert-manager/, istio/ and istio-csr/" % path
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def crd_documents():
    """Yield every CustomResourceDefinition document in the upstream folder."""
    base = upstream_dir()
    for crd_file in sorted(base.glob("*/crds/*.yaml")):
        with crd_file.open() as stream:
            for doc in fast_yaml.safe_load_all(stream):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    yield doc


@functools.lru_cache(maxsize=None)
def _crd_index():
    index = {}
    for crd in crd_documents():
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            index[("%s/%s" % (group, version["name"]), kind)] = version["schema"]["openAPIV3Schema"]
    return index


@functools.lru_cache(maxsize=None)
def crd_validator(api_version, kind):
    """Return a strict validator for a custom resource kind, or None when no CRD defines it."""
    schema = _crd_index().get((api_version, kind))
    return StructuralValidator(schema) if schema is not None else None


def known_custom_kinds():
    """Return the set of (apiVersion, kind) pairs the upstream CRDs define."""
    return set(_crd_index())


@functools.lru_cache(maxsize=None)
def helm_values_schema(chart):
    """Return the ``values.schema.json`` of a chart folder: ``cert-manager`` or ``istio-csr``."""
    with (upstream_dir() / chart / "chart" / "values.schema.json").open() as stream:
        return json.load(stream)


@functools.lru_cache(maxsize=None)
def helm_default_values(chart):
    """Return the chart's default ``values.yaml`` (what Helm merges user values onto)."""
    with (upstream_dir() / chart / "chart" / "values.yaml").open() as stream:
        return fast_yaml.safe_load(stream)
