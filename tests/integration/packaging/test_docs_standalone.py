# -*- coding: utf-8 -*-
"""ansible-doc documents every plugin and role of the installed collection with only
ansible-core and this collection present: no dependency collection (Galaxy's importer does not
install them), so no doc fragment or reference may need one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import subprocess

import pytest

from tests.integration.packaging.conftest import tool

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package")]

# Plugin folders whose plugins ansible-doc documents under the same type name; action plugins
# are documented with their module.
DOC_TYPES = ("become", "cache", "callback", "cliconf", "connection", "filter", "httpapi", "inventory",
             "lookup", "module", "netconf", "shell", "strategy", "test", "vars")


def _ansible_doc(package, *args):
    return subprocess.run([tool("ansible-doc")] + list(args), cwd=str(package["tmp"]), env=package["env"],
                          capture_output=True, text=True, check=False, timeout=300)


def _plugins_in_tree(root):
    """{doc type: names} for every plugin file in the installed collection."""
    found = {}
    for folder in sorted((root / "plugins").iterdir()):
        kind = {"modules": "module", "action": "module", "filter": "filter", "test": "test"}.get(folder.name, folder.name)
        if kind not in DOC_TYPES:
            continue
        suffix = "*.yml" if kind in ("filter", "test") else "*.py"  # filters and tests document in YAML
        names = {path.stem for path in folder.glob(suffix) if not path.stem.startswith("_")}
        found.setdefault(kind, set()).update(names)
    return found


def test_dependency_collections_are_really_hidden(package):
    result = _ansible_doc(package, "kubernetes.core.k8s_info")
    assert result.returncode != 0 or "kubernetes.core.k8s_info" not in result.stdout


def test_every_plugin_has_docs_with_only_this_collection_installed(package):
    plugins = _plugins_in_tree(package["root"])
    assert len(plugins.get("module", ())) >= 8 and plugins.get("filter")
    for kind, names in sorted(plugins.items()):
        listed = _ansible_doc(package, "-t", kind, "-l", "certmesh.istio", "--json")
        assert listed.returncode == 0, listed.stderr
        names = names | set(name.split(".")[-1] for name in json.loads(listed.stdout))
        fqcns = ["certmesh.istio." + name for name in sorted(names)]
        # One call for all of a type, as galaxy-importer does: one broken plugin empties them all.
        result = _ansible_doc(package, "-t", kind, "--json", *fqcns)
        assert result.returncode == 0, result.stderr
        assert "unknown doc_fragment" not in result.stderr and "ERROR" not in result.stderr, result.stderr
        docs = json.loads(result.stdout)
        for fqcn in fqcns:
            doc = (docs.get(fqcn) or {}).get("doc") or {}
            assert doc.get("short_description") and doc.get("description"), (kind, fqcn)
            assert doc.get("options") or kind != "module", fqcn


def test_every_cluster_module_documents_kubernetes_connection_options(package):
    result = _ansible_doc(package, "-t", "module", "--json", "certmesh.istio.chain_verify", "certmesh.istio.mesh_preflight")
    assert result.returncode == 0, result.stderr
    for doc in json.loads(result.stdout).values():
        assert {"kubeconfig", "context", "host", "api_key", "validate_certs"} <= set(doc["doc"]["options"])


def test_every_role_has_docs_with_only_this_collection_installed(package):
    roles = sorted(path.name for path in (package["root"] / "roles").iterdir() if (path / "meta" / "argument_specs.yml").exists())
    result = _ansible_doc(package, "-t", "role", "--json", *["certmesh.istio." + role for role in roles])
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    for role in roles:
        main = docs["certmesh.istio." + role]["entry_points"]["main"]
        assert main.get("short_description") and main.get("description"), role
