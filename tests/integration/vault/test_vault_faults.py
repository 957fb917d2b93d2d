"""Vault failing part-way through the set-up (issue 9): a seal, a 403 or a revoked token before each
write the set-up makes, in turn.

The writes are not listed here: a clean run is recorded against a fresh emulator at collection
time and every write it made becomes a case, so the test follows the code. Each case checks one
clear message (cluster, Vault address, the refused path, every missing capability, what was
already written), then that the re-run converges with no stranded key and the next run is
changed=0. The module runs in-process (tests/integration/vault/vault_module_runner.py).
"""

import functools

from cryptography import x509

from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import module_policy
from ansible_collections.certmesh.istio.plugins.modules import vault_pki
from tests.emulators.vault_api import VaultEmulator
from tests.support.pki_factory import make_root
from vault_module_runner import module_args, run_module  # pylint: disable=import-error

CLUSTER = 'east'
MESH_ROOT = make_root('cluster.local mesh root', key_type='ec')
FLOWS = ('root-in-vault', 'mesh-root-on-control-node')
KINDS = ('seal', 'forbid', 'revoke')


def _flow_args(flow, vault, key_dir):
    """Module arguments of a flow: the module's default (root generated in Vault), or the role's
    (intermediate signed by the mesh root whose key is on the control node)."""
    args = module_args(vault, cluster=CLUSTER, key_type='ec')
    if flow == 'mesh-root-on-control-node':
        key_file = key_dir / 'root-ca.key'
        if not key_file.exists():
            key_file.write_text(MESH_ROOT.key_pem)
            key_file.chmod(0o600)
        args['external_root'] = {'certificate': MESH_ROOT.pem, 'private_key_path': str(key_file)}
    return args


@functools.lru_cache(maxsize=None)
def recorded_writes(flow, key_dir):
    """The API paths a clean set-up writes, in order, from a run against a fresh emulator."""
    emulator = VaultEmulator()
    emulator.start('127.0.0.1', 0)
    try:
        out = run_module(vault_pki, _flow_args(flow, emulator, key_dir))
        assert out['changed'] is True and not out.get('failed'), out
        return tuple(path for _method, _namespace, path, _status in emulator.state_writes())
    finally:
        emulator.stop()


def pytest_generate_tests(metafunc):
    if 'write' not in metafunc.fixturenames:
        return
    key_dir = metafunc.config._tmp_path_factory.mktemp('vault-faults-keys')  # pylint: disable=protected-access
    cases, ids = [], []
    for flow in FLOWS:
        for number, path in enumerate(recorded_writes(flow, key_dir), start=1):
            for kind in KINDS:
                cases.append((flow, kind, (number, path), key_dir))
                ids.append('%s-%s-before-write-%d-%s' % (flow, kind, number, path))
    metafunc.parametrize('flow, kind, write, key_dir', cases, ids=ids)


def _operator_token(vault, args):
    """A token holding exactly the documented policy: what an operator runs the set-up with."""
    return vault.token_with_policy('certmesh-operator', module_policy(args))


def _unused_keys(vault):
    mounts = vault.client().sys.list_mounted_secrets_engines()['data']
    return dict((path, vault.emulator.pki(path).unused_keys()) for path, info in mounts.items()
                if info['type'] == 'pki' and vault.emulator.pki(path).unused_keys())


def test_a_fault_before_each_vault_write_names_it_once_and_the_rerun_converges_without_stranded_keys(
        vault_emulator, flow, kind, write, key_dir):
    number, path = write
    args = _flow_args(flow, vault_emulator, key_dir)
    args['token'] = _operator_token(vault_emulator, args)
    vault_emulator.emulator.inject_fault(kind, before_write=number)

    failed = run_module(vault_pki, args)
    message = failed['msg']
    assert failed['failed'] is True
    assert vault_emulator.emulator.fired == [(kind, number, path)]
    assert message.startswith('cluster %s: ' % CLUSTER) and message.count('cluster %s' % CLUSTER) == 1, message
    assert vault_emulator.url in message
    assert '(%s)' % path in message, message  # the write that was refused
    if kind == 'seal':
        assert 'Vault at %s is sealed' % vault_emulator.url in message
    elif kind == 'forbid':
        assert 'lacks' in message and 'on path "%s"' % path in message, message
    else:
        assert 'no longer accepts the token' in message and 'revoked or has expired' in message, message
        assert 'lacks' not in message
    assert len(failed['already_written']) == number - 1
    if number == 1:
        assert message.endswith('Nothing was written to Vault in this run.')
    else:
        assert 'Already written to Vault at %s in this run, in order: %s.' % (
            vault_emulator.url, '; '.join(failed['already_written'])) in message

    # the operator fixes the cause and runs again
    if kind == 'seal':
        vault_emulator.unseal()
    elif kind == 'forbid':
        vault_emulator.emulator.clear_faults()
    else:
        args['token'] = vault_emulator.emulator.create_token(['certmesh-operator'])
    rerun = run_module(vault_pki, args)
    assert not rerun.get('failed') and rerun['changed'] is True, rerun
    assert _unused_keys(vault_emulator) == {}
    assert len(vault_emulator.emulator.pki('pki_int').keys) == 1  # no second intermediate key
    signed = vault_emulator.sign_workload_csr(rerun['issuer_path'], 'spiffe://cluster.local/ns/shop/sa/cart', key_type='ec')
    assert signed['status'] == 200, signed
    settled = run_module(vault_pki, args)
    assert settled['changed'] is False and settled['changes'] == [], settled['changes']


# ------------------------------------------------------------------------------------------
# checked before the first write


def _policy_without(args, *paths, keep_read=False):
    """The documented policy with the rules of ``paths`` left out (or narrowed to reading)."""
    blocks = module_policy(args).split('\npath ')
    kept = [b for b in blocks if not any(b.startswith('"%s"' % p) for p in paths)]
    if keep_read:
        kept += ['"%s" {\n  capabilities = ["read"]\n}' % p for p in paths]
    return '\npath '.join(kept) + '\n'


def test_every_missing_write_capability_is_named_in_one_message_before_anything_is_written(vault_emulator):
    args = module_args(vault_emulator, cluster=CLUSTER)
    missing = ('pki_int/roles/istio-mesh', 'sys/auth/kubernetes', 'auth/kubernetes/role/cert-manager')
    args['token'] = vault_emulator.token_with_policy('partial', _policy_without(args, *missing, keep_read=True))
    out = run_module(vault_pki, args)
    assert out['failed'] is True and vault_emulator.writes() == []
    assert out['msg'].startswith('cluster east: the token from the token option (policies: default, partial) lacks 4 '
                                 'capabilities that this run needs on Vault at %s: ' % vault_emulator.url), out['msg']
    assert '"create" on path "pki_int/roles/istio-mesh"' in out['msg']
    assert '"update" and "sudo" on path "sys/auth/kubernetes"' in out['msg']  # only what the plan writes
    assert '"create" on path "auth/kubernetes/role/cert-manager"' in out['msg']
    assert out['msg'].endswith('Nothing was written to Vault in this run.')


def test_a_missing_read_capability_is_named_with_every_other_missing_one_before_any_read_or_write(vault_emulator):
    args = module_args(vault_emulator, cluster=CLUSTER)
    args['token'] = vault_emulator.token_with_policy('no-mounts', _policy_without(args, 'sys/mounts', 'sys/auth'))
    out = run_module(vault_pki, args)
    assert '"read" on path "sys/mounts"; "read" on path "sys/auth"' in out['msg'], out['msg']
    assert vault_emulator.writes() == []
    assert not [r for r in vault_emulator.emulator.requests if r[2] == 'sys/mounts']


def test_check_mode_warns_about_capabilities_a_real_run_would_lack_and_writes_nothing(vault_emulator):
    args = module_args(vault_emulator, cluster=CLUSTER)
    args['token'] = vault_emulator.token_with_policy('partial', _policy_without(args, 'pki/root/generate/internal'))
    out = run_module(vault_pki, args, check_mode=True)
    assert not out.get('failed') and out['changed'] is True
    assert 'a real run would fail' in str(out['warnings']) and 'pki/root/generate/internal' in str(out['warnings'])
    assert vault_emulator.writes() == []


# ------------------------------------------------------------------------------------------
# what an interrupted or earlier run left behind


def test_an_intermediate_key_without_its_certificate_is_reused_not_stranded(vault_emulator):
    client = vault_emulator.client()
    client.sys.enable_secrets_engine('pki', path='pki_int', config={'max_lease_ttl': '43800h'})
    client.secrets.pki.generate_intermediate('internal', 'left by a run that stopped', mount_point='pki_int',
                                             extra_params={'key_type': 'ec'})
    (left,) = vault_emulator.emulator.pki('pki_int').keys
    out = run_module(vault_pki, module_args(vault_emulator))
    assert not out.get('failed'), out
    assert list(vault_emulator.emulator.pki('pki_int').keys) == [left]
    assert 'finish the intermediate CA in pki_int/ with the key an earlier run left there (signed by pki/)' in out['changes']
    assert [r[2] for r in vault_emulator.writes()].count('pki_int/intermediate/generate/existing') == 1


def test_step_one_of_the_offline_flow_run_twice_hands_out_a_csr_of_the_same_key(vault_emulator):
    args = module_args(vault_emulator, external_root={'certificate': MESH_ROOT.pem})
    first = run_module(vault_pki, args)
    again = run_module(vault_pki, args)
    assert first['intermediate_pending'] is True and again['intermediate_pending'] is True
    assert len(vault_emulator.emulator.pki('pki_int').keys) == 1
    assert again['changed'] is False, again['changes']
    csrs = [x509.load_pem_x509_csr(r['intermediate_csr'].encode()) for r in (first, again)]
    assert csrs[0].public_key() == csrs[1].public_key()


# ------------------------------------------------------------------------------------------
# connection problems named for what they are


def test_https_to_a_plain_http_listener_is_a_protocol_mismatch_not_a_certificate_problem(vault_emulator):
    url = vault_emulator.url.replace('http://', 'https://')
    out = run_module(vault_pki, module_args(vault_emulator, url=url, cluster=CLUSTER))
    assert out['msg'].startswith('cluster east: Vault at %s answers plain HTTP where TLS was expected (protocol '
                                 'mismatch' % url), out['msg']
    assert vault_emulator.url in out['msg'] and 'ca_cert' not in out['msg']


def test_a_missing_ca_cert_file_is_named_with_its_option(vault_emulator, tmp_path):
    missing = str(tmp_path / 'vault-ca.pem')
    out = run_module(vault_pki, module_args(vault_emulator, ca_cert=missing, cluster=CLUSTER))
    assert out['msg'] == ('cluster east: the CA bundle %s (the ca_cert option) does not exist on the host running '
                          "the module: give the file that holds the CA of Vault's TLS certificate" % missing)
    assert vault_emulator.emulator.requests == []


def test_a_token_revoked_before_the_run_is_named_as_such_with_the_cluster(vault_emulator):
    token = vault_emulator.emulator.create_token(['default'])
    vault_emulator.emulator.revoke_token(token)
    out = run_module(vault_pki, module_args(vault_emulator, token=token, cluster=CLUSTER))
    assert out['msg'].startswith('cluster east: Vault at %s does not accept the token' % vault_emulator.url)
    assert 'lacks' not in out['msg']


def test_a_token_revoked_while_vault_is_read_is_named_as_such(vault_emulator, monkeypatch):
    from ansible_collections.certmesh.istio.plugins.module_utils import vault_pki_plan
    args = module_args(vault_emulator, cluster=CLUSTER)
    args['token'] = _operator_token(vault_emulator, args)
    real_mounts = vault_pki_plan._mounts  # pylint: disable=protected-access

    def revoked_then_read(session):
        vault_emulator.emulator.revoke_token(args['token'])
        return real_mounts(session)

    monkeypatch.setattr(vault_pki_plan, '_mounts', revoked_then_read)
    out = run_module(vault_pki, args)
    assert out['msg'].startswith('cluster east: Vault at %s no longer accepts the token' % vault_emulator.url), out
    assert vault_emulator.writes() == []
