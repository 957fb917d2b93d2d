# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault as the mesh CA, part 1 of 4: the desired Vault objects, computed from the module
arguments alone (mounts, the istio-csr signing role, the policy that may only sign with it,
Kubernetes auth for cert-manager), and the comparisons that tell drift from a foreign object.

Pure: no Vault calls, no Ansible imports. The other parts: ``vault_pki_capabilities`` (what the
token needs), ``vault_pki_plan`` (reads Vault, plans the writes), ``vault_pki_apply`` (writes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.certmesh.istio.plugins.module_utils import input_rules
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import VaultPkiInputError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import normalize_pem

MANAGED_BY = 'certmesh.istio'

# Vault accepts these key sizes per key type (builtin/logical/pki, certutil.ValidateKeyTypeLength).
KEY_BITS = {
    'rsa': (2048, 3072, 4096, 8192),
    'ec': (224, 256, 384, 521),
    'ed25519': (0,),
    'any': (0,),
}
DEFAULT_KEY_BITS = {'rsa': 2048, 'ec': 256, 'ed25519': 0, 'any': 0}


# ---------------------------------------------------------------------------------------------
# durations

def duration_seconds(value, option='duration'):
    """Seconds of a Vault TTL ('3600', 3600, '30d', '8760h', '1h30m'): the grammar lives once, in
    :func:`input_rules.vault_ttl_seconds`; this only turns its refusal into this module's error."""
    try:
        return int(input_rules.vault_ttl_seconds(value, option))
    except input_rules.InputRuleError as exc:
        raise VaultPkiInputError(str(exc))


def go_duration(seconds):
    """Seconds as Go prints durations (what Vault echoes in messages): 3600 -> 1h0m0s."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return '%dh%dm%ds' % (hours, minutes, secs)
    if minutes:
        return '%dm%ds' % (minutes, secs)
    return '%ds' % secs


# ---------------------------------------------------------------------------------------------
# desired state (pure)

def spiffe_uri_pattern(trust_domain):
    """The only URI SANs istio-csr asks for: SPIFFE IDs of the mesh's trust domain."""
    if not trust_domain or '/' in trust_domain or ':' in trust_domain or trust_domain != trust_domain.strip():
        raise VaultPkiInputError("trust_domain %r is not a SPIFFE trust domain (a bare name such as cluster.local, "
                                 "no scheme or path)" % (trust_domain,))
    if trust_domain.lower() != trust_domain:
        raise VaultPkiInputError("trust_domain %r must be lower case (SPIFFE IDs compare trust domains "
                                 "case-insensitively; Istio uses lower case)" % trust_domain)
    return 'spiffe://%s/*' % trust_domain


def desired_role(params):
    """The PKI role istio-csr signs with: exactly what Istio workload certificates need."""
    key_type = params.get('key_type') or 'rsa'
    if key_type not in KEY_BITS:
        raise VaultPkiInputError('key_type %r: use one of %s' % (key_type, ', '.join(sorted(KEY_BITS))))
    key_bits = params.get('key_bits')
    if key_bits is None:
        key_bits = DEFAULT_KEY_BITS[key_type]
    if key_bits not in KEY_BITS[key_type]:
        raise VaultPkiInputError('key_bits %s does not fit key_type %s: Vault accepts %s'
                                 % (key_bits, key_type, ', '.join(str(b) for b in KEY_BITS[key_type])))
    max_ttl = duration_seconds(params.get('max_certificate_duration') or '1h', 'max_certificate_duration')
    if max_ttl < 60:
        raise VaultPkiInputError('max_certificate_duration %r is shorter than a minute: istio-csr would get '
                                 'certificates that expire before they are distributed'
                                 % params.get('max_certificate_duration'))
    allow_dns_sans = bool(params.get('allow_dns_sans'))
    allowed_domains = list(params.get('allowed_domains') or [])
    if allow_dns_sans and not allowed_domains:
        raise VaultPkiInputError('allow_dns_sans is true but allowed_domains is empty: list the DNS names the role '
                                 'may sign, e.g. [istiod.istio-system.svc] for the istiod serving certificate')
    if allowed_domains and not allow_dns_sans:
        raise VaultPkiInputError('allowed_domains is set but allow_dns_sans is false: set allow_dns_sans: true '
                                 'to let the role sign those DNS names, or drop allowed_domains')
    settings = {
        # istio-agent CSRs carry a SPIFFE URI SAN and no subject: without require_cn=false Vault
        # answers "the common_name field is required" and every workload stays without a cert.
        'allowed_uri_sans': [spiffe_uri_pattern(params['trust_domain'])],
        'allowed_uri_sans_template': False,
        'require_cn': False,
        'use_csr_common_name': True,
        'use_csr_sans': True,
        'allow_any_name': False,
        'allowed_domains': allowed_domains,
        'allow_bare_domains': allow_dns_sans,
        'allow_subdomains': False,
        'allow_glob_domains': False,
        'allow_wildcard_certificates': False,
        'allow_localhost': False,
        'allow_ip_sans': bool(params.get('allow_ip_sans')),
        'enforce_hostnames': True,
        'server_flag': True,
        'client_flag': True,
        'code_signing_flag': False,
        'email_protection_flag': False,
        'key_type': key_type,
        'key_bits': key_bits,
        'key_usage': ['DigitalSignature', 'KeyEncipherment'],
        'ext_key_usage': [],
        'ttl': max_ttl,
        'max_ttl': max_ttl,
        # mesh certificates live an hour: storing each one would only grow Vault's storage
        'no_store': True,
        'generate_lease': False,
    }
    return {'mount': params.get('intermediate_mount') or 'pki_int',
            'name': params.get('role_name') or 'istio-mesh',
            'settings': settings}


def issuer_path(params):
    """What cert-manager's vault ClusterIssuer puts in spec.vault.path."""
    return '%s/sign/%s' % (params.get('intermediate_mount') or 'pki_int', params.get('role_name') or 'istio-mesh')


def desired_policy(params):
    """The policy cert-manager logs in with: it may sign with the role and do nothing else."""
    name = params.get('policy_name') or 'cert-manager-%s' % (params.get('role_name') or 'istio-mesh')
    path = issuer_path(params)
    text = ('# Managed by %s: cert-manager may only sign istio-csr requests with the role %s.\n'
            'path "%s" {\n  capabilities = ["create", "update"]\n}\n' % (MANAGED_BY, path, path))
    return {'name': name, 'text': text}


def desired_kubernetes_auth(params, policy_name):
    spec = params.get('kubernetes_auth')
    if not spec or not spec.get('enabled', True):
        return None
    if not spec.get('host'):
        raise VaultPkiInputError('kubernetes_auth.host is required: the API server URL Vault calls to review '
                                 'service account tokens, e.g. https://kubernetes.default.svc:443')
    names = list(spec.get('service_account_names') or ['cert-manager'])
    namespaces = list(spec.get('service_account_namespaces') or ['cert-manager'])
    if '*' in names and '*' in namespaces:
        raise VaultPkiInputError('kubernetes_auth: service_account_names and service_account_namespaces are both '
                                 '"*": any service account in the cluster could sign mesh certificates; bind '
                                 "cert-manager's service account")
    role = {
        'bound_service_account_names': names,
        'bound_service_account_namespaces': namespaces,
        'token_policies': [policy_name],
        'token_ttl': duration_seconds(spec.get('ttl') or '20m', 'kubernetes_auth.ttl'),
        # Vault answers "" for no audience: compare the same way so a removed audience is put back
        'audience': spec.get('audience') or '',
    }
    config = {'kubernetes_host': spec['host'], 'disable_local_ca_jwt': bool(spec.get('disable_local_ca_jwt'))}
    if spec.get('ca_cert'):
        config['kubernetes_ca_cert'] = normalize_pem(spec['ca_cert'])
    return {
        'mount': (spec.get('mount') or 'kubernetes').strip('/'),
        'config': config,
        'token_reviewer_jwt': spec.get('token_reviewer_jwt'),
        'update_token_reviewer_jwt': spec.get('update_token_reviewer_jwt') or 'on_create',
        'role_name': spec.get('role_name') or 'cert-manager',
        'role': role,
    }


def desired_state(params):
    """All Vault objects the module manages, computed from its arguments alone."""
    if not params.get('trust_domain'):
        raise VaultPkiInputError('trust_domain is required (the mesh trust domain, e.g. cluster.local)')
    external = params.get('external_root') or None
    root_mount = (params.get('root_mount') or 'pki').strip('/')
    intermediate_mount = (params.get('intermediate_mount') or 'pki_int').strip('/')
    if root_mount == intermediate_mount:
        raise VaultPkiInputError('root_mount and intermediate_mount are both %r: the root and the mesh intermediate '
                                 'need separate PKI mounts' % root_mount)
    max_ttl = duration_seconds(params.get('max_certificate_duration') or '1h', 'max_certificate_duration')
    intermediate_ttl = duration_seconds(params.get('intermediate_ttl') or '43800h', 'intermediate_ttl')
    root_ttl = duration_seconds(params.get('root_ttl') or '87600h', 'root_ttl')
    if intermediate_ttl <= max_ttl:
        raise VaultPkiInputError('intermediate_ttl (%s) must be longer than max_certificate_duration (%s): Vault '
                                 'refuses to sign workload certificates that outlive the intermediate'
                                 % (go_duration(intermediate_ttl), go_duration(max_ttl)))
    ca_key_type = params.get('ca_key_type') or 'rsa'
    if ca_key_type not in ('rsa', 'ec', 'ed25519'):
        raise VaultPkiInputError('ca_key_type %r: use rsa, ec or ed25519' % ca_key_type)
    ca_key_bits = params.get('ca_key_bits')
    if ca_key_bits is None:
        ca_key_bits = DEFAULT_KEY_BITS[ca_key_type]
    if ca_key_bits not in KEY_BITS[ca_key_type]:
        raise VaultPkiInputError('ca_key_bits %s does not fit ca_key_type %s' % (ca_key_bits, ca_key_type))
    trust_domain = params['trust_domain']
    if external:
        if not external.get('certificate'):
            raise VaultPkiInputError('external_root.certificate is required: the PEM of the root that signs the '
                                     'Vault intermediate (public certificate only)')
        given = [name for name in ('mount', 'signed_intermediate', 'private_key_path') if external.get(name)]
        if len(given) > 1:
            raise VaultPkiInputError('external_root: give one of mount (a Vault PKI mount holding the root signs '
                                     'the CSR), signed_intermediate (signed offline) or private_key_path (the '
                                     'root key on the host running the module signs the CSR), not both %s'
                                     % ' and '.join(given))
        root = {'managed': False, 'mount': (external.get('mount') or '').strip('/') or None,
                'certificate': normalize_pem(external['certificate']),
                'signed_intermediate': normalize_pem(external['signed_intermediate'])
                if external.get('signed_intermediate') else None,
                'private_key_path': external.get('private_key_path') or None,
                'private_key_passphrase': external.get('private_key_passphrase') or None}
        if root['mount'] == intermediate_mount:
            raise VaultPkiInputError('external_root.mount must not be the intermediate_mount %r' % intermediate_mount)
    else:
        root = {'managed': True, 'mount': root_mount, 'max_lease_ttl': root_ttl, 'ttl': root_ttl,
                'common_name': params.get('root_common_name') or '%s Root CA' % trust_domain,
                'key_type': ca_key_type, 'key_bits': ca_key_bits}
    policy = desired_policy(params)
    return {
        'trust_domain': trust_domain,
        'root': root,
        'intermediate': {'mount': intermediate_mount, 'max_lease_ttl': intermediate_ttl, 'ttl': intermediate_ttl,
                         'common_name': params.get('intermediate_common_name')
                         or '%s Vault Intermediate CA' % trust_domain,
                         'key_type': ca_key_type, 'key_bits': ca_key_bits},
        'role': desired_role(params),
        'policy': policy,
        'kubernetes_auth': desired_kubernetes_auth(params, policy['name']),
        'issuer_path': issuer_path(params),
        'force': bool(params.get('force')),
    }


def role_differences(current, desired_settings):
    """Settings whose current value differs from the desired one: {key: (current, desired)}."""
    differences = {}
    for key, want in desired_settings.items():
        have = (current or {}).get(key)
        if isinstance(want, list):
            if sorted(have or []) != sorted(want):
                differences[key] = (have, want)
        elif key in ('ttl', 'max_ttl'):
            try:
                have_seconds = duration_seconds(have if have is not None else 0)
            except VaultPkiInputError:
                have_seconds = None
            if have_seconds != want:
                differences[key] = (have, want)
        elif have != want:
            differences[key] = (have, want)
    return differences


def role_conflict(current, desired_settings, trust_domain):
    """A role of the same name that signs SPIFFE IDs of another trust domain belongs to another
    mesh: overwriting it would cut that mesh off. Return an explanation, or None."""
    current_uris = [u for u in (current or {}).get('allowed_uri_sans') or [] if u.startswith('spiffe://')]
    if not current_uris or any(u in desired_settings['allowed_uri_sans'] for u in current_uris):
        return None
    other = sorted(set(u[len('spiffe://'):].split('/', 1)[0] for u in current_uris))
    if trust_domain in other:
        return None
    return ('allows SPIFFE IDs of trust domain(s) %s, not %s: another mesh may sign with it'
            % (', '.join(other), trust_domain))


def policy_matches(current_text, desired_text):
    def norm(text):
        return '\n'.join(line.rstrip() for line in (text or '').strip().splitlines())
    return norm(current_text) == norm(desired_text)
