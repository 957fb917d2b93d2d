"""Pure functions of certmesh.istio's Vault support: arguments in, desired Vault objects out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certmesh.istio.plugins.module_utils.vault import VaultError, resolve_connection
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import module_policy
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_desired import (
    desired_state,
    duration_seconds,
    go_duration,
    policy_matches,
    role_conflict,
    role_differences,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import VaultPkiInputError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_trust import intermediate_trust

BASE = {'trust_domain': 'cluster.local'}


def state(**extra):
    return desired_state(dict(BASE, **extra))


def test_role_allows_only_spiffe_ids_of_the_trust_domain_and_no_common_name():
    role = state()['role']
    assert (role['mount'], role['name']) == ('pki_int', 'istio-mesh')
    settings = role['settings']
    assert settings['allowed_uri_sans'] == ['spiffe://cluster.local/*']
    assert settings['require_cn'] is False
    assert settings['allow_any_name'] is False and settings['allowed_domains'] == []
    assert settings['allow_ip_sans'] is False and settings['allow_localhost'] is False
    assert settings['allowed_uri_sans_template'] is False


def test_role_max_ttl_matches_max_certificate_duration():
    settings = state(max_certificate_duration='45m')['role']['settings']
    assert settings['max_ttl'] == settings['ttl'] == 2700


def test_dns_sans_need_an_explicit_list_of_names():
    with pytest.raises(VaultPkiInputError, match='allowed_domains is empty'):
        state(allow_dns_sans=True)
    with pytest.raises(VaultPkiInputError, match='set allow_dns_sans: true'):
        state(allowed_domains=['istiod.istio-system.svc'])
    settings = state(allow_dns_sans=True, allowed_domains=['istiod.istio-system.svc'])['role']['settings']
    assert settings['allowed_domains'] == ['istiod.istio-system.svc'] and settings['allow_bare_domains'] is True
    assert settings['allow_subdomains'] is False and settings['allow_glob_domains'] is False


@pytest.mark.parametrize('key_type, key_bits, expected', [('rsa', None, 2048), ('ec', None, 256), ('ec', 384, 384),
                                                          ('any', None, 0)])
def test_key_bits_default_per_key_type(key_type, key_bits, expected):
    assert state(key_type=key_type, key_bits=key_bits)['role']['settings']['key_bits'] == expected


def test_key_bits_that_vault_would_reject_are_refused_early():
    with pytest.raises(VaultPkiInputError, match='key_bits 2048 does not fit key_type ec'):
        state(key_type='ec', key_bits=2048)


@pytest.mark.parametrize('trust_domain', ['spiffe://cluster.local', 'cluster.local/ns', 'Cluster.Local', ''])
def test_trust_domain_must_be_a_bare_lower_case_name(trust_domain):
    with pytest.raises(VaultPkiInputError):
        state(trust_domain=trust_domain)


def test_policy_may_only_sign_with_the_role():
    policy = state()['policy']
    assert policy['name'] == 'cert-manager-istio-mesh'
    assert 'path "pki_int/sign/istio-mesh" {\n  capabilities = ["create", "update"]\n}' in policy['text']
    assert policy['text'].count('path "') == 1


def test_issuer_path_is_what_the_cluster_issuer_needs():
    assert state()['issuer_path'] == 'pki_int/sign/istio-mesh'
    assert state(intermediate_mount='mesh/int', role_name='east')['issuer_path'] == 'mesh/int/sign/east'


def test_kubernetes_auth_binds_cert_managers_service_account_to_the_policy():
    auth = state(kubernetes_auth={'host': 'https://k8s:6443', 'token_reviewer_jwt': 'jwt'})['kubernetes_auth']
    assert auth['mount'] == 'kubernetes' and auth['role_name'] == 'cert-manager'
    assert auth['role'] == {'bound_service_account_names': ['cert-manager'],
                            'bound_service_account_namespaces': ['cert-manager'],
                            'token_policies': ['cert-manager-istio-mesh'], 'token_ttl': 1200, 'audience': ''}
    assert auth['config']['kubernetes_host'] == 'https://k8s:6443'


def test_kubernetes_auth_refuses_any_service_account_anywhere():
    with pytest.raises(VaultPkiInputError, match='any service account'):
        state(kubernetes_auth={'host': 'h', 'service_account_names': ['*'], 'service_account_namespaces': ['*']})


def test_kubernetes_auth_is_optional():
    assert state()['kubernetes_auth'] is None
    assert state(kubernetes_auth={'enabled': False})['kubernetes_auth'] is None


def test_root_and_intermediate_need_separate_mounts_and_lifetimes_that_fit():
    with pytest.raises(VaultPkiInputError, match='separate PKI mounts'):
        state(root_mount='pki', intermediate_mount='pki')
    with pytest.raises(VaultPkiInputError, match='must be longer than max_certificate_duration'):
        state(intermediate_ttl='1h', max_certificate_duration='1h')


def test_external_root_is_not_generated_and_takes_one_signing_flow():
    desired = state(external_root={'certificate': 'PEM', 'mount': 'corp-root'})
    assert desired['root']['managed'] is False and desired['root']['mount'] == 'corp-root'
    with pytest.raises(VaultPkiInputError, match='not both'):
        state(external_root={'certificate': 'PEM', 'mount': 'corp-root', 'signed_intermediate': 'PEM'})


@pytest.mark.parametrize('text, seconds', [('1h', 3600), ('90m', 5400), ('1h30m', 5400), ('10d', 864000),
                                           ('3600', 3600), (3600, 3600), ('87600h', 315360000)])
def test_durations_parse_like_vault(text, seconds):
    assert duration_seconds(text) == seconds


def test_bad_duration_names_the_option():
    with pytest.raises(VaultPkiInputError, match='max_certificate_duration'):
        state(max_certificate_duration='one hour')


def test_go_duration_prints_like_vault_messages():
    assert go_duration(3600) == '1h0m0s' and go_duration(90) == '1m30s'


def test_role_differences_compare_ttls_in_seconds_and_lists_as_sets():
    want = state()['role']['settings']
    current = dict(want, ttl='1h', key_usage=['KeyEncipherment', 'DigitalSignature'])
    assert role_differences(current, want) == {}
    drifted = dict(current, require_cn=True, max_ttl=86400)
    assert set(role_differences(drifted, want)) == {'require_cn', 'max_ttl'}


def test_role_of_another_trust_domain_is_a_conflict_but_drift_is_not():
    want = state()['role']['settings']
    assert role_conflict({'allowed_uri_sans': ['spiffe://payments.example/*']}, want, 'cluster.local')
    assert role_conflict({'allowed_uri_sans': ['spiffe://cluster.local/ns/*']}, want, 'cluster.local') is None
    assert role_conflict({'allowed_uri_sans': []}, want, 'cluster.local') is None


def test_policy_comparison_ignores_trailing_whitespace():
    text = state()['policy']['text']
    assert policy_matches(text.replace('\n', '  \n') + '\n\n', text)
    assert not policy_matches(text.replace('update', 'read'), text)


def test_operator_policy_grants_sudo_only_to_enable_the_auth_method():
    policy = module_policy(dict(BASE, kubernetes_auth={'host': 'h'}))
    assert policy.count('"sudo"') == 1
    assert 'path "sys/auth/kubernetes" {\n  capabilities = ["create", "update", "sudo"]' in policy
    assert 'pki/root/generate/internal' in policy
    external = module_policy(dict(BASE, external_root={'certificate': 'PEM'}))
    assert 'pki/root' not in external and 'sys/mounts/pki"' not in external


def test_connection_comes_from_arguments_then_environment_then_token_file(tmp_path):
    env = {'VAULT_ADDR': 'https://vault:8200/', 'VAULT_TOKEN': 'from-env', 'VAULT_NAMESPACE': 'team'}
    conn = resolve_connection({'token': 'from-arg'}, env)
    assert (conn['url'], conn['token'], conn['namespace'], conn['verify']) == ('https://vault:8200', 'from-arg',
                                                                               'team', True)
    assert resolve_connection({}, env)['token'] == 'from-env'
    (tmp_path / '.vault-token').write_text('from-file\n')
    conn = resolve_connection({'token_path': str(tmp_path), 'ca_cert': '/ca.pem'}, {'VAULT_ADDR': 'https://v'})
    assert (conn['token'], conn['verify']) == ('from-file', '/ca.pem')
    assert resolve_connection({'token': 't', 'url': 'https://v', 'validate_certs': False}, {})['verify'] is False
    with pytest.raises(VaultError, match='no Vault token'):
        resolve_connection({'url': 'https://v', 'token_path': str(tmp_path / 'none')}, {})
    with pytest.raises(VaultError, match='VAULT_ADDR'):
        resolve_connection({'token': 't'}, {})


# -- trust check -------------------------------------------------------------------------------

def _ca(name, issuer=None, issuer_key=None, days=365, ca=True):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_intermediate_signed_by_the_mesh_root_is_trusted():
    root_key, root = _ca('mesh root')
    _key, inter = _ca('vault intermediate', root, root_key)
    result = intermediate_trust([_pem(inter)], [_pem(root)])
    assert result['trusted'] is True and result['problems'] == []
    assert result['matched_root']['subject'] == 'CN=mesh root'
    assert [p['subject'] for p in result['path']] == ['CN=vault intermediate', 'CN=mesh root']


def test_intermediate_under_another_root_is_not_trusted_and_says_why():
    root_key, vault_root = _ca('vault root')
    _key, inter = _ca('vault intermediate', vault_root, root_key)
    _other_key, mesh_root = _ca('mesh root')
    result = intermediate_trust(_pem(inter) + _pem(vault_root), _pem(mesh_root))
    assert result['trusted'] is False and result['matched_root'] is None
    assert 'none of the 1 mesh root(s) given (CN=mesh root)' in result['problems'][0]


def test_same_name_but_different_key_is_not_trusted():
    root_key, root = _ca('mesh root')
    _key, inter = _ca('vault intermediate', root, root_key)
    _impostor_key, impostor = _ca('mesh root')
    assert intermediate_trust(_pem(inter), _pem(impostor))['trusted'] is False


def test_chain_through_a_second_intermediate_in_the_bundle_is_followed():
    root_key, root = _ca('mesh root')
    mid_key, mid = _ca('org intermediate', root, root_key)
    _key, inter = _ca('vault intermediate', mid, mid_key)
    result = intermediate_trust(_pem(inter) + _pem(mid), [_pem(root)])
    assert result['trusted'] is True and len(result['path']) == 3


def test_expired_or_non_ca_certificates_on_the_path_are_problems():
    root_key, root = _ca('mesh root')
    _key, leafish = _ca('not a ca', root, root_key, ca=False)
    result = intermediate_trust(_pem(leafish), _pem(root))
    assert result['trusted'] is False and 'not a CA certificate' in result['problems'][0]
    _key, expired = _ca('expired intermediate', root, root_key, days=-1)
    result = intermediate_trust(_pem(expired), _pem(root))
    assert result['trusted'] is False and 'expired' in result['problems'][0]


def test_empty_inputs_are_explained():
    assert 'no intermediate certificate' in intermediate_trust([], ['x'])['problems'][0]
    _key, root = _ca('mesh root')
    assert 'no mesh root' in intermediate_trust(_pem(root), [])['problems'][0]
