"""certmesh.istio.vault_pki and vault_trust_check against the Vault API emulator.

The idempotence / check mode / diff / no_log behaviour runs through ansible-playbook, so the real
AnsibleModule path (argument spec, no_log masking, check and diff modes) is exercised; the error
cases run the module's main() in-process, which is the same code without the subprocess cost.
"""

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import module_policy
from ansible_collections.certmesh.istio.plugins.modules import vault_pki, vault_trust_check
from vault_module_runner import JWT, module_args, run_module  # pylint: disable=import-error

SPIFFE = 'spiffe://cluster.local/ns/bookinfo/sa/reviews'


def _mesh_root(common_name='cluster.local mesh root (cert-manager CA issuer)'):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _sign_intermediate_offline(root_key, root_cert, csr_pem, days=1825):
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.datetime.now(datetime.timezone.utc)
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(root_cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
            .sign(root_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# ------------------------------------------------------------------------------------------
# through ansible-playbook

def _task(name, args, register, **keywords):
    return dict({'name': name, 'certmesh.istio.vault_pki': args, 'register': register}, **keywords)


@pytest.mark.slow
def test_playbook_first_run_changes_second_does_not_and_check_mode_and_drift_work(
        vault_emulator, run_playbook, tmp_path):
    args = module_args(vault_emulator)
    results = tmp_path / 'results.json'
    hand_edit = {'allowed_uri_sans': ['spiffe://cluster.local/*'], 'require_cn': True, 'max_ttl': '24h',
                 'ttl': '1h', 'allow_ip_sans': True, 'key_type': 'rsa', 'key_bits': 2048}
    play = {
        'hosts': 'localhost', 'gather_facts': False,
        'tasks': [
            _task('Plan on an empty Vault', args, 'planned', check_mode=True),
            {'name': 'Marker: everything before this is check mode', 'no_log': True,
             'ansible.builtin.uri': {'url': vault_emulator.url + '/v1/sys/health'}},
            _task('First run', args, 'first'),
            _task('Second run', args, 'second'),
            {'name': 'An operator edits the role by hand', 'no_log': True,
             'ansible.builtin.uri': {'url': vault_emulator.url + '/v1/pki_int/roles/istio-mesh', 'method': 'POST',
                                     'headers': {'X-Vault-Token': vault_emulator.root_token},
                                     'body_format': 'json', 'body': hand_edit, 'status_code': [200, 204]}},
            _task('Drift seen in check mode', args, 'drift_planned', check_mode=True, diff=True),
            _task('Drift corrected', args, 'drift_corrected', diff=True),
            _task('Settled', args, 'settled'),
            {'name': 'Save results', 'ansible.builtin.copy': {
                'dest': str(results),
                'content': '{{ {"planned": planned, "first": first, "second": second, "drift_planned": '
                           'drift_planned, "drift_corrected": drift_corrected, "settled": settled} | to_json }}'}},
        ],
    }
    proc = run_playbook([play], '-vvv', '--diff')
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    r = json.loads(results.read_text())

    # check mode on an empty Vault: plans everything, writes nothing
    assert r['planned']['changed'] is True
    assert 'enable pki at pki_int/' in r['planned']['changes']
    marker = [i for i, req in enumerate(vault_emulator.emulator.requests) if req[2] == 'sys/health'][0]
    assert {req[0] for req in vault_emulator.emulator.requests[:marker] if req[2] != 'sys/capabilities-self'} \
        <= {'GET', 'LIST'}

    first, second = r['first'], r['second']
    assert first['changed'] is True and second['changed'] is False and second['changes'] == []
    assert first['issuer_path'] == 'pki_int/sign/istio-mesh'
    assert first['intermediate_certificate'].startswith('-----BEGIN CERTIFICATE-----')
    assert len(first['ca_chain']) == 2
    assert first['role']['allowed_uri_sans'] == ['spiffe://cluster.local/*']
    assert first['role']['require_cn'] is False and first['role']['max_ttl'] == 3600
    assert first['policy_name'] == 'cert-manager-istio-mesh'
    assert first['kubernetes_auth_role']['bound_service_account_names'] == ['cert-manager']
    assert second['intermediate_certificate'] == first['intermediate_certificate']

    # drift: detected in check mode with a diff, corrected, then settled
    key = 'role pki_int/roles/istio-mesh'
    planned = r['drift_planned']
    assert planned['changed'] is True
    assert planned['diff']['before'][key]['require_cn'] is True
    assert planned['diff']['after'][key]['require_cn'] is False
    assert planned['diff']['before'][key]['max_ttl'] == 86400
    assert r['drift_corrected']['changed'] is True
    assert r['settled']['changed'] is False
    role = vault_emulator.client().secrets.pki.read_role('istio-mesh', mount_point='pki_int')['data']
    assert (role['require_cn'], role['max_ttl'], role['allow_ip_sans']) == (False, 3600, False)
    assert '"require_cn": true' in output or 'require_cn: true' in output  # the diff was shown

    # nothing secret in -vvv output or in the registered results
    for text in (output, results.read_text()):
        assert vault_emulator.root_token not in text
        assert JWT not in text
        assert 'PRIVATE KEY' not in text


@pytest.mark.slow
def test_playbook_takes_vault_address_and_token_from_the_environment(vault_emulator, run_playbook):
    play = {'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'certmesh.istio.vault_pki': {'trust_domain': 'cluster.local', 'ca_key_type': 'ec'}, 'register': 'out'},
        {'ansible.builtin.assert': {'that': ['out is changed', "out.issuer_path == 'pki_int/sign/istio-mesh'"]}},
    ]}
    proc = run_playbook([play], env={'VAULT_ADDR': vault_emulator.url, 'VAULT_TOKEN': vault_emulator.root_token})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


# ------------------------------------------------------------------------------------------
# in-process: results and errors

def test_workload_certificate_from_the_role_chains_to_the_vault_root(vault_emulator):
    out = run_module(vault_pki, module_args(vault_emulator, key_type='ec'))
    assert out['changed'] is True, out
    signed = vault_emulator.sign_workload_csr(out['issuer_path'], SPIFFE, key_type='ec')
    assert signed['status'] == 200, signed
    leaf = x509.load_pem_x509_certificate(signed['data']['certificate'].encode())
    chain = [x509.load_pem_x509_certificate(c.encode()) for c in signed['data']['ca_chain']]
    root = x509.load_pem_x509_certificate(out['root_certificate'].encode())
    verifier = PolicyBuilder().store(Store([root])).build_client_verifier()
    assert verifier.verify(leaf, chain[:-1]).chain[-1] == root
    trust = run_module(vault_trust_check, {'intermediate_chain': '\n'.join(out['ca_chain']),
                                           'mesh_roots': [out['root_certificate']]})
    assert trust['trusted'] is True, trust


def test_the_documented_operator_policy_is_enough(vault_emulator):
    args = module_args(vault_emulator)
    token = vault_emulator.token_with_policy('certmesh-operator', module_policy(args))
    out = run_module(vault_pki, dict(args, token=token))
    assert out['changed'] is True, out
    assert run_module(vault_pki, dict(args, token=token))['changed'] is False


def test_missing_capability_names_the_path_and_the_capability(vault_emulator):
    args = module_args(vault_emulator)
    policy = module_policy(args).replace(
        'path "sys/policies/acl/cert-manager-istio-mesh" {\n  capabilities = ["create", "read", "update"]\n}',
        'path "sys/policies/acl/cert-manager-istio-mesh" {\n  capabilities = ["read"]\n}')
    token = vault_emulator.token_with_policy('almost', policy)
    out = run_module(vault_pki, dict(args, token=token))
    assert out['failed'] is True
    assert 'lacks 1 capability that this run needs on Vault at %s: "create" on path ' \
        '"sys/policies/acl/cert-manager-istio-mesh"' % vault_emulator.url in out['msg']
    assert out['msg'].endswith('Nothing was written to Vault in this run.')
    assert vault_emulator.writes() == []


def test_sealed_vault_says_to_unseal(vault_emulator):
    vault_emulator.seal()
    out = run_module(vault_pki, module_args(vault_emulator))
    assert out['msg'] == 'Vault at %s is sealed: unseal it (vault operator unseal) and re-run' % vault_emulator.url


def test_unreachable_vault_names_the_url_and_cause(vault_emulator):
    url = vault_emulator.url
    vault_emulator.emulator.stop()
    out = run_module(vault_pki, module_args(vault_emulator))
    assert out['msg'].startswith('cannot reach Vault at %s (connection refused)' % url)


def test_rejected_token_says_to_log_in_again(vault_emulator):
    out = run_module(vault_pki, module_args(vault_emulator, token='hvs.not-a-token'))
    assert 'does not accept the token' in out['msg'] and 'vault login' in out['msg']
    assert 'hvs.not-a-token' not in json.dumps(out)


def test_mount_of_another_type_is_refused_with_advice(vault_emulator):
    vault_emulator.client().sys.enable_secrets_engine('kv', path='pki_int', options={'version': '2'})
    out = run_module(vault_pki, module_args(vault_emulator))
    assert out['failed'] is True
    assert 'already has a kv secrets engine at pki_int/' in out['msg']
    assert 'choose another intermediate_mount' in out['msg']


def test_auth_method_of_another_type_is_refused(vault_emulator):
    vault_emulator.client().sys.enable_auth_method('approle', path='kubernetes')
    out = run_module(vault_pki, module_args(vault_emulator))
    assert 'already has a approle auth method at auth/kubernetes/' in out['msg']


def test_role_of_another_trust_domain_is_not_taken_over_without_force(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='pki_int')
    client.secrets.pki.create_or_update_role('istio-mesh', mount_point='pki_int',
                                             extra_params={'allowed_uri_sans': ['spiffe://payments.example/*']})
    out = run_module(vault_pki, module_args(vault_emulator))
    assert out['failed'] is True
    assert 'allows SPIFFE IDs of trust domain(s) payments.example, not cluster.local' in out['msg']
    assert 'force: true' in out['msg']
    assert client.secrets.pki.read_role('istio-mesh', mount_point='pki_int')['data']['allowed_uri_sans'] == \
        ['spiffe://payments.example/*']
    out = run_module(vault_pki, module_args(vault_emulator, force=True))
    assert out['changed'] is True, out
    assert client.secrets.pki.read_role('istio-mesh', mount_point='pki_int')['data']['allowed_uri_sans'] == \
        ['spiffe://cluster.local/*']


def test_impossible_arguments_fail_before_touching_vault(vault_emulator):
    out = run_module(vault_pki, module_args(vault_emulator, key_type='ec', key_bits=2048))
    assert 'key_bits 2048 does not fit key_type ec' in out['msg']
    out = run_module(vault_pki, module_args(vault_emulator, allow_dns_sans=True))
    assert 'allowed_domains is empty' in out['msg']
    assert vault_emulator.emulator.requests == []


def test_check_mode_on_an_existing_setup_reports_no_change_and_writes_nothing(vault_emulator):
    args = module_args(vault_emulator)
    run_module(vault_pki, args)
    before = len(vault_emulator.writes())
    out = run_module(vault_pki, args, check_mode=True)
    assert out['changed'] is False
    assert len(vault_emulator.writes()) == before


def test_namespace_is_used_for_every_call(vault_emulator):
    vault_emulator.emulator.create_namespace('mesh-team')
    out = run_module(vault_pki, module_args(vault_emulator, namespace='mesh-team'))
    assert out['changed'] is True, out
    assert 'pki_int/' in vault_emulator.client(namespace='mesh-team').sys.list_mounted_secrets_engines()['data']
    assert 'pki_int/' not in vault_emulator.client().sys.list_mounted_secrets_engines()['data']


def test_offline_signed_intermediate_from_the_mesh_root_passes_the_trust_check(vault_emulator):
    root_key, root_cert = _mesh_root()
    root_pem = root_cert.public_bytes(serialization.Encoding.PEM).decode()
    args = module_args(vault_emulator, external_root={'certificate': root_pem}, key_type='ec')
    step1 = run_module(vault_pki, args)
    assert step1['intermediate_pending'] is True and 'CERTIFICATE REQUEST' in step1['intermediate_csr']
    assert 'pki/' not in vault_emulator.client().sys.list_mounted_secrets_engines()['data']  # no root mount
    signed = _sign_intermediate_offline(root_key, root_cert, step1['intermediate_csr'])
    args['external_root']['signed_intermediate'] = signed
    step2 = run_module(vault_pki, args)
    assert step2['changed'] is True, step2
    assert step2['intermediate_certificate'].strip() == signed.strip()
    assert run_module(vault_pki, args)['changed'] is False

    trust = run_module(vault_trust_check, {'url': vault_emulator.url, 'token': vault_emulator.root_token,
                                           'mesh_roots': [root_pem]})
    assert trust['trusted'] is True, trust
    assert trust['matched_root']['subject'] == root_cert.subject.rfc4514_string()
    leaf = vault_emulator.sign_workload_csr(step2['issuer_path'], SPIFFE, key_type='ec')
    assert leaf['status'] == 200, leaf


def test_trust_check_refuses_a_vault_root_the_mesh_does_not_trust(vault_emulator):
    run_module(vault_pki, module_args(vault_emulator))
    _key, current_mesh_root = _mesh_root()
    mesh_pem = current_mesh_root.public_bytes(serialization.Encoding.PEM).decode()
    args = {'url': vault_emulator.url, 'token': vault_emulator.root_token, 'mesh_roots': [mesh_pem]}
    out = run_module(vault_trust_check, args)
    assert out['failed'] is True and out['trusted'] is False
    assert 'would break mTLS' in out['msg'] and 'allow_root_rotation: true' in out['msg']
    assert 'none of the 1 mesh root(s)' in out['msg']
    rotating = run_module(vault_trust_check, dict(args, allow_root_rotation=True))
    assert rotating.get('failed') is not True and rotating['trusted'] is False
    assert rotating['warnings']


def test_trust_check_accepts_a_bundle_with_both_roots(vault_emulator):
    out = run_module(vault_pki, module_args(vault_emulator))
    _key, old_root = _mesh_root('old mesh root')
    bundle = old_root.public_bytes(serialization.Encoding.PEM).decode() + out['root_certificate']
    trust = run_module(vault_trust_check, {'url': vault_emulator.url, 'token': vault_emulator.root_token,
                                           'mesh_roots': [bundle]})
    assert trust['trusted'] is True, trust


def test_trust_check_on_an_empty_mount_says_to_run_vault_pki_first(vault_emulator):
    vault_emulator.client().sys.enable_secrets_engine('pki', path='pki_int')
    _key, root = _mesh_root()
    out = run_module(vault_trust_check, {'url': vault_emulator.url, 'token': vault_emulator.root_token,
                                         'mesh_roots': [root.public_bytes(serialization.Encoding.PEM).decode()]})
    assert 'has no CA certificate yet: run certmesh.istio.vault_pki first' in out['msg'] and out['ca_missing'] is True


def test_root_in_another_vault_mount_signs_the_intermediate_and_is_left_alone(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='corp-root', config={'max_lease_ttl': '175200h'})
    root_pem = client.secrets.pki.generate_root('internal', 'Corp Root', mount_point='corp-root',
                                                extra_params={'ttl': '175200h', 'key_type': 'ec'})['data']['certificate']
    args = module_args(vault_emulator, external_root={'certificate': root_pem, 'mount': 'corp-root'})
    out = run_module(vault_pki, args)
    assert out['changed'] is True, out
    assert 'mount corp-root/' not in out['diff']['after'] and 'pki/' not in client.sys.list_mounted_secrets_engines()['data']
    assert client.sys.read_mount_configuration('corp-root')['data']['max_lease_ttl'] == 175200 * 3600
    assert run_module(vault_pki, args)['changed'] is False
    trust = run_module(vault_trust_check, {'url': vault_emulator.url, 'token': vault_emulator.root_token,
                                           'mesh_roots': [root_pem]})
    assert trust['trusted'] is True, trust


def test_a_newly_signed_offline_intermediate_replaces_the_old_one(vault_emulator):
    root_key, root_cert = _mesh_root()
    root_pem = root_cert.public_bytes(serialization.Encoding.PEM).decode()
    args = module_args(vault_emulator, external_root={'certificate': root_pem}, key_type='ec')
    csr = run_module(vault_pki, args)['intermediate_csr']
    args['external_root']['signed_intermediate'] = _sign_intermediate_offline(root_key, root_cert, csr, days=30)
    first = run_module(vault_pki, args)
    renewed = _sign_intermediate_offline(root_key, root_cert, csr, days=1825)
    args['external_root']['signed_intermediate'] = renewed
    second = run_module(vault_pki, args)
    assert second['changed'] is True and second['intermediate_certificate'].strip() == renewed.strip()
    assert second['intermediate_certificate'] != first['intermediate_certificate']
    leaf = vault_emulator.sign_workload_csr(second['issuer_path'], SPIFFE, key_type='ec')
    assert leaf['data']['issuing_ca'].strip() == renewed.strip()
    assert run_module(vault_pki, args)['changed'] is False


def test_update_token_reviewer_jwt_always_rewrites_it_on_every_run(vault_emulator):
    args = module_args(vault_emulator)
    args['kubernetes_auth'] = dict(args['kubernetes_auth'], update_token_reviewer_jwt='always')
    run_module(vault_pki, args)
    again = run_module(vault_pki, args)
    assert again['changed'] is True
    assert again['changes'] == ['update auth/kubernetes/config']
    assert JWT not in json.dumps(again)


def test_omitting_the_audience_later_removes_it(vault_emulator):
    args = module_args(vault_emulator)
    args['kubernetes_auth'] = dict(args['kubernetes_auth'], audience='vault://vault-issuer')
    run_module(vault_pki, args)
    role = vault_emulator.client().auth.kubernetes.read_role('cert-manager')
    assert role['audience'] == 'vault://vault-issuer'
    args['kubernetes_auth'].pop('audience')
    assert run_module(vault_pki, args)['changed'] is True
    assert vault_emulator.client().auth.kubernetes.read_role('cert-manager')['audience'] == ''


def test_intermediate_not_under_the_managed_root_is_left_alone_with_a_warning(vault_emulator):
    args = module_args(vault_emulator)
    first = run_module(vault_pki, args)
    client = vault_emulator.client()
    client.secrets.pki.delete_root(mount_point='pki')  # someone replaced the root by hand
    client.secrets.pki.generate_root('internal', 'another root', mount_point='pki', extra_params={'key_type': 'ec'})
    again = run_module(vault_pki, args)
    assert again['intermediate_certificate'] == first['intermediate_certificate']
    assert 'does not chain to the root in pki/' in json.dumps(again['warnings'])  # WarningSummary in 2.19
