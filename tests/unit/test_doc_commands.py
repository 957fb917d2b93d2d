"""Every shell command in the user docs is one this tree can run as written: scripts, stages,
playbooks, inventories, variables, test paths and emulator options exist. Commands that cannot
run on a machine without Galaxy, a container engine or a cluster are declared below with the
reason; anything else undeclared fails, so the docs cannot drift silently.

The emulator block of docs/testing.md (which once failed as written) runs for real in
tests/integration/test_doc_commands_run.py."""

import functools
import importlib.util
import subprocess
import sys

import pytest
import yaml

from tests.support.doc_commands import commands, doc_pages, shell_blocks
from tests.support.playbook import REPO_ROOT

# Declared: documented for the user's machine, not runnable here (no Galaxy, registry, container
# engine or cluster tools), or shell built-ins whose arguments are checked by the commands around them.
NOT_RUNNABLE_HERE = {
    "ansible-galaxy": "Galaxy is unreachable from these machines",
    "ansible-builder": "needs a container engine",
    "podman": "no container engine here",
    "sops": "not installed; encrypts rendered Secrets on the user's machine",
    "pip": "installs into the user's own environment",
    "openssl": "reads files a render writes (the render tier checks that layout)",
    "kubectl": "needs a cluster; the render tier builds the kustomize tree with kubectl kustomize",
    "flux": "Flux CLI, run against the user's cluster",
    "export": "shell built-in",
    "kill": "shell built-in",
    "mkdir": "shell built-in",
    "until": "shell loop",
    "do": "shell loop",
    "done": "shell loop",
    "sleep": "shell built-in",
    "[": "shell test",
}
PYTHONS = ("python", "python3", ".venv/bin/python")
PLAYBOOK_OPTIONS_WITH_VALUE = ("-i", "-e", "--limit", "-l", "--tags", "-t", "--skip-tags")
PLAYBOOK_FLAGS = ("--check", "-C", "--diff", "-D", "--list-tags", "--list-tasks", "--syntax-check", "-v", "-vv", "-vvv")


def _all_commands():
    found = []
    for page in doc_pages():
        for block in shell_blocks(page):
            for command in commands(block):
                while command and "=" in command[0] and not command[0].startswith(("-", ".", "/")):
                    command = command[1:]  # NAME=value prefixes
                if command:
                    found.append(pytest.param(command, id="%s: %s" % (page.relative_to(REPO_ROOT), " ".join(command)[:70])))
    return found


@functools.lru_cache(maxsize=None)
def _known_variables():
    names = set()
    for path in REPO_ROOT.glob("roles/*/defaults/main.yml"):
        names.update((yaml.safe_load(path.read_text()) or {}).keys())
    return names


def _stages():
    for line in (REPO_ROOT / "scripts" / "test").read_text().splitlines():
        if "stages:" in line:
            return line.split("stages:", 1)[1].split()
    return []


def _check_playbook(args):
    problems = []
    playbooks = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in PLAYBOOK_OPTIONS_WITH_VALUE:
            value = args[index + 1] if index + 1 < len(args) else ""
            if arg == "-i" and not (REPO_ROOT / value).exists():
                problems.append("inventory %s does not exist" % value)
            if arg == "-e" and not value.startswith("@"):
                name = value.split("=", 1)[0]
                if name not in _known_variables():
                    problems.append("-e %s: no role defines the variable %s" % (value, name))
            index += 2
            continue
        if arg.startswith("-") and arg not in PLAYBOOK_FLAGS:
            problems.append("unexpected option %s" % arg)
        elif not arg.startswith("-"):
            playbooks.append(arg)
        index += 1
    for playbook in playbooks:
        path = REPO_ROOT / ("playbooks/%s.yml" % playbook.split(".")[-1] if playbook.startswith("certmesh.istio.") else playbook)
        if not path.is_file():
            problems.append("playbook %s does not exist" % playbook)
    if not playbooks:
        problems.append("no playbook")
    return problems


@functools.lru_cache(maxsize=None)
def _emulator_options():
    result = subprocess.run([sys.executable, "-m", "tests.emulators.kube_api", "--help"], cwd=str(REPO_ROOT),
                            capture_output=True, text=True, check=False, timeout=60)
    return set(word.strip(",[]") for word in result.stdout.split() if word.startswith("--"))


def _check_python(args):
    if args[:1] == ["-m"]:
        module, rest = args[1], args[2:]
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return ["python module %s is not installed" % module]
        if module == "pytest":
            takes_value = ("-m", "-n", "-p", "--dist", "-k")
            paths = [arg for i, arg in enumerate(rest) if not arg.startswith("-") and (i == 0 or rest[i - 1] not in takes_value)]
            return ["pytest path %s does not exist" % path for path in paths if not (REPO_ROOT / path.split("::")[0]).exists()]
        if module == "tests.emulators.kube_api":
            known = _emulator_options()
            return ["the emulator has no option %s" % arg for arg in rest if arg.startswith("--") and arg not in known]
        return [] if module in ("pip", "venv") else ["python -m %s: not a module the docs are expected to run" % module]
    script = args[0] if args else ""
    return [] if (REPO_ROOT / script).is_file() else ["python script %s does not exist" % script]


def _problems(command):
    program, args = command[0], command[1:]
    if program in NOT_RUNNABLE_HERE:
        return []
    if program in (".", "source"):
        return [] if args and args[0].endswith("/bin/activate") else ["source what? %s" % args]
    if program.startswith("./scripts/"):
        path = REPO_ROOT / program
        if not path.is_file():
            return ["%s does not exist" % program]
        if program == "./scripts/test":
            return ["./scripts/test has no stage %s" % arg for arg in args if arg not in _stages()]
        return []
    if program == "ansible-playbook":
        return _check_playbook(args)
    if program == "ansible-doc":
        names = [arg for arg in args if arg.startswith("certmesh.istio.") and "<" not in arg]
        return ["no module %s" % name for name in names
                if not (REPO_ROOT / "plugins" / "modules" / (name.split(".")[-1] + ".py")).is_file()]
    if program in PYTHONS or program.endswith("/bin/python"):
        return _check_python(args)
    return ["%s is neither checked here nor declared in NOT_RUNNABLE_HERE" % program]


@pytest.mark.parametrize("command", _all_commands())
def test_a_documented_command_runs_against_this_tree(command):
    assert _problems(command) == []


def test_the_docs_have_commands_to_check():
    assert len(_all_commands()) > 20


@pytest.mark.parametrize("command, problem", [
    (["ansible-playbook", "playbooks/rotate.yml", "-e", "rotation_abort_now=true"], "no role defines"),
    (["ansible-playbook", "playbooks/nope.yml"], "does not exist"),
    (["./scripts/test", "unit"], "no stage unit"),
    (["python", "-m", "tests.emulators.kube_api", "--no-such-option"], "has no option"),
    (["python", "-m", "pytest", "tests/unit/missing_test.py"], "does not exist"),
    (["helm", "install", "x"], "neither checked"),
])
def test_a_drifted_command_is_caught(command, problem):
    assert any(problem in text for text in _problems(command)), _problems(command)
