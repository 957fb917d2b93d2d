# -*- coding: utf-8 -*-
"""The built tarball holds the collection and what an execution environment needs, and none
of the checkout's development files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import tarfile

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package")]

DEV_ONLY = ("molecule/", "scripts/", "bench/", ".ci/", ".build/", ".venv/", "out/", "tests/output/",
            "ansible.cfg", "requirements-dev.txt", "pytest.ini", ".ansible-lint", ".ansible-lint-ignore",
            "execution-environment.yml", ".gitignore")
RUNTIME_PACKAGES = {"kubernetes", "cryptography", "pyyaml", "hvac"}


@pytest.fixture(scope="module")
def members(package):
    with tarfile.open(str(package["tarball"])) as tar:
        return {"names": tar.getnames(), "tar": package["tarball"],
                "requirements": tar.extractfile("requirements.txt").read().decode(),
                "bindep": tar.extractfile("bindep.txt").read().decode(),
                "ee": yaml.safe_load(tar.extractfile("meta/execution-environment.yml").read())}


def _requirement_names(text):
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return {re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower() for line in lines if line}


def test_the_tarball_holds_no_development_file(members):
    shipped = [name for name in members["names"] for dev in DEV_ONLY
               if name == dev.rstrip("/") or name.startswith(dev)]
    assert shipped == []


def test_the_tarball_holds_the_collection_content_and_its_tests(members):
    for wanted in ("plugins/modules/chain_verify.py", "plugins/doc_fragments/cluster_connection.py",
                   "roles/mesh_ca/meta/argument_specs.yml", "playbooks/site.yml", "meta/runtime.yml",
                   "README.md", "COPYING", "tests/unit", "changelogs/changelog.yaml"):
        assert wanted in members["names"], wanted


def test_requirements_txt_names_the_plugins_python_packages_and_not_ansible(members):
    names = _requirement_names(members["requirements"])
    assert RUNTIME_PACKAGES <= names
    assert not names & {"ansible", "ansible-core", "ansible-base"}


def test_bindep_txt_is_shipped_in_bindep_format(members):
    entries = [line for line in members["bindep"].splitlines() if line.strip() and not line.startswith("#")]
    assert entries and all(re.match(r"^[a-z0-9.+-]+( \[[a-z0-9: -]+\])?$", line) for line in entries), entries


def test_the_collection_execution_environment_file_points_at_both(members):
    assert members["ee"]["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
