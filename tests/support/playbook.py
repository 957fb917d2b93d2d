"""Run ansible-playbook from the checkout the way a user does, and read its recap."""

import json
import os
import pathlib
import re
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def playbook_env(tmp_path, **extra):
    """Environment for a subprocess run: this venv's tools, the checkout as certmesh.istio."""
    env = dict(os.environ)
    bin_dir = str(pathlib.Path(sys.executable).parent)
    env.update(
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        TMPDIR=str(tmp_path),
    )
    env.update(extra)
    return env


def run_playbook(playbook, *args, extra_vars=None, tmp_path, cwd=REPO_ROOT, env=None, timeout=600):
    """Run a playbook (path relative to the checkout) and return the CompletedProcess."""
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), str(REPO_ROOT / playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    return subprocess.run(
        cmd, cwd=str(cwd), env=env or playbook_env(tmp_path), capture_output=True, text=True, timeout=timeout, check=False
    )


def recap(stdout):
    """Return {host: {ok, changed, unreachable, failed, skipped}} from the PLAY RECAP."""
    result = {}
    for host, ok, changed, unreachable, failed, skipped in _RECAP.findall(stdout):
        result[host] = dict(ok=int(ok), changed=int(changed), unreachable=int(unreachable), failed=int(failed), skipped=int(skipped))
    return result
