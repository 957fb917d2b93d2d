"""The emulator block of docs/testing.md, run as written: it once failed on its first command
that reached Helm (`CustomResourceDefinition "challenges.acme.cert-manager.io" exists and cannot
be imported into the current release`). Only two things differ from a user's shell: /tmp/kube is
the test's own folder (tests run in parallel) and site.yml writes to the test's output folder."""

import subprocess

import pytest

from tests.support.doc_commands import shell_blocks
from tests.support.playbook import REPO_ROOT, playbook_env, recap

pytestmark = pytest.mark.slow


def _emulator_block():
    blocks = [block for block in shell_blocks(REPO_ROOT / "docs" / "testing.md") if "tests.emulators.kube_api" in block]
    assert len(blocks) == 1, "docs/testing.md should have one block that starts the emulator"
    return blocks[0]


def test_the_emulator_block_of_docs_testing_runs_as_written(tmp_path):
    kube = tmp_path / "kube"
    block = _emulator_block().replace("/tmp/kube", str(kube))
    block = block.replace("playbooks/site.yml", "playbooks/site.yml -e certmesh_output_dir=%s" % (tmp_path / "out"))
    # If the block stops half-way, the emulator it started must not outlive the test.
    guarded = "set -e\ntrap 'kill \"$(cat %s/state/pid 2>/dev/null)\" 2>/dev/null || true' EXIT\n%s" % (kube, block)
    env = playbook_env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
                       XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    env.pop("KUBECONFIG", None)
    result = subprocess.run(["timeout", "600", "bash", "-c", guarded], cwd=str(REPO_ROOT), env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert recap(result.stdout)["cluster1"]["failed"] == 0
    assert (kube / "state" / "state.json").is_file(), "kill saves the emulator's state"
