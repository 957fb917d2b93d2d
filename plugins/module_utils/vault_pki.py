# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault as the mesh CA: desired state, reconciliation and the trust check.

Three layers, each usable alone:

* pure functions from module arguments to the desired Vault objects (mounts, the istio-csr
  signing role, the policy that may only sign with it, Kubernetes auth for cert-manager);
* :class:`VaultPkiReconciler`, which reads the current objects through hvac and writes only
  the differences, recording a before/after diff (nothing is written in check mode);
* :func:`intermediate_trust`, a pure check that the Vault intermediate chains to a root the
  workloads already trust, to run before istio-csr is pointed at Vault.

Certificate facts (fingerprint, CA flag) and the signature check come from pki.py and
chain.py; only Vault's way of handing out PEM (``ca_chain`` as one string or a list) is read here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test sanity import
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

from ansible_collections.certmesh.istio.plugins.module_utils import chain as chain_checks
from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.certmesh.istio.plugins.module_utils.vault import (
    VaultConflictError,
    VaultError,
    check_usable,
)

MANAGED_BY = 'certmesh.istio'

# Vault accepts these key sizes per key type (builtin/logical/pki, certutil.ValidateKeyTypeLength).
KEY_BITS = {
    'rsa': (2048, 3072, 4096, 8192),
    'ec': (224, 256, 384, 521),
    'ed25519': (0,),
    'any': (0,),
}
DEFAULT_KEY_BITS = {'rsa': 2048, 'ec': 256, 'ed25519': 0, 'any': 0}


class VaultPkiInputError(ValueError):
    """The module arguments cannot describe a valid Vault setup."""


# ---------------------------------------------------------------------------------------------
# durations

_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ms|s|m|h|d)')
_UNIT_SECONDS = {'ms': 0.001, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


def duration_seconds(value, option='duration'):
    """Parse a Vault/Go duration ('1h', '90m', '1h30m', '10d', '3600', 3600) into seconds."""
    if isinstance(value, bool):
        raise VaultPkiInputError('%s: %r is not a duration' % (option, value))
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise VaultPkiInputError('%s: %r is not a duration; use Vault\'s format such as 1h, 30m, 8760h or 90d'
                                 % (option, value))
    return int(total)


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
    name = params.get('policy_name') or 'cert-manager-%s' % (params.get('role_name') or 'istio-mesh')
    path = issuer_path(params)
    text = ('# Managed by %s: cert-manager may only sign istio-csr requests with the role %s.\n'
            'path "%s" {\n  capabilities = ["create", "update"]\n}\n' % (MANAGED_BY, path, path))
    return {'name': name, 'text': text}


def module_policy(params):
    """The ACL policy the token running vault_pki needs, for exactly these arguments (documented
    in docs/modules/vault_pki.md and used by the tests, so the two cannot drift apart)."""
    root_mount = (params.get('root_mount') or 'pki').strip('/')
    inter = (params.get('intermediate_mount') or 'pki_int').strip('/')
    external = params.get('external_root') or None
    signer = (external.get('mount') or '').strip('/') if external else root_mount
    rules = [('sys/mounts', ['read'])]
    managed_mounts = [inter] if external else [root_mount, inter]
    for mount in managed_mounts:
        rules += [('sys/mounts/%s' % mount, ['create', 'read', 'update']),
                  ('sys/mounts/%s/tune' % mount, ['read', 'update'])]
    if not external:
        rules += [('%s/root/generate/internal' % root_mount, ['update'])]
    if signer:
        rules += [('%s/issuers' % signer, ['list']), ('%s/cert/ca_chain' % signer, ['read']),
                  ('%s/root/sign-intermediate' % signer, ['update'])]
    rules += [('%s/issuers' % inter, ['list']), ('%s/cert/ca_chain' % inter, ['read']),
              ('%s/intermediate/generate/internal' % inter, ['update']),
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
    lines = ['# What the token running certmesh.istio.vault_pki needs (plus the default policy, for',
             '# auth/token/lookup-self).']
    for path, caps in rules:
        lines.append('path "%s" {\n  capabilities = [%s]\n}' % (path, ', '.join('"%s"' % c for c in caps)))
    return '\n'.join(lines) + '\n'


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
        config['kubernetes_ca_cert'] = _normalize_pem(spec['ca_cert'])
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
                'certificate': _normalize_pem(external['certificate']),
                'signed_intermediate': _normalize_pem(external['signed_intermediate'])
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


# ---------------------------------------------------------------------------------------------
# Vault's PEM answers

def _read_file(path):
    try:
        with open(path, 'rb') as stream:
            return stream.read()
    except (IOError, OSError) as exc:
        raise VaultPkiInputError('external_root.private_key_path %s cannot be read (%s): give the path of the root '
                                 'key on the host running the module' % (path, exc.strerror or exc))


def _normalize_pem(text):
    if text is None:
        return None
    return '\n'.join(line.strip() for line in str(text).strip().splitlines()) + '\n'


def _split_pem(text):
    blocks = re.findall(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', text or '', re.S)
    return [_normalize_pem(b) for b in blocks]


def _load_certs(pems):
    certs = []
    for pem in pems:
        for block in _split_pem(pem):
            certs.append(x509.load_pem_x509_certificate(block.encode('ascii')))
    return certs


def _summary(cert):
    return {
        'subject': cert.subject.rfc4514_string(),
        'issuer': cert.issuer.rfc4514_string(),
        'serial_number': '%x' % cert.serial_number,
        'not_after': cert.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'sha256_fingerprint': pki.fingerprint_sha256(cert),
    }


def _issued_by(child, parent):
    return child.issuer == parent.subject and chain_checks.why_not_issued_by(child, parent) is None


def sign_intermediate_csr(csr_pem, root_pem, root_key_pem, ttl_seconds, passphrase=None, now=None):
    """Sign the Vault intermediate's CSR with an external root key; return the certificate PEM.

    Vault's CSR carries no CA extensions (``add_basic_constraints`` adds only basicConstraints),
    and signers that copy CSR extensions (community.crypto's ``ownca``) would make a certificate
    that is no CA. RFC 5280 4.2.1.9/4.2.1.3: a CA certificate needs a critical basicConstraints
    with cA and a keyUsage with keyCertSign. pathlen 0 like the mesh intermediates: it signs
    workload certificates only. The lifetime is capped at the root's.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    csr = x509.load_pem_x509_csr(csr_pem.encode('ascii') if isinstance(csr_pem, str) else csr_pem)
    if not csr.is_signature_valid:
        raise VaultPkiInputError('the intermediate CSR from Vault has an invalid signature')
    root = _load_certs([root_pem])[0]
    try:
        key = serialization.load_pem_private_key(
            root_key_pem if isinstance(root_key_pem, bytes) else root_key_pem.encode('ascii'),
            password=passphrase.encode('utf-8') if passphrase else None)
    except (TypeError, ValueError):
        raise VaultPkiInputError('external_root.private_key_path: the key cannot be read (wrong or missing '
                                 'private_key_passphrase, or not a PEM private key)')
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            root.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise VaultPkiInputError('external_root.private_key_path is not the key of external_root.certificate '
                                 '("%s"): give the key of that root' % root.subject.rfc4514_string())
    not_after = min(now + datetime.timedelta(seconds=int(ttl_seconds)), root.not_valid_after_utc)
    try:
        root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(root.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
        .add_extension(aki, critical=False)
    )
    algorithm = None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode('ascii')


# ---------------------------------------------------------------------------------------------
# trust check (pure)

def intermediate_trust(intermediate_chain, mesh_roots, now=None):
    """Does the Vault intermediate chain to a root the workloads already trust?

    ``intermediate_chain``: PEM text(s), the intermediate first, then its parents as Vault
    returns them in ``ca_chain``. ``mesh_roots``: PEM text(s) of the roots in the mesh's trust
    bundle (the current root, or a bundle holding both the old and the new root).
    Returns ``{'trusted', 'intermediate', 'matched_root', 'path', 'problems'}``.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if isinstance(intermediate_chain, str):
        intermediate_chain = [intermediate_chain]
    if isinstance(mesh_roots, str):
        mesh_roots = [mesh_roots]
    chain = _load_certs(intermediate_chain)
    roots = _load_certs(mesh_roots)
    result = {'trusted': False, 'intermediate': None, 'matched_root': None, 'path': [], 'problems': []}
    if not chain:
        result['problems'].append('no intermediate certificate: the Vault intermediate mount has no CA yet')
        return result
    if not roots:
        result['problems'].append('no mesh root certificate given: pass the PEM of the root(s) workloads trust')
        return result
    result['intermediate'] = _summary(chain[0])
    root_prints = dict((pki.fingerprint_sha256(r), r) for r in roots)
    current = chain[0]
    path = [current]
    matched = None
    while len(path) <= 10:
        if pki.fingerprint_sha256(current) in root_prints:
            matched = current
            break
        parent = next((r for r in roots if _issued_by(current, r)), None)
        if parent is not None:
            matched = parent
            path.append(parent)
            break
        parent = next((c for c in chain if c is not current and c not in path and _issued_by(current, c)), None)
        if parent is None:
            result['problems'].append(
                'the chain ends at "%s", issued by "%s", which is none of the %d mesh root(s) given (%s): workloads '
                'would reject certificates from this intermediate' % (
                    current.subject.rfc4514_string(), current.issuer.rfc4514_string(), len(roots),
                    '; '.join(r.subject.rfc4514_string() for r in roots)))
            break
        path.append(parent)
        current = parent
    result['path'] = [_summary(c) for c in path]
    for cert in path:
        if cert.not_valid_after_utc < now:
            result['problems'].append('"%s" expired at %s'
                                      % (cert.subject.rfc4514_string(), cert.not_valid_after_utc.isoformat()))
        elif cert.not_valid_before_utc > now:
            result['problems'].append('"%s" is not valid before %s'
                                      % (cert.subject.rfc4514_string(), cert.not_valid_before_utc.isoformat()))
        if not pki.is_ca(cert):
            result['problems'].append('"%s" is not a CA certificate (basicConstraints CA:TRUE missing)'
                                      % cert.subject.rfc4514_string())
    if matched is not None:
        result['matched_root'] = _summary(matched)
    result['trusted'] = matched is not None and not result['problems']
    return result


# ---------------------------------------------------------------------------------------------
# reconciliation (hvac)

def read_ca_chain(session, mount):
    """The default issuer of a PKI mount and its parents, as PEMs (the issuer first)."""
    response = session.read('%s/cert/ca_chain' % mount) or {}
    data = response.get('data') or {}
    # Vault answers the full chain in ca_chain (a PEM string; some versions a list) and, in
    # certificate, the issuer's chain - which is empty for a self-signed root on older versions.
    full = data.get('ca_chain')
    if isinstance(full, list):
        full = '\n'.join(full)
    chain = _split_pem(full or '') or _split_pem(data.get('certificate') or '')
    unique = []
    for pem in chain:
        if pem not in unique:
            unique.append(pem)
    return unique


def read_intermediate_chain(session, mount):
    """Like :func:`read_ca_chain`, but [] when the mount has no issuer yet."""
    if not session.list('%s/issuers' % mount):
        return []
    return read_ca_chain(session, mount)


class VaultPkiReconciler:
    """Bring Vault to the desired state; write nothing in check mode."""

    def __init__(self, session, desired, check_mode=False):
        self.session = session
        self.desired = desired
        self.check_mode = check_mode
        self.changed = False
        self.before = {}
        self.after = {}
        self.changes = []
        self.warnings = []
        self.result = {}

    # -- small helpers -------------------------------------------------------------------------
    def _record(self, key, before, after, what):
        self.before[key] = before
        self.after[key] = after
        if before != after:
            self.changed = True
            self.changes.append(what)

    def _issuers(self, mount):
        return self.session.list('%s/issuers' % mount)

    def _ca_chain(self, mount):
        return read_ca_chain(self.session, mount)

    # -- steps ---------------------------------------------------------------------------------
    def run(self):
        check_usable(self.session)
        mounts = self._mounts()
        root = self.desired['root']
        if root['managed']:
            self._ensure_mount(mounts, root['mount'], root['max_lease_ttl'], 'root')
            root_chain = self._ensure_root()
        else:
            root_chain = [root['certificate']]
            if root['mount']:
                self._check_external_mount(mounts, root['mount'])
        inter = self.desired['intermediate']
        self._ensure_mount(mounts, inter['mount'], inter['max_lease_ttl'], 'intermediate')
        self._ensure_intermediate(root_chain)
        self._ensure_role()
        self._ensure_policy()
        if self.desired['kubernetes_auth']:
            self._ensure_kubernetes_auth()
        self.result.update(issuer_path=self.desired['issuer_path'], policy_name=self.desired['policy']['name'],
                           changes=self.changes)
        return self.result

    def _mounts(self):
        response = self.session.call('sys/mounts', 'read', self.session.client.sys.list_mounted_secrets_engines)
        data = response.get('data') if isinstance(response, dict) and isinstance(response.get('data'), dict) \
            else response
        return dict((path.rstrip('/'), info) for path, info in (data or {}).items() if isinstance(info, dict))

    def _ensure_mount(self, mounts, path, max_lease_ttl, purpose):
        current = mounts.get(path)
        key = 'mount %s/' % path
        want = {'type': 'pki', 'max_lease_ttl': max_lease_ttl}
        if current is not None:
            if current.get('type') != 'pki':
                raise VaultConflictError(
                    'Vault at %s already has a %s secrets engine at %s/, where the %s PKI mount should be: choose '
                    'another %s_mount, or remove it if it is unused (vault secrets disable %s)'
                    % (self.session.where, current.get('type'), path, purpose, purpose, path))
            tune = self.session.call('sys/mounts/%s/tune' % path, 'read',
                                     self.session.client.sys.read_mount_configuration, path)
            tune = (tune.get('data') or tune) if isinstance(tune, dict) else {}
            have = {'type': 'pki', 'max_lease_ttl': int(tune.get('max_lease_ttl') or 0)}
            self._record(key, have, want, 'tune %s max_lease_ttl to %s' % (path, go_duration(max_lease_ttl)))
            if have != want and not self.check_mode:
                self.session.call('sys/mounts/%s/tune' % path, 'update', self.session.client.sys.tune_mount_configuration,
                                  path, max_lease_ttl='%ds' % max_lease_ttl)
            return
        self._record(key, None, want, 'enable pki at %s/' % path)
        if not self.check_mode:
            self.session.call('sys/mounts/%s' % path, 'update', self.session.client.sys.enable_secrets_engine,
                              backend_type='pki', path=path,
                              description='%s %s CA (managed by %s)' % (self.desired['trust_domain'], purpose, MANAGED_BY),
                              config={'max_lease_ttl': '%ds' % max_lease_ttl})
        mounts[path] = {'type': 'pki'}

    def _check_external_mount(self, mounts, path):
        current = mounts.get(path)
        if current is None or current.get('type') != 'pki':
            raise VaultError('external_root.mount %s/ is %s at %s: give the path of the PKI mount that holds the '
                             'existing root' % (path, 'a %s mount' % current.get('type') if current else 'not mounted',
                                                self.session.where))
        if not self._issuers(path):
            raise VaultError('external_root.mount %s/ at %s has no CA certificate: import or generate the root there '
                             'first' % (path, self.session.where))

    def _ensure_root(self):
        root = self.desired['root']
        mount = root['mount']
        mount_is_new = self.before.get('mount %s/' % mount) is None
        existing = [] if (mount_is_new and self.check_mode) else self._issuers(mount)
        if existing:
            chain = self._ca_chain(mount)
            self._record('root CA %s/' % mount, 'present', 'present', None)
            self.result['root_certificate'] = chain[-1] if chain else None
            return chain[-1:] if chain else []
        self._record('root CA %s/' % mount, None, 'generated in Vault (%s, %s)' % (root['common_name'], root['key_type']),
                     'generate root CA in %s/' % mount)
        if self.check_mode:
            self.result['root_certificate'] = None
            return []
        response = self.session.call(
            '%s/root/generate/internal' % mount, 'update', self.session.client.secrets.pki.generate_root,
            type='internal', common_name=root['common_name'], mount_point=mount,
            extra_params={'ttl': '%ds' % root['ttl'], 'key_type': root['key_type'], 'key_bits': root['key_bits'],
                          'issuer_name': 'mesh-root'})
        certificate = _normalize_pem(response['data']['certificate'])
        self.result['root_certificate'] = certificate
        return [certificate]

    def _ensure_intermediate(self, root_chain):
        inter = self.desired['intermediate']
        root = self.desired['root']
        mount = inter['mount']
        key = 'intermediate CA %s/' % mount
        mount_is_new = self.before.get('mount %s/' % mount) is None
        existing = [] if (mount_is_new and self.check_mode) else self._issuers(mount)
        offline = root.get('signed_intermediate') if not root['managed'] else None
        if existing:
            chain = self._ca_chain(mount)
            if offline and (not chain or _split_pem(offline)[0] != chain[0]):
                # a newly signed intermediate handed in (rotation of an external root's signature)
                self._record(key, _describe(chain), 'imported from external_root.signed_intermediate',
                             'import the signed intermediate into %s/' % mount)
                if not self.check_mode:
                    self._set_signed(mount, offline, root_chain, make_default=True)
                    chain = self._ca_chain(mount)
            else:
                self._record(key, _describe(chain), _describe(chain), None)
            if root['managed'] and root_chain and chain:
                trust = intermediate_trust(chain, root_chain)
                if not trust['trusted']:
                    self.warnings.append(
                        'the intermediate in %s/ does not chain to the root in %s/ (%s); it is left as it is: check '
                        'it with certmesh.istio.vault_trust_check before istio-csr uses it'
                        % (mount, root['mount'], '; '.join(trust['problems'])))
            self.result.update(intermediate_certificate=chain[0] if chain else None, ca_chain=chain)
            return
        if offline:
            self._record(key, None, 'imported from external_root.signed_intermediate',
                         'import the signed intermediate into %s/' % mount)
            if not self.check_mode:
                self._set_signed(mount, offline, root_chain)
        else:
            if root['mount']:
                how = 'signed by %s/' % root['mount']
            elif root.get('private_key_path'):
                how = 'signed by the external root key on the host running the module'
            else:
                how = 'CSR returned for offline signing'
            self._record(key, None, 'generated in Vault (%s), %s' % (inter['common_name'], how),
                         'generate the intermediate CA in %s/ (%s)' % (mount, how))
            if not self.check_mode:
                csr = self.session.call(
                    '%s/intermediate/generate/internal' % mount, 'update',
                    self.session.client.secrets.pki.generate_intermediate,
                    type='internal', common_name=inter['common_name'], mount_point=mount,
                    extra_params={'key_type': inter['key_type'], 'key_bits': inter['key_bits']})['data']['csr']
                if not root['mount'] and root.get('private_key_path'):
                    signed = sign_intermediate_csr(csr, root['certificate'], _read_file(root['private_key_path']),
                                                   inter['ttl'], passphrase=root.get('private_key_passphrase'))
                    self._set_signed(mount, signed, root_chain)
                    chain = self._ca_chain(mount)
                    self.result.update(intermediate_certificate=chain[0] if chain else None, ca_chain=chain)
                    return
                if not root['mount']:
                    self.result.update(intermediate_csr=csr, intermediate_pending=True, ca_chain=[],
                                       intermediate_certificate=None)
                    self.warnings.append(
                        'the intermediate CSR for %s/ is in intermediate_csr: sign it with the external root '
                        '(ttl %s, CA:TRUE) and re-run with external_root.signed_intermediate'
                        % (mount, go_duration(inter['ttl'])))
                    return
                signed = self.session.call(
                    '%s/root/sign-intermediate' % root['mount'], 'update',
                    self.session.client.secrets.pki.sign_intermediate,
                    csr=csr, common_name=inter['common_name'], mount_point=root['mount'],
                    extra_params={'ttl': '%ds' % inter['ttl'], 'format': 'pem'})['data']
                # ca_chain of a sign response is the issuer's chain (issuing CA first), not the new cert
                root_chain = [_normalize_pem(c) for c in (signed.get('ca_chain') or [])] or \
                    [_normalize_pem(signed['issuing_ca'])]
                self._set_signed(mount, signed['certificate'], root_chain)
        if self.check_mode:
            self.result.update(intermediate_certificate=None, ca_chain=[])
            return
        chain = self._ca_chain(mount)
        self.result.update(intermediate_certificate=chain[0] if chain else None, ca_chain=chain)

    def _set_signed(self, mount, certificate, root_chain, make_default=False):
        bundle = _normalize_pem(certificate) + ''.join(c for c in root_chain if c not in certificate)
        response = self.session.call('%s/intermediate/set-signed' % mount, 'update',
                                     self.session.client.secrets.pki.set_signed_intermediate, certificate=bundle,
                                     mount_point=mount)
        imported = ((response or {}).get('data') or {}).get('imported_issuers') or []
        if make_default and imported:
            # Vault keeps the old default issuer when another one is imported: without this the
            # role would go on signing with the replaced intermediate.
            self.session.write('%s/config/issuers' % mount, {'default': imported[0]})

    def _ensure_role(self):
        role = self.desired['role']
        path = '%s/roles/%s' % (role['mount'], role['name'])
        mount_is_new = self.before.get('mount %s/' % role['mount']) is None
        current = None if (mount_is_new and self.check_mode) else self.session.read(path)
        current = (current or {}).get('data') if current else None
        want = role['settings']
        if current is not None:
            conflict = role_conflict(current, want, self.desired['trust_domain'])
            if conflict and not self.desired['force']:
                raise VaultConflictError(
                    'the PKI role %s at %s %s; choose another role_name, or set force: true to take the role over '
                    'for trust domain %s' % (path, self.session.where, conflict, self.desired['trust_domain']))
            differences = role_differences(current, want)
            before = dict((k, _display(current.get(k), k)) for k in want)
        else:
            differences = want
            before = None
        after = dict((k, _display(v, k)) for k, v in want.items())
        self._record('role %s' % path, before, after,
                     'create role %s' % path if current is None else
                     'update role %s (%s)' % (path, ', '.join(sorted(differences))))
        if differences and not self.check_mode:
            self.session.call(path, 'create' if current is None else 'update',
                              self.session.client.secrets.pki.create_or_update_role, role['name'],
                              extra_params=dict(want), mount_point=role['mount'])
        self.result['role'] = dict(after, name=role['name'], mount=role['mount'])

    def _ensure_policy(self):
        policy = self.desired['policy']
        path = 'sys/policies/acl/%s' % policy['name']
        current = self.session.read(path)
        text = ((current or {}).get('data') or {}).get('policy') if current else None
        same = text is not None and policy_matches(text, policy['text'])
        self._record('policy %s' % policy['name'], text, text if same else policy['text'],
                     '%s policy %s' % ('create' if text is None else 'update', policy['name']))
        if not same and not self.check_mode:
            self.session.call(path, 'create' if text is None else 'update',
                              self.session.client.sys.create_or_update_acl_policy, name=policy['name'],
                              policy=policy['text'], pretty_print=False)
        self.result['policy'] = policy['text']

    def _ensure_kubernetes_auth(self):
        spec = self.desired['kubernetes_auth']
        mount = spec['mount']
        methods = self.session.call('sys/auth', 'read', self.session.client.sys.list_auth_methods)
        methods = methods.get('data') if isinstance(methods, dict) and isinstance(methods.get('data'), dict) else methods
        current = dict((p.rstrip('/'), i) for p, i in (methods or {}).items() if isinstance(i, dict)).get(mount)
        if current is not None and current.get('type') != 'kubernetes':
            raise VaultConflictError(
                'Vault at %s already has a %s auth method at auth/%s/: set kubernetes_auth.mount to another path '
                '(e.g. kubernetes-<cluster>), or disable the existing one if unused (vault auth disable %s)'
                % (self.session.where, current.get('type'), mount, mount))
        self._record('auth %s/' % mount, {'type': 'kubernetes'} if current else None, {'type': 'kubernetes'},
                     'enable kubernetes auth at auth/%s/' % mount)
        if current is None and not self.check_mode:
            self.session.call('sys/auth/%s' % mount, 'sudo" and "update', self.session.client.sys.enable_auth_method,
                              method_type='kubernetes', path=mount,
                              description='cert-manager of the %s mesh (managed by %s)'
                              % (self.desired['trust_domain'], MANAGED_BY))
        new_mount = current is None
        # -- config
        path = 'auth/%s/config' % mount
        config = None if (new_mount and self.check_mode) else self.session.read(path)
        config = (config or {}).get('data') if config else None
        want = spec['config']
        jwt = spec['token_reviewer_jwt']
        have_view = None
        if config:
            have_view = dict((k, _normalize_pem(config.get(k)) if k == 'kubernetes_ca_cert' and config.get(k)
                              else config.get(k)) for k in want)
            have_view['token_reviewer_jwt_set'] = bool(config.get('token_reviewer_jwt_set'))
        # Vault never returns the reviewer JWT, only whether one is set; a write replaces the whole
        # config, so the JWT is (re)sent on every write and compared only as set / not set.
        want_view = dict(want, token_reviewer_jwt_set=bool(jwt))
        write = have_view != want_view
        if not write and jwt and spec['update_token_reviewer_jwt'] == 'always':
            write = True
            want_view = dict(want_view, token_reviewer_jwt='(rewritten: update_token_reviewer_jwt=always)')
        self._record('kubernetes auth config %s' % path, have_view, want_view,
                     '%s %s' % ('configure' if not config else 'update', path))
        if write and not self.check_mode:
            self.session.call(path, 'create' if not config else 'update', self.session.client.auth.kubernetes.configure,
                              kubernetes_host=want['kubernetes_host'], kubernetes_ca_cert=want.get('kubernetes_ca_cert'),
                              token_reviewer_jwt=jwt, disable_local_ca_jwt=want['disable_local_ca_jwt'],
                              mount_point=mount)
        # -- role bound to cert-manager's service account
        path = 'auth/%s/role/%s' % (mount, spec['role_name'])
        role = None if (new_mount and self.check_mode) else self.session.read(path)
        role = (role or {}).get('data') if role else None
        want = spec['role']
        have_view = None
        if role is not None:
            have_view = dict((k, role.get(k)) for k in want)
            have_view['audience'] = have_view.get('audience') or ''
        same = have_view is not None and all(
            (sorted(have_view.get(k) or []) == sorted(v)) if isinstance(v, list) else have_view.get(k) == v
            for k, v in want.items())
        self._record('kubernetes auth role %s' % path, have_view, have_view if same else want,
                     '%s kubernetes auth role %s' % ('create' if role is None else 'update', path))
        if not same and not self.check_mode:
            payload = dict(want)
            payload['token_ttl'] = '%ds' % want['token_ttl']
            self.session.write(path, payload, 'create' if role is None else 'update')
        self.result['kubernetes_auth_role'] = dict(want, name=spec['role_name'], mount=mount,
                                                   login_path='auth/%s/login' % mount)

    def diff(self):
        return {'before': self.before, 'after': self.after}


def _describe(chain):
    if not chain:
        return None
    cert = _load_certs([chain[0]])[0]
    return {'subject': cert.subject.rfc4514_string(), 'issuer': cert.issuer.rfc4514_string(),
            'serial_number': '%x' % cert.serial_number,
            'not_after': cert.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ')}


def _display(value, key):
    if key in ('ttl', 'max_ttl') and value is not None:
        try:
            return duration_seconds(value)
        except VaultPkiInputError:
            return value
    return value
