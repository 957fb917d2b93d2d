"""The shared PKI store in Vault KV v2 keeps one mesh root however many control nodes write at once.

The store's module_utils and the pki_store module run against the Vault API emulator through
hvac, so the check-and-set refusal and the create-only ACL come from real requests.
"""

import os
import stat

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import pki_store, pki_store_vault, vault
from ansible_collections.certmesh.istio.plugins.modules import pki_store as pki_store_module
from tests.integration.vault.vault_module_runner import run_module
from tests.support.pki_store_race import assert_every_folder_holds, local_root as _local_root, race

MOUNT = 'secret'
ROOT = pki_store_vault.entry_path('certmesh', 'prod', 'mesh-root')
STORE_POLICY = 'path "secret/data/certmesh/prod/*" { capabilities = ["create", "read"] }'


def _session(vault_emulator, token=None):
    return vault.VaultSession(vault.resolve_connection({'url': vault_emulator.url,
                                                        'token': token or vault_emulator.root_token}, environ={}))


def test_the_entry_path_keeps_environments_apart_under_the_store_folder():
    assert ROOT == 'certmesh/prod/mesh-root'
    assert pki_store_vault.api_path(MOUNT, ROOT) == 'secret/data/certmesh/prod/mesh-root'


def test_fetch_from_an_empty_store_finds_nothing_and_writes_nothing(vault_emulator, tmp_path):
    result = pki_store_vault.fetch(_session(vault_emulator), MOUNT, ROOT, str(tmp_path / 'root'), 'root-ca.crt',
                                   'root-ca.key')

    assert result == {'found': False, 'written': False}
    assert not (tmp_path / 'root').exists()


def test_published_root_is_version_1_and_is_fetched_by_another_node_with_a_private_key_file(vault_emulator, tmp_path):
    root = _local_root(tmp_path / 'first', 'first root')
    session = _session(vault_emulator, vault_emulator.token_with_policy('store', STORE_POLICY))
    assert pki_store_vault.publish(session, MOUNT, ROOT, 'prod', str(tmp_path / 'first'), 'root-ca.crt',
                                   'root-ca.key') == {'created': True, 'adopted': False}

    other = tmp_path / 'other'
    result = pki_store_vault.fetch(session, MOUNT, ROOT, str(other), 'root-ca.crt', 'root-ca.key')

    assert result['found'] is True
    assert (other / 'root-ca.crt').read_text() == root.pem
    assert (other / 'root-ca.key').read_text() == root.key_pem
    assert stat.S_IMODE(os.stat(other / 'root-ca.key').st_mode) == 0o600
    assert stat.S_IMODE(os.stat(other).st_mode) == 0o700
    metadata = vault_emulator.client().secrets.kv.v2.read_secret_metadata(ROOT, mount_point=MOUNT)['data']
    assert metadata['current_version'] == 1


def test_publishing_the_stored_root_again_writes_nothing(vault_emulator, tmp_path):
    _local_root(tmp_path / 'first', 'first root')
    args = (MOUNT, ROOT, 'prod', str(tmp_path / 'first'), 'root-ca.crt', 'root-ca.key')
    pki_store_vault.publish(_session(vault_emulator), *args)
    writes = len(vault_emulator.writes())

    assert pki_store_vault.publish(_session(vault_emulator), *args) == {'created': False, 'adopted': False}
    assert len(vault_emulator.writes()) == writes


def test_publish_in_check_mode_writes_nothing_to_the_store(vault_emulator, tmp_path):
    _local_root(tmp_path / 'first', 'first root')
    session = _session(vault_emulator)
    pki_store_vault.publish(session, MOUNT, ROOT, 'prod', str(tmp_path / 'first'), 'root-ca.crt', 'root-ca.key',
                            check_mode=True)

    assert pki_store_vault.read_entry(session, MOUNT, ROOT) is None
    assert vault_emulator.writes() == []


@pytest.mark.parametrize('policy', ['root token', 'create and read only'])
def test_two_control_nodes_racing_on_an_empty_store_end_with_one_root(vault_emulator, tmp_path, policy):
    token = None if policy == 'root token' else vault_emulator.token_with_policy('store', STORE_POLICY)
    sessions = [_session(vault_emulator, token), _session(vault_emulator, token)]
    folders = race(tmp_path, lambda index, folder: pki_store_vault.publish(sessions[index], MOUNT, ROOT, 'prod', folder,
                                                                           'root-ca.crt', 'root-ca.key'))

    assert_every_folder_holds(folders, *pki_store_vault.read_entry(sessions[0], MOUNT, ROOT))
    kv = vault_emulator.client().secrets.kv.v2
    assert kv.read_secret_metadata(ROOT, mount_point=MOUNT)['data']['current_version'] == 1


def test_a_lost_race_is_told_apart_from_a_token_that_may_not_write(vault_emulator, tmp_path):
    _local_root(tmp_path / 'first', 'first root')
    token = vault_emulator.token_with_policy('reader', 'path "secret/data/certmesh/*" { capabilities = ["read"] }')

    with pytest.raises(vault.VaultPermissionError, match='needs the "create" capability on path '
                                                         '"secret/data/certmesh/prod/mesh-root"'):
        pki_store_vault.publish(_session(vault_emulator, token), MOUNT, ROOT, 'prod', str(tmp_path / 'first'),
                                'root-ca.crt', 'root-ca.key')


def test_a_deleted_entry_is_refused_with_the_way_back_not_replaced(vault_emulator, tmp_path):
    _local_root(tmp_path / 'first', 'first root')
    session = _session(vault_emulator)
    pki_store_vault.publish(session, MOUNT, ROOT, 'prod', str(tmp_path / 'first'), 'root-ca.crt', 'root-ca.key')
    vault_emulator.client().secrets.kv.v2.delete_latest_version_of_secret(ROOT, mount_point=MOUNT)

    with pytest.raises(pki_store.StoreError, match=r'latest version \(1\) of secret/data/certmesh/prod/mesh-root is '
                                                   r'deleted; undelete it \(vault kv undelete'):
        pki_store_vault.fetch(session, MOUNT, ROOT, str(tmp_path / 'x'), 'root-ca.crt', 'root-ca.key')


def test_an_entry_without_a_key_is_refused_by_path(vault_emulator, tmp_path):
    vault_emulator.client().secrets.kv.v2.create_or_update_secret(ROOT, {'certificate': 'x'}, mount_point=MOUNT)

    with pytest.raises(pki_store.StoreError, match='secret/data/certmesh/prod/mesh-root holds no readable certificate '
                                                   'and private_key'):
        pki_store_vault.fetch(_session(vault_emulator), MOUNT, ROOT, str(tmp_path / 'x'), 'root-ca.crt', 'root-ca.key')


def test_a_kv_version_1_mount_is_refused_because_it_ignores_check_and_set(vault_emulator, tmp_path, monkeypatch):
    # KV v1 (not emulated) takes a write to <mount>/data/... as a plain key and answers 204 with
    # no version: the store must stop there, because a second writer would overwrite the root.
    session = _session(vault_emulator)
    monkeypatch.setattr(session.client.secrets.kv.v2, 'create_or_update_secret', lambda **kwargs: None)
    _local_root(tmp_path / 'first', 'first root')

    with pytest.raises(pki_store.StoreError, match='kv1/data/certmesh/prod/mesh-root did not answer as a KV version 2 '
                                                   'engine.*vault secrets enable -path=kv1 kv-v2'):
        pki_store_vault.publish(session, 'kv1', ROOT, 'prod', str(tmp_path / 'first'), 'root-ca.crt', 'root-ca.key')


def _module_args(vault_emulator, tmp_path, **extra):
    args = dict(backend='vault', vault=dict(url=vault_emulator.url, token=vault_emulator.root_token),
                action='publish', environment='prod', entry='mesh-root', cluster='east',
                folder=str(tmp_path / 'first'), certificate_name='root-ca.crt', key_name='root-ca.key')
    args.update(extra)
    return args


def test_the_module_creates_the_entry_once_and_returns_no_key(vault_emulator, tmp_path):
    root = _local_root(tmp_path / 'first', 'first root')

    first = run_module(pki_store_module, _module_args(vault_emulator, tmp_path))
    second = run_module(pki_store_module, _module_args(vault_emulator, tmp_path))

    assert (first['changed'], first['created'], first['secret']) == (True, True, 'secret/data/certmesh/prod/mesh-root')
    assert (second['changed'], second['found'], second['created']) == (False, True, False)
    body = root.key_pem.splitlines()[1]
    assert body not in repr(first) and body not in repr(second)


def test_a_vault_error_names_the_cluster_the_vault_address_and_the_path(vault_emulator, tmp_path):
    _local_root(tmp_path / 'first', 'first root')
    vault_emulator.seal()

    result = run_module(pki_store_module, _module_args(vault_emulator, tmp_path))

    assert result['failed'] is True
    assert result['msg'].startswith('PKI store (Vault at %s, secret/data/certmesh/prod/mesh-root, cluster east): '
                                    % vault_emulator.url)
    assert 'is sealed: unseal it' in result['msg']
