# -*- coding: utf-8 -*-
"""certmesh.istio.cluster_connection documents exactly the connection options that our
cluster-reading modules take from kubernetes.core: same names, types, aliases and
suboptions as kubernetes.core's own k8s_auth_options fragment and AUTH_ARG_SPEC."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.certmesh.istio.plugins.doc_fragments import cluster_connection
from ansible_collections.kubernetes.core.plugins.doc_fragments import k8s_auth_options
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

SHAPE_KEYS = ("type", "elements", "aliases")


def _options(fragment):
    return yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]


def _shape(options):
    """{name: (type, elements, sorted aliases, {suboption: shape})} of a doc's options."""
    return dict(
        (name, tuple(tuple(sorted(spec[key])) if key == "aliases" and key in spec else spec.get(key) for key in SHAPE_KEYS)
         + (_shape(spec.get("suboptions") or {}),))
        for name, spec in options.items())


def _spec_shape(spec):
    """The same shape from an argument spec (whose type defaults to str)."""
    return dict(
        (name, (option.get("type", "str"), option.get("elements"),
                tuple(sorted(option["aliases"])) if "aliases" in option else None, _spec_shape(option.get("options") or {})))
        for name, option in spec.items())


def test_our_fragment_names_and_types_every_option_as_kubernetes_core_documents_it():
    ours, theirs = _shape(_options(cluster_connection)), _shape(_options(k8s_auth_options))
    assert sorted(ours) == sorted(theirs), "options differ from the installed kubernetes.core's k8s_auth_options"
    assert ours == theirs


def test_our_fragment_documents_every_option_the_modules_accept_from_kubernetes_core():
    assert _shape(_options(cluster_connection)) == _spec_shape(AUTH_ARG_SPEC)


def test_a_drifted_option_type_is_noticed():
    drifted = dict(_options(cluster_connection))
    drifted["kubeconfig"] = dict(drifted["kubeconfig"], type="path")
    assert _shape(drifted) != _shape(_options(k8s_auth_options))


def test_cluster_reading_modules_extend_our_fragment_not_kubernetes_cores():
    from tests.support.playbook import REPO_ROOT
    for path in sorted((REPO_ROOT / "plugins" / "modules").glob("*.py")):
        source = path.read_text()
        assert "kubernetes.core.k8s_auth_options" not in source, path.name
        if "AUTH_ARG_SPEC" in source:
            assert "certmesh.istio.cluster_connection" in source, path.name
