"""The README's contents table names every role, module, filter and playbook of the tree, so a
new one cannot be left out (it once listed 10 of 14 roles)."""

import ast
import re

import pytest

from tests.support.playbook import REPO_ROOT


def _table_row(label):
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## What is inside"):]
    row = re.search(r"^\| %s \|(.*)$" % label, section, re.M)
    assert row, "README.md: the contents table has no %s row" % label
    return set(re.findall(r"`([^`]+)`", row.group(1)))


def _filters():
    """Filter names as FilterModule.filters() declares them (a file may hold several)."""
    names = set()
    for path in (REPO_ROOT / "plugins" / "filter").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                for returned in ast.walk(node):
                    if isinstance(returned, ast.Dict):
                        names.update(key.value for key in returned.keys if isinstance(key, ast.Constant))
    return names


def _in_tree():
    return {
        "Roles": {path.name for path in (REPO_ROOT / "roles").iterdir() if (path / "tasks").is_dir()},
        "Modules": {path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__"},
        "Filters": _filters(),
        "Playbooks": {path.name for path in (REPO_ROOT / "playbooks").glob("*.yml")},
    }


@pytest.mark.parametrize("label", ["Roles", "Modules", "Filters", "Playbooks"])
def test_the_readme_names_every_item_of_the_tree(label):
    missing = sorted(_in_tree()[label] - _table_row(label))
    assert not missing, "README.md 'What is inside', %s row: add %s" % (label, ", ".join(missing))


@pytest.mark.parametrize("label", ["Roles", "Modules", "Filters"])
def test_the_readme_names_nothing_that_is_gone(label):
    stale = sorted(name for name in _table_row(label) - _in_tree()[label] if re.match(r"^\w+$", name))
    assert not stale, "README.md 'What is inside', %s row names %s, which is not in the tree" % (label, ", ".join(stale))


def test_the_filter_scan_finds_the_filters():
    assert {"x509_info", "chain_checks"} <= _filters()
