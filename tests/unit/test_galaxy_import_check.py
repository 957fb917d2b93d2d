# -*- coding: utf-8 -*-
"""scripts/galaxy_import_check.py fails an import whose plugins lost their docs, or that logged
an error, and passes a clean one (the importer itself runs in the `importer` stage)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys

from tests.support.playbook import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import galaxy_import_check  # noqa: E402  pylint: disable=wrong-import-position

DONE = "Importer processing completed successfully\n"


def _report(module_doc):
    return {"docs_blob": {"contents": [
        {"content_type": "module", "content_name": "chain_verify", "doc_strings": module_doc},
        {"content_type": "module_utils", "content_name": "pki", "doc_strings": {}},
        {"content_type": "role", "content_name": "mesh_ca", "doc_strings": {}}]},
        "contents": [{"content_type": "role", "name": "mesh_ca", "description": "The mesh CA."}]}


def _result(stdout=DONE, returncode=0):
    return subprocess.CompletedProcess([], returncode, stdout=stdout, stderr="")


GOOD_DOC = {"doc": {"short_description": "Verify chains", "description": ["Verifies."], "options": {"chain": {}}}}


def test_a_clean_import_with_documented_modules_has_no_problem():
    assert galaxy_import_check.problems(_result(), _report(GOOD_DOC)) == []


def test_a_module_with_empty_docs_is_a_problem_naming_it():
    assert "module chain_verify has no docs in the importer result" in galaxy_import_check.problems(_result(), _report({}))


def test_an_error_line_or_an_unfinished_import_is_a_problem():
    found = galaxy_import_check.problems(_result("ERROR: ansible-doc failed\n", returncode=1), _report(GOOD_DOC))
    assert "ERROR: ansible-doc failed" in found and any("did not complete" in line for line in found)


def test_an_action_plugin_is_documented_by_its_module_and_a_lone_action_is_a_problem():
    report = _report(GOOD_DOC)
    report["docs_blob"]["contents"].append({"content_type": "action", "content_name": "chain_verify", "doc_strings": {}})
    assert galaxy_import_check.problems(_result(), report) == []
    report["docs_blob"]["contents"].append({"content_type": "action", "content_name": "lonely", "doc_strings": {}})
    assert galaxy_import_check.problems(_result(), report) == ["action lonely has no docs in the importer result"]
