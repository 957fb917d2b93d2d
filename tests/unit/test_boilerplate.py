# -*- coding: utf-8 -*-
"""Every plugin and plugin unit test starts with the boilerplate that ansible-core 2.16's
sanity tests (future-import-boilerplate, metaclass-boilerplate) require, so a new file is
caught by pytest before the sanity matrix runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast

from tests.support.playbook import REPO_ROOT

FUTURE = {"absolute_import", "division", "print_function"}


def _python_files():
    for folder in ("plugins", "tests/unit/plugins"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path.read_text().strip():
                yield path


def _has_boilerplate(source):
    tree = ast.parse(source)
    future = set()
    metaclass = False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.update(alias.name for alias in node.names)
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__metaclass__"]:
            metaclass = isinstance(node.value, ast.Name) and node.value.id == "type"
    return FUTURE <= future and metaclass


def test_every_plugin_and_plugin_test_file_has_the_future_and_metaclass_boilerplate():
    missing = [str(path.relative_to(REPO_ROOT)) for path in _python_files() if not _has_boilerplate(path.read_text())]
    assert missing == [], "add 'from __future__ import absolute_import, division, print_function' and " \
                          "'__metaclass__ = type' after the docstring of: %s" % missing


def test_a_file_without_the_metaclass_line_is_caught():
    assert not _has_boilerplate('"""Doc."""\nfrom __future__ import absolute_import, division, print_function\n')
    assert _has_boilerplate("from __future__ import absolute_import, division, print_function\n__metaclass__ = type\n")
