"""Concurrent slices of one inventory, sharing the kubernetes PKI store, end with one mesh root.

One small run of bench/fleet.py: four clusters in two ``ansible-playbook`` slices started at the
same moment against an empty store (the race), each with its own output folder and TMPDIR as
on separate AWX execution nodes. Only the PKI tag runs, to stay cheap; the store's logic is the
same for a full converge.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import subprocess
import sys

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import kube
from tests.support.playbook import REPO_ROOT as REPO, playbook_env
from tests.support.secrets import leaked_key_material

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fleet_bench")]


@pytest.fixture
def fleet(kube_emulator_factory, tmp_path):
    management = kube_emulator_factory("management", crds=False, controllers=[])
    work = tmp_path / "fleet"
    figures = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, "bench/fleet.py", "--clusters", "4", "--slices", "2", "--store", "kubernetes",
         "--store-kubeconfig", str(management.kubeconfig), "--tags", "pki", "--no-noop", "--verbose",
         "--work", str(work), "--json", str(figures)],
        cwd=str(REPO), env=playbook_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    client = kube.api_client({"kubeconfig": str(management.kubeconfig), "context": "management"})
    stored = kube.list_objects(client, "Secret", "v1", "certmesh-pki")
    return run, json.loads(figures.read_text()) if figures.is_file() else None, stored, work / "n4"


def _stored_keys(stored, folder):
    folder.mkdir()
    for secret in stored:
        (folder / (secret["metadata"]["name"] + ".key")).write_text(
            base64.b64decode(secret["data"]["tls.key"]).decode())
    return folder


def test_two_slices_racing_on_an_empty_store_share_one_root_and_leak_no_key(fleet, tmp_path):
    run, figures, stored, work = fleet
    assert run.returncode == 0, run.stdout + run.stderr
    assert "roots: 1" in run.stdout
    assert figures[0]["roots"] == 1 and figures[0]["clusters_with_a_root"] == 4

    names = sorted(secret["metadata"]["name"] for secret in stored)
    assert names == ["certmesh-fleet-intermediate-c00%d" % n for n in range(1, 5)] + ["certmesh-fleet-mesh-root"]

    logs = "".join(path.read_text() for path in work.glob("slice-*/first.log"))
    assert leaked_key_material(logs, _stored_keys(stored, tmp_path / "stored-keys")) == []
    # The scratch copies are gone, and no key file was left in a slice's output folder.
    assert list(work.glob("slice-*/tmp/certmesh-pki-*")) == []
    assert list(work.glob("slice-*/out/**/*.key")) == []
