"""hvac against the Vault API emulator: it must behave like Vault where the module depends on it."""

import datetime
import json
import pathlib
import subprocess
import sys

import hvac
import hvac.exceptions
import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests.emulators.vault_api import allowed_capabilities, go_glob, make_spiffe_csr

TD = 'cluster.local'
SPIFFE = 'spiffe://cluster.local/ns/default/sa/reviews'


def _mesh_pki(client, role_settings=None, root_ttl='87600h', inter_ttl='43800h'):
    client.sys.enable_secrets_engine('pki', path='pki', config={'max_lease_ttl': root_ttl})
    root = client.secrets.pki.generate_root('internal', 'mesh root', mount_point='pki',
                                            extra_params={'ttl': root_ttl, 'key_type': 'ec', 'key_bits': 256})
    client.sys.enable_secrets_engine('pki', path='pki_int', config={'max_lease_ttl': inter_ttl})
    csr = client.secrets.pki.generate_intermediate('internal', 'mesh intermediate', mount_point='pki_int',
                                                   extra_params={'key_type': 'ec'})['data']['csr']
    signed = client.secrets.pki.sign_intermediate(csr, 'mesh intermediate', mount_point='pki',
                                                  extra_params={'ttl': inter_ttl})['data']
    client.secrets.pki.set_signed_intermediate(signed['certificate'] + '\n' + signed['issuing_ca'],
                                               mount_point='pki_int')
    settings = {'allowed_uri_sans': ['spiffe://%s/*' % TD], 'require_cn': False, 'max_ttl': '1h', 'ttl': '1h',
                'key_type': 'ec', 'key_bits': 256, 'allow_ip_sans': False, 'allow_localhost': False}
    settings.update(role_settings or {})
    client.secrets.pki.create_or_update_role('istio-mesh', extra_params=settings, mount_point='pki_int')
    return root['data']['certificate']


def test_seal_status_and_lookup_self_answer_like_vault(vault_emulator):
    client = vault_emulator.client()
    assert client.sys.read_seal_status()['sealed'] is False
    assert client.auth.token.lookup_self()['data']['policies'] == ['root']
    assert 'pki/' not in client.sys.list_mounted_secrets_engines()['data']


def test_enabling_a_mount_twice_is_refused_with_vaults_message(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='pki')
    with pytest.raises(hvac.exceptions.InvalidRequest, match='path is already in use at pki/'):
        client.sys.enable_secrets_engine('pki', path='pki')


def test_tune_read_reports_effective_ttls_in_seconds(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='pki_int')
    assert client.sys.read_mount_configuration('pki_int')['data']['max_lease_ttl'] == 768 * 3600
    client.sys.tune_mount_configuration('pki_int', max_lease_ttl='43800h')
    assert client.sys.read_mount_configuration('pki_int')['data']['max_lease_ttl'] == 43800 * 3600


def test_workload_certificate_is_real_and_verifies_to_the_mesh_root(vault_emulator):
    root_pem = _mesh_pki(vault_emulator.client())
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE)
    assert response['status'] == 200, response
    leaf = x509.load_pem_x509_certificate(response['data']['certificate'].encode())
    chain = [x509.load_pem_x509_certificate(c.encode()) for c in response['data']['ca_chain']]
    root = x509.load_pem_x509_certificate(root_pem.encode())
    assert len(leaf.subject) == 0
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical  # empty subject: RFC 5280 4.2.1.6, as Go marks it
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [SPIFFE]
    verifier = PolicyBuilder().store(Store([root])).time(datetime.datetime.now(datetime.timezone.utc)) \
        .build_client_verifier()
    verified = verifier.verify(leaf, chain[:-1])
    assert verified.chain[-1] == root
    assert 'private_key' in response and 'PRIVATE KEY' in response['private_key']


def test_sign_with_an_unknown_role_is_rejected(vault_emulator):
    _mesh_pki(vault_emulator.client())
    response = vault_emulator.sign_workload_csr('pki_int/sign/not-a-role', SPIFFE)
    assert (response['status'], response['errors']) == (400, ['unknown role: not-a-role'])


def test_uri_san_outside_the_trust_domain_is_rejected(vault_emulator):
    _mesh_pki(vault_emulator.client())
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', 'spiffe://evil.example/ns/x/sa/y')
    assert response['status'] == 400
    assert response['errors'] == ['URI Subject Alternative Names were provided via CSR which are not valid for '
                                  'this role']


def test_ttl_beyond_the_role_max_is_capped_with_vaults_warning(vault_emulator):
    _mesh_pki(vault_emulator.client())
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE, ttl='24h')
    assert response['status'] == 200
    assert response['warnings'] == ['TTL "24h0m0s" is longer than permitted maxTTL "1h0m0s", so maxTTL is being used']
    leaf = x509.load_pem_x509_certificate(response['data']['certificate'].encode())
    lifetime = leaf.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=58) < lifetime <= datetime.timedelta(hours=1)


def test_leaf_outliving_the_intermediate_is_refused_like_leaf_not_after_behavior_err(vault_emulator):
    _mesh_pki(vault_emulator.client(), role_settings={'max_ttl': '100h', 'ttl': '100h'}, inter_ttl='10h')
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE)
    assert response['status'] == 400
    assert 'beyond the expiration of the CA certificate' in response['errors'][0]


def test_csr_without_common_name_needs_require_cn_false(vault_emulator):
    _mesh_pki(vault_emulator.client(), role_settings={'require_cn': True})
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE)
    assert response['status'] == 400
    assert 'the common_name field is required' in response['errors'][0]
    assert 'unless "require_cn" is set to false' in response['errors'][0]


def test_dns_and_ip_sans_are_refused_unless_the_role_allows_them(vault_emulator):
    client = vault_emulator.client()
    _mesh_pki(client)
    _key, csr = make_spiffe_csr(SPIFFE, dns_names=['reviews.default.svc'])
    with pytest.raises(hvac.exceptions.InvalidRequest, match='subject alternate name reviews.default.svc not allowed'):
        client.secrets.pki.sign_certificate('istio-mesh', csr, '', mount_point='pki_int')
    _key, csr = make_spiffe_csr(SPIFFE, ip_addresses=['10.0.0.1'])
    with pytest.raises(hvac.exceptions.InvalidRequest, match='IP Subject Alternative Names are not allowed'):
        client.secrets.pki.sign_certificate('istio-mesh', csr, '', mount_point='pki_int')


def test_csr_key_of_another_type_than_the_role_is_refused(vault_emulator):
    _mesh_pki(vault_emulator.client())
    response = vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE, key_type='rsa')
    assert (response['status'], response['errors']) == (400, ['role requires keys of type ec'])


def test_missing_capability_is_403_permission_denied(vault_emulator):
    _mesh_pki(vault_emulator.client())
    token = vault_emulator.token_with_policy('read-only', 'path "pki_int/roles/*" { capabilities = ["read"] }')
    client = vault_emulator.client(token)
    assert client.secrets.pki.read_role('istio-mesh', mount_point='pki_int')['data']['require_cn'] is False
    with pytest.raises(hvac.exceptions.Forbidden, match='permission denied'):
        client.secrets.pki.create_or_update_role('istio-mesh', extra_params={'ttl': '2h'}, mount_point='pki_int')
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.list_mounted_secrets_engines()
    assert client.auth.token.lookup_self()['data']['policies'] == ['default', 'read-only']


def test_create_and_update_are_distinct_capabilities_for_roles(vault_emulator):
    _mesh_pki(vault_emulator.client())
    token = vault_emulator.token_with_policy('update-only', 'path "pki_int/roles/+" { capabilities = ["update"] }')
    client = vault_emulator.client(token)
    client.secrets.pki.create_or_update_role('istio-mesh', extra_params={'ttl': '30m', 'max_ttl': '1h'},
                                             mount_point='pki_int')
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.pki.create_or_update_role('new-role', mount_point='pki_int')


def test_signing_policy_allows_only_its_role(vault_emulator):
    _mesh_pki(vault_emulator.client())
    vault_emulator.client().secrets.pki.create_or_update_role('other', extra_params={'allow_any_name': True},
                                                              mount_point='pki_int')
    token = vault_emulator.token_with_policy(
        'cert-manager', 'path "pki_int/sign/istio-mesh" {\n  capabilities = ["create", "update"]\n}\n')
    assert vault_emulator.sign_workload_csr('pki_int/sign/istio-mesh', SPIFFE, token=token)['status'] == 200
    denied = vault_emulator.sign_workload_csr('pki_int/sign/other', SPIFFE, token=token)
    assert denied['status'] == 403 and 'permission denied' in denied['errors'][0]


def test_enabling_an_auth_method_needs_sudo(vault_emulator):
    token = vault_emulator.token_with_policy('no-sudo', 'path "sys/auth/*" { capabilities = ["create", "update"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        vault_emulator.client(token).sys.enable_auth_method('kubernetes')
    token = vault_emulator.token_with_policy('sudo', 'path "sys/auth/*" { capabilities = ["update", "sudo"] }')
    vault_emulator.client(token).sys.enable_auth_method('kubernetes')


def test_acl_globs_follow_vaults_priority_rules():
    policy = '''
    path "pki_int/*" { capabilities = ["read"] }
    path "pki_int/sign/+" { capabilities = ["update"] }
    path "pki_int/sign/forbidden" { capabilities = ["deny"] }
    path "secret/data/*" { capabilities = ["list"] }
    '''
    assert allowed_capabilities([policy], 'pki_int/roles/istio-mesh') == {'read'}
    assert allowed_capabilities([policy], 'pki_int/sign/istio-mesh') == {'update'}
    assert allowed_capabilities([policy], 'pki_int/sign/forbidden') == set()
    assert allowed_capabilities([policy], 'pki_int/sign/a/b') == {'read'}  # '+' is one segment only
    assert allowed_capabilities([policy], 'pki/roles/x') == set()
    assert go_glob('spiffe://cluster.local/*', 'spiffe://cluster.local/ns/a/sa/b')
    assert not go_glob('spiffe://cluster.local/*', 'spiffe://cluster.local.evil/ns/a/sa/b')


def test_sealed_vault_answers_503_vault_is_sealed(vault_emulator):
    client = vault_emulator.client()
    vault_emulator.seal()
    assert client.sys.read_seal_status()['sealed'] is True
    with pytest.raises(hvac.exceptions.VaultDown, match='Vault is sealed'):
        client.sys.list_mounted_secrets_engines()
    client.sys.submit_unseal_key(vault_emulator.emulator.unseal_key)
    assert client.sys.list_mounted_secrets_engines()


def test_namespaces_keep_their_own_mounts(vault_emulator):
    vault_emulator.client().sys.create_namespace('team-a')
    team = vault_emulator.client(namespace='team-a')
    team.sys.enable_secrets_engine('pki', path='pki_int')
    assert 'pki_int/' in team.sys.list_mounted_secrets_engines()['data']
    assert 'pki_int/' not in vault_emulator.client().sys.list_mounted_secrets_engines()['data']


def test_kubernetes_auth_config_never_returns_the_reviewer_jwt(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_auth_method('kubernetes')
    client.auth.kubernetes.configure('https://kubernetes.default.svc', token_reviewer_jwt='eyJ.secret.jwt')
    config = client.auth.kubernetes.read_config()
    assert config['token_reviewer_jwt_set'] is True
    assert 'eyJ.secret.jwt' not in json.dumps(config)
    with pytest.raises(hvac.exceptions.InvalidRequest, match='can not set both'):
        client.auth.kubernetes.create_role('x', ['*'], ['*'])


def test_command_line_serves_until_terminated(tmp_path):
    process = subprocess.Popen([sys.executable, '-m', 'tests.emulators.vault_api', '--port', '0', '--root-token', 'r'],
                               cwd=str(pathlib.Path(__file__).resolve().parents[3]),
                               stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(process.stdout.readline())
        assert hvac.Client(url=info['url'], token='r').auth.token.lookup_self()['data']['policies'] == ['root']
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_set_signed_keeps_an_existing_default_issuer_until_config_issuers_changes_it(vault_emulator):
    client = vault_emulator.client()
    _mesh_pki(client)
    before = client.read('pki_int/config/issuers')['data']['default']
    csr = client.secrets.pki.generate_intermediate('internal', 'next', mount_point='pki_int',
                                                   extra_params={'key_type': 'ec'})['data']['csr']
    signed = client.secrets.pki.sign_intermediate(csr, 'next', mount_point='pki', extra_params={'ttl': '100h'})['data']
    imported = client.secrets.pki.set_signed_intermediate(signed['certificate'], mount_point='pki_int')
    new_id = imported['data']['imported_issuers'][0]
    assert client.read('pki_int/config/issuers')['data']['default'] == before != new_id
    client.write_data('pki_int/config/issuers', data={'default': new_id})
    assert client.read('pki_int/cert/ca')['data']['certificate'].strip() == signed['certificate'].strip()


def test_capabilities_self_answers_each_path_root_or_deny(vault_emulator):
    token = vault_emulator.token_with_policy('ops', 'path "pki_int/roles/*" { capabilities = ["read", "update"] }')
    answer = vault_emulator.client(token).sys.get_capabilities(['pki_int/roles/istio-mesh', 'sys/mounts'])
    assert answer['data']['pki_int/roles/istio-mesh'] == ['read', 'update']
    assert answer['sys/mounts'] == ['deny']
    assert vault_emulator.client().sys.get_capabilities(['sys/mounts'])['data']['sys/mounts'] == ['root']
    assert vault_emulator.writes() == []  # looking is not writing


@pytest.mark.parametrize('kind, refusal', [('seal', hvac.exceptions.VaultDown), ('forbid', hvac.exceptions.Forbidden),
                                           ('revoke', hvac.exceptions.Forbidden)])
def test_an_injected_fault_fails_that_write_only_and_is_recorded(vault_emulator, kind, refusal):
    token = vault_emulator.token_with_policy('ops', 'path "sys/mounts/*" { capabilities = ["update"] }')
    client = vault_emulator.client(token)
    vault_emulator.emulator.inject_fault(kind, before_write=2)
    client.sys.enable_secrets_engine('pki', path='first')
    with pytest.raises(refusal):
        client.sys.enable_secrets_engine('pki', path='second')
    assert vault_emulator.emulator.fired == [(kind, 2, 'sys/mounts/second')]
    mounts = vault_emulator.client().sys.list_mounted_secrets_engines()['data'] if kind != 'seal' else {}
    assert 'second/' not in mounts


def test_fault_injection_refuses_what_it_cannot_mean(vault_emulator):
    for kwargs in ({'kind': 'crash', 'before_write': 1}, {'kind': 'seal'}, {'kind': 'seal', 'before_write': 1, 'path': 'x'},
                   {'kind': 'seal', 'before_write': 0}, {'kind': 'seal', 'before_write': True}):
        with pytest.raises(ValueError):
            vault_emulator.emulator.inject_fault(**kwargs)


def test_generate_existing_makes_a_csr_from_a_key_the_mount_already_holds(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='pki_int')
    first = client.secrets.pki.generate_intermediate('internal', 'x', mount_point='pki_int',
                                                     extra_params={'key_type': 'ec'})['data']
    keys = client.adapter.list('/v1/pki_int/keys')['data']
    assert keys['keys'] == [first['key_id']] and keys['key_info'][first['key_id']]['key_type'] == 'ec'
    again = client.write_data('pki_int/intermediate/generate/existing',
                              data={'key_ref': first['key_id'], 'common_name': 'x'})['data']
    csrs = [x509.load_pem_x509_csr(d['csr'].encode()) for d in (first, again)]
    assert csrs[0].public_key() == csrs[1].public_key()
    assert vault_emulator.emulator.pki('pki_int').unused_keys() == [first['key_id']]
