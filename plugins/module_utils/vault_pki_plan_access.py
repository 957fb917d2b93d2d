# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning of who may sign: the istio-csr PKI role, the policy cert-manager logs in with, and
Kubernetes auth for cert-manager. Part of ``vault_pki_plan`` (read, compare, plan; never write).

A mount the plan is about to create has nothing in it yet, so its objects are not read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.vault import VaultConflictError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_desired import (
    MANAGED_BY,
    duration_seconds,
    policy_matches,
    role_conflict,
    role_differences,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import VaultPkiInputError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import normalize_pem


def is_planned_mount(mounts, path):
    """True when the plan creates the mount at ``path`` (so it holds nothing yet)."""
    return bool((mounts.get(path) or {}).get('planned'))


def _data(response):
    return (response or {}).get('data') if response else None


def plan_role(session, plan, mounts):
    role = plan.desired['role']
    path = '%s/roles/%s' % (role['mount'], role['name'])
    current = None if is_planned_mount(mounts, role['mount']) else _data(session.read(path))
    want = role['settings']
    if current is not None:
        conflict = role_conflict(current, want, plan.desired['trust_domain'])
        if conflict and not plan.desired['force']:
            raise VaultConflictError(
                'the PKI role %s at %s %s; choose another role_name, or set force: true to take the role over '
                'for trust domain %s' % (path, session.where, conflict, plan.desired['trust_domain']))
        differences = role_differences(current, want)
        before = dict((k, _display(current.get(k), k)) for k in want)
    else:
        differences = want
        before = None
    after = dict((k, _display(v, k)) for k, v in want.items())
    what = ('create role %s' % path if current is None else
            'update role %s (%s)' % (path, ', '.join(sorted(differences))))
    plan.record('role %s' % path, before, after, what)
    if differences:
        capability = 'create' if current is None else 'update'
        plan.write(path, [capability], what, lambda s, ctx: s.call(
            path, capability, s.client.secrets.pki.create_or_update_role, role['name'], extra_params=dict(want),
            mount_point=role['mount']))
    plan.result['role'] = dict(after, name=role['name'], mount=role['mount'])


def plan_policy(session, plan):
    policy = plan.desired['policy']
    path = 'sys/policies/acl/%s' % policy['name']
    text = (_data(session.read(path)) or {}).get('policy')
    same = text is not None and policy_matches(text, policy['text'])
    what = '%s policy %s' % ('create' if text is None else 'update', policy['name'])
    plan.record('policy %s' % policy['name'], text, text if same else policy['text'], what)
    if not same:
        capability = 'create' if text is None else 'update'
        plan.write(path, [capability], what, lambda s, ctx: s.call(
            path, capability, s.client.sys.create_or_update_acl_policy, name=policy['name'], policy=policy['text'],
            pretty_print=False))
    plan.result['policy'] = policy['text']


def plan_kubernetes_auth(session, plan):
    spec = plan.desired['kubernetes_auth']
    mount = spec['mount']
    methods = session.call('sys/auth', 'read', session.client.sys.list_auth_methods)
    methods = methods.get('data') if isinstance(methods, dict) and isinstance(methods.get('data'), dict) else methods
    current = dict((p.rstrip('/'), i) for p, i in (methods or {}).items() if isinstance(i, dict)).get(mount)
    if current is not None and current.get('type') != 'kubernetes':
        raise VaultConflictError(
            'Vault at %s already has a %s auth method at auth/%s/: set kubernetes_auth.mount to another path '
            '(e.g. kubernetes-<cluster>), or disable the existing one if unused (vault auth disable %s)'
            % (session.where, current.get('type'), mount, mount))
    what = 'enable kubernetes auth at auth/%s/' % mount
    plan.record('auth %s/' % mount, {'type': 'kubernetes'} if current else None, {'type': 'kubernetes'}, what)
    new_mount = current is None
    if new_mount:
        description = 'cert-manager of the %s mesh (managed by %s)' % (plan.desired['trust_domain'], MANAGED_BY)
        plan.write('sys/auth/%s' % mount, ['update', 'sudo'], what, lambda s, ctx: s.call(
            'sys/auth/%s' % mount, 'sudo" and "update', s.client.sys.enable_auth_method, method_type='kubernetes',
            path=mount, description=description))
    _plan_auth_config(session, plan, spec, new_mount)
    _plan_auth_role(session, plan, spec, new_mount)
    plan.result['kubernetes_auth_role'] = dict(spec['role'], name=spec['role_name'], mount=mount,
                                               login_path='auth/%s/login' % mount)


def _plan_auth_config(session, plan, spec, new_mount):
    mount = spec['mount']
    path = 'auth/%s/config' % mount
    # an auth method enabled by a run that stopped before this write has no config yet: read as
    # "not configured", so this run configures it
    config = None if new_mount else _data(session.read(path))
    want = spec['config']
    jwt = spec['token_reviewer_jwt']
    have_view = None
    if config:
        have_view = dict((k, normalize_pem(config.get(k)) if k == 'kubernetes_ca_cert' and config.get(k)
                          else config.get(k)) for k in want)
        have_view['token_reviewer_jwt_set'] = bool(config.get('token_reviewer_jwt_set'))
    # Vault never returns the reviewer JWT, only whether one is set; a write replaces the whole
    # config, so the JWT is (re)sent on every write and compared only as set / not set.
    want_view = dict(want, token_reviewer_jwt_set=bool(jwt))
    write = have_view != want_view
    if not write and jwt and spec['update_token_reviewer_jwt'] == 'always':
        write = True
        want_view = dict(want_view, token_reviewer_jwt='(rewritten: update_token_reviewer_jwt=always)')
    what = '%s %s' % ('configure' if not config else 'update', path)
    plan.record('kubernetes auth config %s' % path, have_view, want_view, what)
    if write:
        capability = 'create' if not config else 'update'
        plan.write(path, [capability], what, lambda s, ctx: s.call(
            path, capability, s.client.auth.kubernetes.configure, kubernetes_host=want['kubernetes_host'],
            kubernetes_ca_cert=want.get('kubernetes_ca_cert'), token_reviewer_jwt=jwt,
            disable_local_ca_jwt=want['disable_local_ca_jwt'], mount_point=mount))


def _plan_auth_role(session, plan, spec, new_mount):
    path = 'auth/%s/role/%s' % (spec['mount'], spec['role_name'])
    role = None if new_mount else _data(session.read(path))
    want = spec['role']
    have_view = None
    if role is not None:
        have_view = dict((k, role.get(k)) for k in want)
        have_view['audience'] = have_view.get('audience') or ''
    same = have_view is not None and all(
        (sorted(have_view.get(k) or []) == sorted(v)) if isinstance(v, list) else have_view.get(k) == v
        for k, v in want.items())
    what = '%s kubernetes auth role %s' % ('create' if role is None else 'update', path)
    plan.record('kubernetes auth role %s' % path, have_view, have_view if same else want, what)
    if not same:
        payload = dict(want, token_ttl='%ds' % want['token_ttl'])
        capability = 'create' if role is None else 'update'
        plan.write(path, [capability], what, lambda s, ctx: s.write(path, payload, capability))


def _display(value, key):
    if key in ('ttl', 'max_ttl') and value is not None:
        try:
            return duration_seconds(value)
        except VaultPkiInputError:
            return value
    return value
