"""Run ansible-playbook from the checkout the way a user does, and read its recap."""

import json
import os
import pathlib
import re
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


# Apply-mode fixtures converge and re-run against the emulator many times; a 4096-bit RSA key
# (the mesh_ca default, which the render tests keep) costs about 0.7 s to make and 0.25 s to
# load in every crypto task. Their inventories use 2048-bit CA keys: the size changes nothing
# they check.
APPLY_TEST_CA = {"mesh_ca_key_size": 2048}
MODULE_STARTUP = REPO_ROOT / "tests" / "support" / "module_startup"


def zipimport_cache():
    """Where module runs keep the code they compile from AnsiballZ payloads (module_startup/sitecustomize.py)."""
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(REPO_ROOT / ".build" / "pycache")
    return os.path.join(prefix, "zipimport")


def playbook_env(tmp_path, **extra):
    """Environment for a subprocess run: this venv's tools, the checkout as certmesh.istio, and
    module runs that compile their module_utils once per test run (module_startup/sitecustomize.py)."""
    env = dict(os.environ)
    bin_dir = str(pathlib.Path(sys.executable).parent)
    env.update(
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join(p for p in (str(MODULE_STARTUP), env.get("PYTHONPATH")) if p),
        CERTMESH_ZIPIMPORT_CACHE=zipimport_cache(),
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
