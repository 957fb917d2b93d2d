"""Fixtures for the Vault side of certmesh.istio: an in-process Vault API emulator per test."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.emulators.vault_api import VaultEmulator

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


class VaultFixture:
    """What a test needs from the emulator: its URL, the root token, and ways to narrow or break it."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.url = emulator.url
        self.root_token = emulator.root_token

    def token_with_policy(self, name, hcl, namespace=''):
        """A token holding only ``default`` and the given policy (HCL)."""
        self.emulator.put_policy(name, hcl, namespace)
        return self.emulator.create_token([name], namespace)

    def seal(self):
        self.emulator.seal()

    def unseal(self):
        self.emulator.unseal()

    def client(self, token=None, namespace=None):
        import hvac
        return hvac.Client(url=self.url, token=token or self.root_token, namespace=namespace)

    def sign_workload_csr(self, issuer_path, spiffe_id, **kwargs):
        return self.emulator.sign_workload_csr(issuer_path, spiffe_id, **kwargs)

    def writes(self):
        """Requests that could have changed state (not reads, lists, or capability look-ups)."""
        return self.emulator.state_writes()


@pytest.fixture
def vault_emulator():
    emulator = VaultEmulator()
    emulator.start('127.0.0.1', 0)  # ephemeral port: safe under pytest-xdist
    try:
        yield VaultFixture(emulator)
    finally:
        emulator.stop()


def playbook_env(tmp_path, **extra):
    env = dict(os.environ)
    for name in ('VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_CACERT', 'VAULT_SKIP_VERIFY'):
        env.pop(name, None)
    env.update(
        PATH=str(pathlib.Path(sys.executable).parent) + os.pathsep + env.get('PATH', ''),
        ANSIBLE_CONFIG=str(REPO_ROOT / 'ansible.cfg'),
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / '.build' / 'collections'),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / 'ansible-remote'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_DEPRECATION_WARNINGS='0',
        HOME=str(tmp_path),  # no stray ~/.vault-token
        TMPDIR=str(tmp_path),
    )
    env.update(extra)
    return env


@pytest.fixture
def run_playbook(tmp_path):
    """Write a playbook (list of plays) to tmp_path and run it on localhost with the venv's Python."""

    def run(plays, *args, env=None):
        path = tmp_path / 'playbook.yml'
        path.write_text(json.dumps(plays))  # JSON is YAML
        cmd = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', json.dumps({'ansible_python_interpreter': sys.executable}), str(path)] + list(args)
        return subprocess.run(cmd, cwd=str(REPO_ROOT), env=playbook_env(tmp_path, **(env or {})),
                              capture_output=True, text=True, timeout=300, check=False)

    return run
