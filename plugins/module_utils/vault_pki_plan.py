# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault as the mesh CA, part 3 of 4: read Vault and plan the writes, without writing.

Planning is the same in check mode and in a real run: every object is read, the before/after
diff and the ``changes`` lines are recorded, and each needed write becomes a :class:`WriteStep`
naming its API path and the capabilities it needs. ``vault_pki_apply`` checks those capabilities
all at once and only then runs the steps in order. Conflicts (a mount of another type, a role of
another mesh) are raised here, so they too stop the run before the first write.

The order of the steps is chosen so that a run stopped after any one of them leaves a state the
next run completes: a mount without a CA gets one, an intermediate key without a certificate is
reused (``intermediate/generate/existing``) rather than stranded, Kubernetes auth enabled but not
configured is configured.

The PKI mounts and CAs are planned here; the role, policy and Kubernetes auth in
``vault_pki_plan_access``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import vault_pki_plan_access as access
from ansible_collections.certmesh.istio.plugins.module_utils.vault import VaultConflictError, VaultError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_desired import MANAGED_BY, go_duration
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import describe, normalize_pem, split_pem
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_signing import (
    read_root_key,
    sign_intermediate_csr,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_trust import intermediate_trust, read_ca_chain


class WriteStep:
    """One Vault write of the plan: where, with which capabilities, what it does for the operator."""

    __slots__ = ('path', 'capabilities', 'description', 'action')

    def __init__(self, path, capabilities, description, action):
        self.path = path
        self.capabilities = list(capabilities)
        self.description = description
        self.action = action  # action(session, context): the write itself


class Plan:
    """What a run found and would do: diff, change lines, ordered write steps, results."""

    def __init__(self, desired):
        self.desired = desired
        self.before = {}
        self.after = {}
        self.changes = []
        self.steps = []
        self.after_apply = []  # reads that fill results once the writes are done
        self.warnings = []
        self.result = {}
        self.context = {}  # values handed from one write step to the next (CSR, signed certificate)

    @property
    def changed(self):
        return bool(self.changes)

    def record(self, key, before, after, what):
        self.before[key] = before
        self.after[key] = after
        if before != after:
            self.changes.append(what)

    def write(self, path, capabilities, description, action):
        self.steps.append(WriteStep(path, capabilities, description, action))

    def needs(self):
        """[(path, [capability, ...])] of every planned write."""
        return [(step.path, step.capabilities) for step in self.steps]

    def diff(self):
        return {'before': self.before, 'after': self.after}


def plan_setup(session, desired):
    """Read Vault and return the :class:`Plan` that brings it to ``desired``."""
    plan = Plan(desired)
    mounts = _mounts(session)
    root = desired['root']
    if root['managed']:
        _plan_mount(session, plan, mounts, root['mount'], root['max_lease_ttl'], 'root')
        _plan_root(session, plan, mounts)
    else:
        plan.context['root_chain'] = [root['certificate']]
        if root['mount']:
            _check_external_mount(session, mounts, root['mount'])
    inter = desired['intermediate']
    _plan_mount(session, plan, mounts, inter['mount'], inter['max_lease_ttl'], 'intermediate')
    _plan_intermediate(session, plan, mounts)
    access.plan_role(session, plan, mounts)
    access.plan_policy(session, plan)
    if desired['kubernetes_auth']:
        access.plan_kubernetes_auth(session, plan)
    plan.result.update(issuer_path=desired['issuer_path'], policy_name=desired['policy']['name'],
                       changes=plan.changes)
    return plan


def _mounts(session):
    response = session.call('sys/mounts', 'read', session.client.sys.list_mounted_secrets_engines)
    data = response.get('data') if isinstance(response, dict) and isinstance(response.get('data'), dict) else response
    return dict((path.rstrip('/'), info) for path, info in (data or {}).items() if isinstance(info, dict))


def _plan_mount(session, plan, mounts, path, max_lease_ttl, purpose):
    current = mounts.get(path)
    key = 'mount %s/' % path
    want = {'type': 'pki', 'max_lease_ttl': max_lease_ttl}
    if current is not None:
        if current.get('type') != 'pki':
            raise VaultConflictError(
                'Vault at %s already has a %s secrets engine at %s/, where the %s PKI mount should be: choose '
                'another %s_mount, or remove it if it is unused (vault secrets disable %s)'
                % (session.where, current.get('type'), path, purpose, purpose, path))
        tune = session.call('sys/mounts/%s/tune' % path, 'read', session.client.sys.read_mount_configuration, path)
        tune = (tune.get('data') or tune) if isinstance(tune, dict) else {}
        have = {'type': 'pki', 'max_lease_ttl': int(tune.get('max_lease_ttl') or 0)}
        what = 'tune %s max_lease_ttl to %s' % (path, go_duration(max_lease_ttl))
        plan.record(key, have, want, what)
        if have != want:
            plan.write('sys/mounts/%s/tune' % path, ['update'], what, lambda s, ctx: s.call(
                'sys/mounts/%s/tune' % path, 'update', s.client.sys.tune_mount_configuration, path,
                max_lease_ttl='%ds' % max_lease_ttl))
        return
    what = 'enable pki at %s/' % path
    plan.record(key, None, want, what)
    description = '%s %s CA (managed by %s)' % (plan.desired['trust_domain'], purpose, MANAGED_BY)
    plan.write('sys/mounts/%s' % path, ['update'], what, lambda s, ctx: s.call(
        'sys/mounts/%s' % path, 'update', s.client.sys.enable_secrets_engine, backend_type='pki', path=path,
        description=description, config={'max_lease_ttl': '%ds' % max_lease_ttl}))
    mounts[path] = {'type': 'pki', 'planned': True}


def _check_external_mount(session, mounts, path):
    current = mounts.get(path)
    if current is None or current.get('type') != 'pki':
        raise VaultError('external_root.mount %s/ is %s at %s: give the path of the PKI mount that holds the '
                         'existing root' % (path, 'a %s mount' % current.get('type') if current else 'not mounted',
                                            session.where))
    if not session.list('%s/issuers' % path):
        raise VaultError('external_root.mount %s/ at %s has no CA certificate: import or generate the root there '
                         'first' % (path, session.where))


def _plan_root(session, plan, mounts):
    root = plan.desired['root']
    mount = root['mount']
    if not access.is_planned_mount(mounts, mount) and session.list('%s/issuers' % mount):
        chain = read_ca_chain(session, mount)
        plan.record('root CA %s/' % mount, 'present', 'present', None)
        plan.result['root_certificate'] = chain[-1] if chain else None
        plan.context['root_chain'] = chain[-1:]
        return
    what = 'generate root CA in %s/' % mount
    plan.record('root CA %s/' % mount, None, 'generated in Vault (%s, %s)' % (root['common_name'], root['key_type']),
                what)
    plan.result['root_certificate'] = None

    def generate_root(s, ctx):
        # one call makes the key and the issuer together: no key can be stranded here
        response = s.call('%s/root/generate/internal' % mount, 'update', s.client.secrets.pki.generate_root,
                          type='internal', common_name=root['common_name'], mount_point=mount,
                          extra_params={'ttl': '%ds' % root['ttl'], 'key_type': root['key_type'],
                                        'key_bits': root['key_bits'], 'issuer_name': 'mesh-root'})
        certificate = normalize_pem(response['data']['certificate'])
        plan.result['root_certificate'] = certificate
        ctx['root_chain'] = [certificate]

    plan.write('%s/root/generate/internal' % mount, ['update'], what, generate_root)


def unused_keys(session, mount, key_type):
    """Keys of a PKI mount that has no issuer yet: what an interrupted run left behind."""
    data = (session.list_response('%s/keys' % mount) or {}).get('data') or {}
    info = data.get('key_info') or {}
    return [key for key in data.get('keys') or [] if (info.get(key) or {}).get('key_type', key_type) == key_type]


def _plan_intermediate(session, plan, mounts):
    inter = plan.desired['intermediate']
    root = plan.desired['root']
    mount = inter['mount']
    key = 'intermediate CA %s/' % mount
    is_new = access.is_planned_mount(mounts, mount)
    offline = root.get('signed_intermediate') if not root['managed'] else None
    existing = [] if is_new else session.list('%s/issuers' % mount)
    plan.result.update(intermediate_certificate=None, ca_chain=[])
    if existing:
        chain = read_ca_chain(session, mount)
        plan.result.update(intermediate_certificate=chain[0] if chain else None, ca_chain=chain)
        if offline and (not chain or split_pem(offline)[0] != chain[0]):
            # a newly signed intermediate handed in (rotation of an external root's signature)
            what = 'import the signed intermediate into %s/' % mount
            plan.record(key, describe(chain), 'imported from external_root.signed_intermediate', what)
            _write_set_signed(plan, mount, lambda ctx: offline, what, make_default=True)
            return
        plan.record(key, describe(chain), describe(chain), None)
        root_chain = plan.context.get('root_chain')
        if root['managed'] and root_chain and chain:
            trust = intermediate_trust(chain, root_chain)
            if not trust['trusted']:
                plan.warnings.append(
                    'the intermediate in %s/ does not chain to the root in %s/ (%s); it is left as it is: check '
                    'it with certmesh.istio.vault_trust_check before istio-csr uses it'
                    % (mount, root['mount'], '; '.join(trust['problems'])))
        return
    if offline:
        what = 'import the signed intermediate into %s/' % mount
        plan.record(key, None, 'imported from external_root.signed_intermediate', what)
        _write_set_signed(plan, mount, lambda ctx: offline, what)
        return
    _plan_new_intermediate(session, plan, mount, [] if is_new else unused_keys(session, mount, inter['key_type']))


def _plan_new_intermediate(session, plan, mount, left_keys):
    inter = plan.desired['intermediate']
    root = plan.desired['root']
    key = 'intermediate CA %s/' % mount
    if root['mount']:
        how = 'signed by %s/' % root['mount']
    elif root.get('private_key_path'):
        how = 'signed by the external root key on the host running the module'
    else:
        how = 'CSR returned for offline signing'
    pending_only = not root['mount'] and not root.get('private_key_path')
    if left_keys and pending_only:
        # step 1 of the offline flow again: the same key, so any CSR handed out still fits
        plan.record(key, 'key in Vault, CSR awaiting an offline signature', 'key in Vault, CSR awaiting an offline '
                    'signature', None)
    elif left_keys:
        plan.record(key, None, 'generated in Vault (%s), %s' % (inter['common_name'], how),
                    'finish the intermediate CA in %s/ with the key an earlier run left there (%s)' % (mount, how))
    else:
        plan.record(key, None, 'generated in Vault (%s), %s' % (inter['common_name'], how),
                    'generate the intermediate CA in %s/ (%s)' % (mount, how))
    if left_keys:
        if len(left_keys) > 1:
            plan.warnings.append('%s/ holds %d keys and no issuer (left by earlier runs); key %s is reused, the others '
                                 'are unused' % (mount, len(left_keys), left_keys[0]))
        path = '%s/intermediate/generate/existing' % mount
        what = 'make the intermediate CSR in %s/ from the key an earlier run left there (%s)' % (mount, left_keys[0])
        extra = {'key_ref': left_keys[0]}
    else:
        path = '%s/intermediate/generate/internal' % mount
        what = 'generate the intermediate key and CSR in %s/' % mount
        extra = {'key_type': inter['key_type'], 'key_bits': inter['key_bits']}

    def generate_csr(s, ctx):
        if left_keys:
            response = s.write(path, dict(extra, common_name=inter['common_name']))
        else:
            response = s.call(path, 'update', s.client.secrets.pki.generate_intermediate, type='internal',
                              common_name=inter['common_name'], mount_point=mount, extra_params=extra)
        ctx['csr'] = response['data']['csr']
        if pending_only:
            plan.result.update(intermediate_csr=ctx['csr'], intermediate_pending=True)
            plan.warnings.append('the intermediate CSR for %s/ is in intermediate_csr: sign it with the external root '
                                 '(ttl %s, CA:TRUE) and re-run with external_root.signed_intermediate'
                                 % (mount, go_duration(inter['ttl'])))

    plan.write(path, ['update'], what, generate_csr)
    if pending_only:
        return
    if root.get('private_key_path') and not root['mount']:
        def signed(ctx):
            return sign_intermediate_csr(ctx['csr'], root['certificate'], read_root_key(root['private_key_path']),
                                         inter['ttl'], passphrase=root.get('private_key_passphrase'))
        _write_set_signed(plan, mount, signed, 'import the intermediate signed on the host running the module '
                          'into %s/' % mount)
        return
    sign_path = '%s/root/sign-intermediate' % root['mount']

    def sign(s, ctx):
        response = s.call(sign_path, 'update', s.client.secrets.pki.sign_intermediate, csr=ctx['csr'],
                          common_name=inter['common_name'], mount_point=root['mount'],
                          extra_params={'ttl': '%ds' % inter['ttl'], 'format': 'pem'})['data']
        # ca_chain of a sign response is the issuer's chain (issuing CA first), not the new cert
        ctx['root_chain'] = [normalize_pem(c) for c in (response.get('ca_chain') or [])] or \
            [normalize_pem(response['issuing_ca'])]
        ctx['signed'] = response['certificate']

    plan.write(sign_path, ['update'], 'sign the intermediate CSR with the root in %s/' % root['mount'], sign)
    _write_set_signed(plan, mount, lambda ctx: ctx['signed'], 'import the signed intermediate into %s/' % mount)


def _write_set_signed(plan, mount, certificate_of, what, make_default=False):
    """set-signed (and, when replacing, config/issuers), then read the chain back for the results."""
    path = '%s/intermediate/set-signed' % mount

    def set_signed(s, ctx):
        certificate = normalize_pem(certificate_of(ctx))
        root_chain = ctx.get('root_chain') or []
        bundle = certificate + ''.join(c for c in root_chain if c not in certificate)
        response = s.call(path, 'update', s.client.secrets.pki.set_signed_intermediate, certificate=bundle,
                          mount_point=mount)
        data = (response or {}).get('data') or {}
        # the intermediate is the first certificate of the bundle: newly imported, or already
        # there when an earlier run stopped between this write and config/issuers
        ctx['issuer'] = ((data.get('imported_issuers') or []) + (data.get('existing_issuers') or []) or [None])[0]

    plan.write(path, ['update'], what, set_signed)
    if make_default:
        # Vault keeps the old default issuer when another one is imported: without this the
        # role would go on signing with the replaced intermediate.
        config = '%s/config/issuers' % mount
        plan.write(config, ['update'], 'make the new intermediate the default issuer of %s/' % mount,
                   lambda s, ctx: ctx.get('issuer') and s.write(config, {'default': ctx['issuer']}))

    def read_back(s, ctx):
        chain = read_ca_chain(s, mount)
        plan.result.update(intermediate_certificate=chain[0] if chain else None, ca_chain=chain)

    plan.after_apply.append(read_back)
