"""What the token running vault_pki needs: the documented policy, and missing capabilities named once each."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib
import re

from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import (
    describe_missing,
    missing_capabilities,
    read_needs,
    required_rules,
)

DOC = pathlib.Path(__file__).resolve().parents[4] / 'docs' / 'modules' / 'vault_pki.md'
DEFAULTS_WITH_AUTH = {'trust_domain': 'cluster.local', 'kubernetes_auth': {'host': 'https://kubernetes.default.svc'}}


def test_the_policy_printed_in_the_docs_is_the_one_the_module_checks():
    block = DOC.read_text().split('```hcl\n', 1)[1].split('```', 1)[0]
    documented = [(path, re.findall(r'"([^"]+)"', caps))
                  for path, caps in re.findall(r'path "([^"]+)"\s*\{ capabilities = \[([^\]]*)\] \}', block)]
    assert documented == [(path, list(caps)) for path, caps in required_rules(DEFAULTS_WITH_AUTH)]


def test_reads_are_the_read_and_list_capabilities_of_the_policy():
    needs = dict(read_needs(DEFAULTS_WITH_AUTH))
    assert needs['sys/mounts'] == ['read'] and needs['pki_int/keys'] == ['list']
    assert needs['pki_int/roles/istio-mesh'] == ['read']
    assert 'pki/root/generate/internal' not in needs


def test_missing_capabilities_are_listed_once_per_path_in_order():
    granted = {'a': {'read'}, 'b': {'deny'}, 'c': {'root'}}
    needs = [('a', ['read', 'update']), ('b', ['update']), ('a', ['update', 'create']), ('c', ['sudo']),
             ('d', ['list'])]
    missing = missing_capabilities(granted, needs)
    assert missing == [('a', ['update', 'create']), ('b', ['update']), ('d', ['list'])]
    assert describe_missing(missing) == '"update" and "create" on path "a"; "update" on path "b"; "list" on path "d"'


def test_three_missing_capabilities_on_one_path_read_as_a_list():
    assert describe_missing([('x', ['create', 'read', 'update'])]) == '"create", "read" and "update" on path "x"'
