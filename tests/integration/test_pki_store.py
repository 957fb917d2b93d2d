"""The shared PKI store keeps one mesh root however many control nodes write at once.

The store's module_utils run against the Kubernetes API emulator through kubernetes.core's own
client (what the pki_store module uses), so 409 AlreadyExists comes from a real create.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import kube, pki_store
from tests.support.pki_store_race import assert_every_folder_holds, local_root as _local_root, race

NAMESPACE = "certmesh-pki"
ROOT = pki_store.secret_name("prod", "mesh-root")


@pytest.fixture
def management(kube_emulator_factory):
    return kube_emulator_factory("management", crds=False, controllers=[])


def _client(cluster):
    return kube.api_client({"kubeconfig": cluster.kubeconfig, "context": cluster.context})


def test_fetch_from_an_empty_store_finds_nothing_and_writes_nothing(management, tmp_path):
    result = pki_store.fetch(_client(management), NAMESPACE, ROOT, str(tmp_path / "root"), "root-ca.crt", "root-ca.key")

    assert result == {"found": False, "written": False}
    assert not (tmp_path / "root").exists()


def test_published_root_is_fetched_by_another_control_node_with_a_private_key_file(management, tmp_path):
    root = _local_root(tmp_path / "first", "first root")
    assert pki_store.publish(_client(management), NAMESPACE, ROOT, "prod", str(tmp_path / "first"),
                             "root-ca.crt", "root-ca.key") == {"created": True, "adopted": False}

    other = tmp_path / "other"
    result = pki_store.fetch(_client(management), NAMESPACE, ROOT, str(other), "root-ca.crt", "root-ca.key")

    assert result["found"] is True
    assert (other / "root-ca.crt").read_text() == root.pem
    assert (other / "root-ca.key").read_text() == root.key_pem
    assert stat.S_IMODE(os.stat(other / "root-ca.key").st_mode) == 0o600


def test_publishing_the_stored_root_again_changes_nothing(management, tmp_path):
    _local_root(tmp_path / "first", "first root")
    args = (NAMESPACE, ROOT, "prod", str(tmp_path / "first"), "root-ca.crt", "root-ca.key")
    pki_store.publish(_client(management), *args)

    assert pki_store.publish(_client(management), *args) == {"created": False, "adopted": False}


def test_publish_in_check_mode_writes_nothing_to_the_store(management, tmp_path):
    _local_root(tmp_path / "first", "first root")
    client = _client(management)
    pki_store.publish(client, NAMESPACE, ROOT, "prod", str(tmp_path / "first"), "root-ca.crt", "root-ca.key",
                      check_mode=True)

    assert pki_store.read_entry(client, NAMESPACE, ROOT) is None


def test_two_control_nodes_racing_on_an_empty_store_end_with_one_root(management, tmp_path):
    clients = [_client(management), _client(management)]
    folders = race(tmp_path, lambda index, folder: pki_store.publish(clients[index], NAMESPACE, ROOT, "prod", folder,
                                                                     "root-ca.crt", "root-ca.key"))

    assert_every_folder_holds(folders, *pki_store.read_entry(clients[0], NAMESPACE, ROOT))


def test_a_store_secret_without_a_key_is_refused_by_name(management, tmp_path):
    client = _client(management)
    pki_store.ensure_namespace(client, NAMESPACE)
    client.create(client.resource("Secret", "v1"), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": ROOT, "namespace": NAMESPACE},
        "data": {"tls.crt": "Zm9v"}}, namespace=NAMESPACE)

    with pytest.raises(pki_store.StoreError, match="certmesh-pki/certmesh-prod-mesh-root of the PKI store holds no readable tls.crt"):
        pki_store.fetch(client, NAMESPACE, ROOT, str(tmp_path / "x"), "root-ca.crt", "root-ca.key")
