"""roles/vault_pki with values typed on the command line (issue 9): ``-e name=false`` is the
string "false", which the role must read as the boolean it names.

playbooks/vault.yml in render mode (the local inventory, cluster1) against the Vault emulator.
The mesh root is made by tests/support/pki_factory.py instead of a site.yml run, to stay cheap.
"""

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import module_policy
from tests.support.pki_factory import make_root
from tests.support.playbook import playbook_env, run_playbook

pytestmark = pytest.mark.slow


@pytest.fixture
def render(tmp_path, vault_emulator):
    """Run playbooks/vault.yml in render mode with a mesh root on the control node."""
    out = tmp_path / 'out'
    root_dir = out / 'local' / 'mesh-root'
    root_dir.mkdir(parents=True)
    root = make_root('cluster.local mesh root', key_type='ec')
    root.write(root_dir / 'root-ca.crt')
    (root_dir / 'root-ca.key').write_text(root.key_pem)
    (root_dir / 'root-ca.key').chmod(0o600)

    def run(*args, token=None, **extra_vars):
        env = playbook_env(tmp_path, VAULT_ADDR=vault_emulator.url, VAULT_TOKEN=token or vault_emulator.root_token)
        for name in ('VAULT_NAMESPACE', 'VAULT_CACERT', 'VAULT_SKIP_VERIFY'):
            env.pop(name, None)
        result = run_playbook('playbooks/vault.yml', *args, extra_vars=dict(certmesh_output_dir=str(out), **extra_vars),
                              tmp_path=tmp_path, env=env)
        result.text = ' '.join((result.stdout + result.stderr).split())
        return result

    run.cluster_dir = out / 'local' / 'cluster1'
    return run


def test_allow_root_rotation_false_on_the_command_line_keeps_the_trust_guard(render, vault_emulator):
    refused = render('-e', 'vault_pki_root=vault', '-e', 'vault_pki_allow_root_rotation=false')
    assert refused.returncode != 0
    assert 'cluster cluster1: refusing to point istio-csr at Vault, and nothing was written to Vault' in refused.text, \
        refused.text[-3000:]
    mounts = vault_emulator.client().sys.list_mounted_secrets_engines()['data']
    assert 'pki/' not in mounts and 'pki_int/' not in mounts
    assert not (render.cluster_dir / 'istio_csr').exists()


def test_switch_istio_csr_false_on_the_command_line_sets_up_vault_and_leaves_istio_csr_alone(render, vault_emulator):
    # first with a token that may not write the role: one message, naming the cluster, written nothing
    args = {'trust_domain': 'cluster.local', 'external_root': {'certificate': 'x'}}
    policy = module_policy(args).replace(
        'path "pki_int/roles/istio-mesh" {\n  capabilities = ["create", "read", "update"]\n}',
        'path "pki_int/roles/istio-mesh" {\n  capabilities = ["read"]\n}')
    narrow = vault_emulator.token_with_policy('narrow', policy)
    denied = render('-e', 'vault_pki_switch_istio_csr=false', token=narrow)
    assert denied.returncode != 0
    assert ('cluster cluster1: the token from VAULT_TOKEN (policies: default, narrow) lacks 1 capability that this '
            'run needs on Vault at %s: "create" on path "pki_int/roles/istio-mesh".' % vault_emulator.url) in denied.text, \
        denied.text[-3000:]
    assert 'Nothing was written to Vault in this run.' in denied.text and vault_emulator.writes() == []

    switched_off = render('-e', 'vault_pki_switch_istio_csr=false')
    assert switched_off.returncode == 0, switched_off.text[-3000:]
    assert (render.cluster_dir / 'vault_pki' / 'clusterissuer.vault-istio-ca.yaml').exists()
    assert not (render.cluster_dir / 'istio_csr').exists()


def test_a_missing_ca_cert_file_is_refused_naming_vault_pki_ca_cert(render, vault_emulator, tmp_path):
    missing = tmp_path / 'no-such-ca.pem'
    refused = render('-e', 'vault_pki_ca_cert=%s' % missing)
    assert refused.returncode != 0
    assert ('cluster cluster1: vault_pki_ca_cert is %s, which does not exist on the control node (nothing was '
            'written to Vault)' % missing) in refused.text, refused.text[-3000:]
    assert vault_emulator.emulator.requests == []
