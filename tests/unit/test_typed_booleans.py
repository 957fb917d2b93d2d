"""Every boolean of every role's argument spec is read as the typed value wherever it is used.

`-e name=false` arrives as the string "false", which Jinja treats as true: each read must go
through `| bool`, be handed whole to a boolean option of one of the collection's modules (whose
argument spec converts it), or be passed typed to a template through `template_vars`. The real
runs with every boolean given as a string are in tests/integration/render/test_input_gate.py.
"""

import importlib
import pathlib
import re

import pytest
import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# A task's name is text for people: only the Jinja expressions in it are reads.
_TASK_NAME = re.compile(r"^\s*(?:-\s+)?name:\s")
_JINJA = re.compile(r"\{\{.*?\}\}")


def _booleans():
    found = []
    for spec_file in sorted(REPO_ROOT.glob("roles/*/meta/argument_specs.yml")):
        options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options") or {}
        found.extend((spec_file.parts[-3], name) for name, spec in sorted(options.items()) if spec.get("type") == "bool")
    return found


BOOLEANS = _booleans()
_FILES = sorted(
    list(REPO_ROOT.glob("roles/*/tasks/**/*.yml"))
    + list(REPO_ROOT.glob("roles/*/vars/main.yml"))
    + list(REPO_ROOT.glob("roles/*/defaults/main.yml"))
    + list(REPO_ROOT.glob("roles/*/templates/*.j2"))
    + list(REPO_ROOT.glob("playbooks/**/*.yml")))
_MODULE_LINE = re.compile(r"^\s*(?:-\s+)?(certmesh\.istio\.\w+):\s*$")


def _bool_options(module):
    """Boolean options of one of the collection's modules, from its DOCUMENTATION."""
    plugin = importlib.import_module("ansible_collections.certmesh.istio.plugins.modules." + module.split(".")[-1])
    docs = yaml.safe_load(plugin.DOCUMENTATION)
    options = dict(docs.get("options") or {})
    for fragment in docs.get("extends_documentation_fragment") or []:
        if fragment.startswith("certmesh.istio."):
            shared = importlib.import_module("ansible_collections.certmesh.istio.plugins.doc_fragments."
                                             + fragment.split(".")[-1])
            options.update(yaml.safe_load(shared.ModuleDocFragment.DOCUMENTATION).get("options") or {})
    return {name for name, spec in options.items() if spec.get("type") == "bool"}


def _typed_in_template_vars(role, name):
    """A template gets the typed value when its role's tasks pass `name: "{{ name | bool }}"` in template_vars."""
    pattern = re.compile(r"^\s*%s:\s*\"\{\{\s*%s\s*\|\s*bool\s*\}\}\"" % (name, name), re.M)
    tasks = (REPO_ROOT / "roles" / role / "tasks")
    return any(pattern.search(path.read_text()) for path in tasks.glob("**/*.yml")) and any(
        "template_vars=" in path.read_text() for path in tasks.glob("**/*.yml"))


def raw_reads(name):
    """`file:line: text` for every read of `name` that is not typed."""
    use = re.compile(r"\b%s\b(?!\s*[:=])(?!(\s*\|\s*default\([^)]*\))?\s*\|\s*bool\b)" % re.escape(name))
    whole_option = re.compile(r"^\s*(\w+):\s*\"\{\{\s*%s\s*\}\}\"\s*$" % re.escape(name))
    found = []
    for path in _FILES:
        lines = path.read_text().splitlines()
        relative = path.relative_to(REPO_ROOT).as_posix()
        for number, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):
                continue
            if _TASK_NAME.match(line) and not any(use.search(expr) for expr in _JINJA.findall(line)):
                continue
            if not use.search(line):
                continue
            option = whole_option.match(line)
            if option:
                module = next((m.group(1) for m in map(_MODULE_LINE.match, reversed(lines[:number - 1])) if m), None)
                if module and option.group(1) in _bool_options(module):
                    continue
            if relative.startswith("roles/") and path.suffix == ".j2" and _typed_in_template_vars(path.parts[-3], name):
                continue
            found.append("%s:%d: %s" % (relative, number, line.strip()))
    return found


def test_the_walk_finds_the_booleans_of_every_role():
    roles = {role for role, _name in BOOLEANS}
    assert {"mesh_ca", "istio", "gateway_certs", "mesh_verify", "vault_pki"} <= roles
    assert len(BOOLEANS) >= 15


def test_the_check_catches_a_raw_read():
    assert re.compile(r"\bx\b(?!\s*[:=])(?!(\s*\|\s*default\([^)]*\))?\s*\|\s*bool\b)").search("when: x and y")


def test_a_task_name_that_only_mentions_a_boolean_is_not_a_read(tmp_path, monkeypatch):
    playbook = tmp_path / "playbooks" / "p.yml"
    playbook.parent.mkdir()
    playbook.write_text("- name: Watch the mesh (flag_x)\n  when: flag_x | bool\n- name: Shown {{ flag_x }}\n")
    monkeypatch.setattr(__import__(__name__), "_FILES", [playbook], raising=False)
    monkeypatch.setattr(__import__(__name__), "REPO_ROOT", tmp_path, raising=False)
    assert raw_reads("flag_x") == ["playbooks/p.yml:3: - name: Shown {{ flag_x }}"]


@pytest.mark.parametrize("role, name", BOOLEANS)
def test_every_read_of_a_boolean_is_the_typed_value(role, name):
    assert raw_reads(name) == [], "read through | bool"
