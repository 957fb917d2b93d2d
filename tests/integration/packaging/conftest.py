# -*- coding: utf-8 -*-
"""One built and installed tarball for the packaging tests, with nothing else beside it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib
import subprocess
import sys

import pytest

from tests.support.playbook import REPO_ROOT, playbook_env


def standalone_env(tmp, collections):
    """ansible-core alone: only ``collections`` on the collections path, and the collections the
    ``ansible`` package bundles in site-packages hidden (what Galaxy's importer sees)."""
    (tmp / "empty.cfg").write_text("[defaults]\n")
    return playbook_env(tmp, ANSIBLE_CONFIG=str(tmp / "empty.cfg"), ANSIBLE_COLLECTIONS_PATH=str(collections),
                        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOME=str(tmp / "ansible-home"))


def tool(name):
    return str(pathlib.Path(sys.executable).parent / name)


@pytest.fixture(scope="package")
def package(tmp_path_factory):
    """The tarball `ansible-galaxy collection build` makes from the checkout, installed alone;
    built once for every test module here (they share one xdist group, so one worker)."""
    tmp = tmp_path_factory.mktemp("package")
    collections = tmp / "collections"
    env = standalone_env(tmp, collections)
    build = subprocess.run([tool("ansible-galaxy"), "collection", "build", str(REPO_ROOT), "--output-path", str(tmp)],
                           cwd=tmp, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = next(tmp.glob("certmesh-istio-*.tar.gz"))
    install = subprocess.run([tool("ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
                             cwd=tmp, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    return {"tmp": tmp, "env": env, "tarball": tarball,
            "root": collections / "ansible_collections" / "certmesh" / "istio"}
