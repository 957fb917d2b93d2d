# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault as the mesh CA, part 2 of 4: what the token running ``vault_pki`` needs, and the check
that it has it before anything is written.

One list of rules serves three readers: the policy printed in docs/modules/vault_pki.md (and
used by the tests, so the two cannot drift apart), the check before the first read, and the check
of the planned writes. Vault answers ``sys/capabilities-self`` for many paths in one call, so
every missing capability is named in one message instead of one 403 at a time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.vault import VaultPermissionError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_desired import desired_policy

READ_CAPABILITIES = ('read', 'list')


def required_rules(params):
    """[(path, [capability, ...])] the token needs for exactly these module arguments."""
    root_mount = (params.get('root_mount') or 'pki').strip('/')
    inter = (params.get('intermediate_mount') or 'pki_int').strip('/')
    external = params.get('external_root') or None
    signer = (external.get('mount') or '').strip('/') if external else root_mount
    rules = [('sys/mounts', ['read'])]
    managed_mounts = [inter] if external else [root_mount, inter]
    for mount in managed_mounts:
        rules += [('sys/mounts/%s' % mount, ['create', 'update']),
                  ('sys/mounts/%s/tune' % mount, ['read', 'update'])]
    if not external:
        rules += [('%s/root/generate/internal' % root_mount, ['update'])]
    if signer:
        rules += [('%s/issuers' % signer, ['list']), ('%s/cert/ca_chain' % signer, ['read']),
                  ('%s/root/sign-intermediate' % signer, ['update'])]
    rules += [('%s/issuers' % inter, ['list']), ('%s/cert/ca_chain' % inter, ['read']),
              # keys: an intermediate key left without a certificate by an interrupted run is
              # found and reused (generate/existing) instead of stranding it and making another
              ('%s/keys' % inter, ['list']),
              ('%s/intermediate/generate/internal' % inter, ['update']),
              ('%s/intermediate/generate/existing' % inter, ['update']),
              ('%s/intermediate/set-signed' % inter, ['update']),
              ('%s/config/issuers' % inter, ['update']),
              ('%s/roles/%s' % (inter, params.get('role_name') or 'istio-mesh'), ['create', 'read', 'update']),
              ('sys/policies/acl/%s' % desired_policy(params)['name'], ['create', 'read', 'update'])]
    spec = params.get('kubernetes_auth')
    if spec and spec.get('enabled', True):
        mount = (spec.get('mount') or 'kubernetes').strip('/')
        rules += [('sys/auth', ['read']),
                  ('sys/auth/%s' % mount, ['create', 'update', 'sudo']),
                  ('auth/%s/config' % mount, ['create', 'read', 'update']),
                  ('auth/%s/role/%s' % (mount, spec.get('role_name') or 'cert-manager'), ['create', 'read', 'update'])]
    return rules


def module_policy(params):
    """The ACL policy (HCL) the token running vault_pki needs, for exactly these arguments."""
    lines = ['# What the token running certmesh.istio.vault_pki needs (plus the default policy, for',
             '# auth/token/lookup-self and sys/capabilities-self).']
    for path, caps in required_rules(params):
        lines.append('path "%s" {\n  capabilities = [%s]\n}' % (path, ', '.join('"%s"' % c for c in caps)))
    return '\n'.join(lines) + '\n'


def read_needs(params):
    """The reads of :func:`required_rules`: what planning needs before it can say what to write."""
    needs = []
    for path, caps in required_rules(params):
        reads = [c for c in caps if c in READ_CAPABILITIES]
        if reads:
            needs.append((path, reads))
    return needs


def granted_capabilities(session, paths):
    """{path: set of capabilities} for the session's token, from one sys/capabilities-self call.

    None when the token may not ask (a token created with no_default_policy): the run then goes
    on, and a 403 is explained when it happens."""
    paths = sorted(set(paths))
    if not paths:
        return {}
    try:
        response = session.call('sys/capabilities-self', 'update', session.client.sys.get_capabilities, paths=paths)
    except VaultPermissionError:
        return None
    response = response if isinstance(response, dict) else {}
    data = response.get('data') if isinstance(response.get('data'), dict) else response
    granted = {}
    for path in paths:
        caps = data.get(path, response.get(path))
        if caps is None and len(paths) == 1:
            caps = data.get('capabilities')
        granted[path] = set(caps or ['deny'])
    return granted


def missing_capabilities(granted, needs):
    """[(path, [capability, ...])] of ``needs`` that ``granted`` lacks, each path once, in order."""
    order = []
    lacking = {}
    for path, caps in needs:
        have = granted.get(path, set())
        if 'root' in have:
            continue
        for cap in caps:
            if ('deny' in have or cap not in have) and cap not in lacking.get(path, []):
                if path not in lacking:
                    order.append(path)
                lacking.setdefault(path, []).append(cap)
    return [(path, lacking[path]) for path in order]


def describe_missing(missing):
    """'"create" on path "a"; "read", "update" and "sudo" on path "b"': every missing capability, once."""
    def words(caps):
        quoted = ['"%s"' % c for c in caps]
        return quoted[0] if len(quoted) == 1 else '%s and %s' % (', '.join(quoted[:-1]), quoted[-1])
    return '; '.join('%s on path "%s"' % (words(caps), path) for path, caps in missing)


def capability_message(session, missing, when):
    """The one message for every missing capability: who lacks what, where, and what to do."""
    policies = getattr(session, 'token_policies', None)
    count = sum(len(caps) for _path, caps in missing)
    return ('the token from %s%s lacks %d capabilit%s that %s needs on Vault at %s: %s. Add %s to one of '
            "the token's policies (docs/modules/vault_pki.md lists the whole policy for these arguments) and re-run."
            % (session.token_source, ' (policies: %s)' % ', '.join(policies) if policies else '',
               count, 'y' if count == 1 else 'ies', when, session.where, describe_missing(missing),
               'it' if count == 1 else 'them'))
