"""The Vault emulator's KV version 2 engine answers as Vault does: versions, check-and-set with
Vault's own error text, cas_required, create vs update in the ACL, deleted versions."""

import hvac.exceptions
import pytest

MOUNT = 'secret'


def _kv(vault_emulator, token=None):
    return vault_emulator.client(token).secrets.kv.v2


def test_every_write_is_a_new_version_and_reads_give_the_latest_or_the_asked_one(vault_emulator):
    kv = _kv(vault_emulator)
    assert kv.create_or_update_secret('a/b', {'n': '1'}, mount_point=MOUNT)['data']['version'] == 1
    assert kv.create_or_update_secret('a/b', {'n': '2'}, mount_point=MOUNT)['data']['version'] == 2

    latest = kv.read_secret_version('a/b', mount_point=MOUNT, raise_on_deleted_version=True)['data']
    first = kv.read_secret_version('a/b', version=1, mount_point=MOUNT, raise_on_deleted_version=True)['data']

    assert (latest['data'], latest['metadata']['version']) == ({'n': '2'}, 2)
    assert first['data'] == {'n': '1'}
    assert kv.read_secret_metadata('a/b', mount_point=MOUNT)['data']['current_version'] == 2


def test_cas_zero_writes_only_a_key_that_has_no_version_yet_in_vaults_words(vault_emulator):
    kv = _kv(vault_emulator)
    kv.create_or_update_secret('root', {'n': '1'}, cas=0, mount_point=MOUNT)

    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        kv.create_or_update_secret('root', {'n': '2'}, cas=0, mount_point=MOUNT)

    assert refused.value.errors == ['check-and-set parameter did not match the current version']
    assert kv.read_secret_version('root', mount_point=MOUNT, raise_on_deleted_version=True)['data']['data'] == {'n': '1'}


def test_cas_of_the_current_version_writes_the_next_one(vault_emulator):
    kv = _kv(vault_emulator)
    kv.create_or_update_secret('root', {'n': '1'}, cas=0, mount_point=MOUNT)

    assert kv.create_or_update_secret('root', {'n': '2'}, cas=1, mount_point=MOUNT)['data']['version'] == 2
    with pytest.raises(hvac.exceptions.InvalidRequest, match='did not match the current version'):
        kv.create_or_update_secret('root', {'n': '3'}, cas=1, mount_point=MOUNT)


@pytest.mark.parametrize('where', ['mount', 'key'])
def test_a_write_without_cas_is_refused_with_400_where_cas_is_required(vault_emulator, where):
    kv = _kv(vault_emulator)
    if where == 'mount':
        kv.configure(cas_required=True, mount_point=MOUNT)
    else:
        kv.update_metadata('root', cas_required=True, mount_point=MOUNT)

    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        kv.create_or_update_secret('root', {'n': '1'}, mount_point=MOUNT)

    assert refused.value.errors == ['check-and-set parameter required for this call']
    assert kv.create_or_update_secret('root', {'n': '1'}, cas=0, mount_point=MOUNT)['data']['version'] == 1


def test_a_write_without_data_is_refused(vault_emulator):
    with pytest.raises(hvac.exceptions.InvalidRequest, match='no data provided'):
        vault_emulator.client().adapter.post('/v1/secret/data/root', json={'options': {'cas': 0}})


def test_a_create_only_token_may_write_a_new_key_but_not_a_second_version(vault_emulator):
    token = vault_emulator.token_with_policy('store', 'path "secret/data/certmesh/*" { capabilities = ["create", "read"] }')
    kv = _kv(vault_emulator, token)
    kv.create_or_update_secret('certmesh/root', {'n': '1'}, cas=0, mount_point=MOUNT)

    # The key exists, so the write is an update: the ACL refuses it before cas is looked at.
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret('certmesh/root', {'n': '2'}, cas=0, mount_point=MOUNT)


def test_a_deleted_latest_version_reads_as_404_with_its_metadata(vault_emulator):
    kv = _kv(vault_emulator)
    kv.create_or_update_secret('root', {'n': '1'}, mount_point=MOUNT)
    kv.delete_latest_version_of_secret('root', mount_point=MOUNT)

    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version('root', mount_point=MOUNT, raise_on_deleted_version=True)
    answer = kv.read_secret_version('root', mount_point=MOUNT, raise_on_deleted_version=False)

    assert answer['data']['data'] is None and answer['data']['metadata']['deletion_time']
    kv.undelete_secret_versions('root', [1], mount_point=MOUNT)
    assert kv.read_secret_version('root', mount_point=MOUNT, raise_on_deleted_version=True)['data']['data'] == {'n': '1'}


def test_only_max_versions_versions_are_kept(vault_emulator):
    kv = _kv(vault_emulator)
    kv.update_metadata('root', max_versions=2, mount_point=MOUNT)
    for number in range(3):
        kv.create_or_update_secret('root', {'n': str(number)}, mount_point=MOUNT)

    metadata = kv.read_secret_metadata('root', mount_point=MOUNT)['data']

    assert sorted(metadata['versions']) == ['2', '3'] and metadata['oldest_version'] == 2
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version('root', version=1, mount_point=MOUNT, raise_on_deleted_version=True)


def test_listing_metadata_shows_keys_and_folders(vault_emulator):
    kv = _kv(vault_emulator)
    kv.create_or_update_secret('certmesh/prod/mesh-root', {'n': '1'}, mount_point=MOUNT)
    kv.create_or_update_secret('certmesh/top', {'n': '1'}, mount_point=MOUNT)

    assert kv.list_secrets('certmesh', mount_point=MOUNT)['data']['keys'] == ['prod/', 'top']
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets('nothing-here', mount_point=MOUNT)


def test_a_path_without_data_or_metadata_answers_vaults_invalid_path_warning(vault_emulator):
    with pytest.raises(hvac.exceptions.InvalidPath) as refused:
        vault_emulator.client().adapter.get('/v1/secret/certmesh/root')

    assert 'Invalid path for a versioned K/V secrets engine' in refused.value.json['warnings'][0]
