"""Preflight refuses a cluster that already pins another mesh root than the one this run holds.

That is what a split looks like from a cluster: two control nodes (AWX slices with their own
local PKI files) each made a root, and the second would move the cluster to its own island.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import pathlib
import subprocess
import sys

from cryptography.hazmat.primitives import hashes

from tests.support import pki_factory
from tests.support.playbook import REPO_ROOT as REPO, playbook_env


def _pin(cluster, root):
    client = cluster.dynamic()
    client.resources.get(api_version="v1", kind="Namespace").create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
    client.resources.get(api_version="v1", kind="Secret").create(namespace="cert-manager", body={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "istio-root-ca", "namespace": "cert-manager"},
        "data": {"ca.crt": base64.b64encode(root.pem.encode()).decode()}})


def _preflight(cluster, root_file):
    args = json.dumps({
        "cluster": "east", "kubeconfig": cluster.kubeconfig, "context": cluster.context,
        "issuer": {"name": "istio-ca", "kind": "ClusterIssuer"}, "mesh_root_certificate": str(root_file),
        "root_secret": {"name": "istio-root-ca", "namespace": "cert-manager"}, "fail_on_problem": False})
    env = playbook_env(pathlib.Path(cluster.tmpdir))
    run = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible"), "localhost", "-m", "certmesh.istio.mesh_preflight", "-a", args, "-o"],
                         cwd=str(REPO), env=env, capture_output=True, text=True, timeout=120, check=False)
    return run.stdout + run.stderr


def test_a_cluster_pinning_another_root_is_refused_with_both_fingerprints(kube_emulator, tmp_path):
    theirs = pki_factory.make_root("another control node's root", key_slot="theirs")
    ours = pki_factory.make_root("this run's root", key_slot="ours")
    _pin(kube_emulator, theirs)
    (tmp_path / "root-ca.crt").write_text(ours.pem)

    output = _preflight(kube_emulator, tmp_path / "root-ca.crt")

    assert "mesh_root_split" in output, output
    assert "cluster east already trusts mesh root" in output
    for root in (theirs, ours):
        assert root.cert.fingerprint(hashes.SHA256()).hex(":").upper() in output, output


def test_a_cluster_pinning_this_run_s_root_is_no_split(kube_emulator, tmp_path):
    ours = pki_factory.make_root("this run's root", key_slot="ours")
    _pin(kube_emulator, ours)
    (tmp_path / "root-ca.crt").write_text(ours.pem)

    assert "mesh_root_split" not in _preflight(kube_emulator, tmp_path / "root-ca.crt")
