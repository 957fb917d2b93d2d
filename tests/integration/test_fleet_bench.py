"""Concurrent slices of one inventory, sharing the kubernetes or the vault PKI store, end with one mesh root.

Small runs of bench/fleet.py: four clusters (two with the vault store) in two ``ansible-playbook``
slices started at the same moment against an empty store (the race), each with its own output folder and TMPDIR as
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
from tests.emulators.vault_api import VaultEmulator
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


@pytest.fixture
def vault_fleet(tmp_path):
    """Two clusters in two slices started at once against an empty Vault KV v2 store."""
    store = VaultEmulator()
    store.start("127.0.0.1", 0)
    # Both slices find no root (fetch), both generate one, both find none just before storing it
    # (publish): the race is certain, not left to the timing of two processes.
    store.hold_reads("secret/data/certmesh/fleet/mesh-root", parties=2, reads=4)
    try:
        work = tmp_path / "fleet"
        figures = tmp_path / "figures.json"
        run = subprocess.run(
            [sys.executable, "bench/fleet.py", "--clusters", "2", "--slices", "2", "--store", "vault",
             "--store-vault-url", store.url, "--store-vault-token", store.root_token, "--tags", "pki", "--no-noop",
             "--verbose", "--work", str(work), "--json", str(figures)],
            cwd=str(REPO), env=playbook_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
        kv = store.state().mounts["secret/"].backend.keys
        stored = dict((path, (meta["current_version"], meta["versions"][meta["current_version"]]["data"]))
                      for path, meta in kv.items())
        writes = [request for request in store.state_writes() if request[2].startswith("secret/")]
    finally:
        store.stop()
    return (run, json.loads(figures.read_text()) if figures.is_file() else None, stored, writes, work / "n2",
            store.root_token)


def test_two_slices_racing_on_an_empty_vault_store_share_one_root_and_leak_no_key(vault_fleet, tmp_path):
    run, figures, stored, writes, work, token = vault_fleet
    assert run.returncode == 0, run.stdout + run.stderr
    assert "roots: 1" in run.stdout
    assert figures[0]["roots"] == 1 and figures[0]["clusters_with_a_root"] == 2

    # One version of each entry: the slice that lost the race on the root wrote no second one.
    assert sorted(stored) == ["certmesh/fleet/intermediate-c001", "certmesh/fleet/intermediate-c002",
                              "certmesh/fleet/mesh-root"]
    assert set(version for version, _data in stored.values()) == {1}
    # Both slices made a root and tried to store it; the second write was refused (cas=0), and
    # that slice went on with the winner's root.
    root_writes = [request for request in writes if request[2] == "secret/data/certmesh/fleet/mesh-root"]
    assert sorted(status for _m, _n, _p, status in root_writes) == [200, 400]
    adopted = [path.name for path in work.glob("slice-*/first.log") if "stored by a concurrent run" in path.read_text()]
    assert len(adopted) == 1

    keys = tmp_path / "stored-keys"
    keys.mkdir()
    for path, (_version, data) in stored.items():
        (keys / (path.replace("/", "-") + ".key")).write_text(data["private_key"])
    logs = "".join(path.read_text() for path in work.glob("slice-*/first.log"))
    assert "ESTABLISH LOCAL CONNECTION" in logs  # the slices ran with -vvv
    assert leaked_key_material(logs, keys) == []
    assert token not in logs
    assert list(work.glob("slice-*/tmp/certmesh-pki-*")) == []
    assert list(work.glob("slice-*/out/**/*.key")) == []
