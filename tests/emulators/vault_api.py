# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A strict, local emulator of the HashiCorp Vault HTTP API, for certmesh.istio's tests.

It speaks the subset of Vault that ``certmesh.istio.vault_pki`` and cert-manager's vault issuer
use, with Vault's JSON shapes (``{"data": ...}``, ``{"errors": [...]}``), status codes and error
messages, so hvac talks to it exactly as it talks to Vault:

* ``sys/seal-status``, ``sys/health``, ``sys/seal``, ``sys/unseal``; a sealed emulator answers
  503 ``Vault is sealed`` to everything else;
* ``sys/mounts`` (list, enable, disable, read), ``sys/mounts/<path>/tune`` (read, update);
* ``sys/policies/acl`` (list, read, write, delete) with a parser for
  ``path "..." { capabilities = [...] }`` and Vault's ACL semantics: ``*`` (prefix glob at the
  end), ``+`` (one path segment), the most specific rule wins, ``deny`` wins, ``sudo`` needed
  on ``sys/auth/*``, ``sys/seal`` and ``<pki>/root`` (delete); create vs. update decided by an
  existence check where Vault has one (PKI roles, policies, Kubernetes auth config and roles);
* tokens: ``auth/token/lookup-self``, ``auth/token/create``; every token gets the ``default``
  policy (lookup-self, capabilities-self) unless ``no_default_policy``; ``root`` may do anything;
  ``sys/capabilities-self`` answers each path's capabilities (``root``, or ``deny`` for none);
* ``sys/auth`` (list, enable, disable) and the Kubernetes auth method's ``config`` and ``role/<name>``;
* the PKI secrets engine: ``root/generate/{internal,exported}``,
  ``intermediate/generate/{internal,exported,existing}`` (``key_ref``), ``keys``, ``key/<ref>``,
  ``root/sign-intermediate``,
  ``intermediate/set-signed`` (the first issuer becomes the default; later ones do not),
  ``config/issuers``, ``issuers``, ``issuer/<ref>``, ``cert/ca``, ``cert/ca_chain``,
  ``ca/pem``, ``ca_chain``, ``roles`` and ``sign/<role>``. Keys and certificates are real
  (``cryptography``); ``sign/<role>`` enforces ``require_cn``, the role's key type and size,
  allowed URI SANs (Vault's glob: ``*`` matches any run of characters), IP SANs, DNS names
  (allowed_domains, bare/sub/glob domains, allow_any_name, localhost), caps the TTL at the role's
  ``max_ttl`` (else the mount's) with Vault's warning, and refuses a ``notAfter`` beyond the
  issuer's like Vault's default ``leaf_not_after_behavior=err``. An empty subject makes the SAN
  extension critical, as Go's x509 does (RFC 5280 4.2.1.6).
* the KV version 2 secrets engine (``secret/`` is mounted as in a dev server, other ``kv`` mounts
  with ``options.version=2``): ``config``, ``data/<path>`` (read with ``?version=``, write with
  ``options.cas``, soft delete), ``metadata/<path>`` (read, list, update, delete), ``delete``,
  ``undelete``, ``destroy``. Check-and-set is strict: a ``cas`` that is not the current version
  (``0`` when the key has none) answers 400 ``check-and-set parameter did not match the current
  version``, a write without ``cas`` where the mount or the key sets ``cas_required`` answers 400
  ``check-and-set parameter required for this call``; a deleted version reads as 404 with its
  metadata; at most ``max_versions`` versions (default 10) are kept; ``create`` is needed for a
  key that does not exist yet and ``update`` for one that does; any other path on the mount
  answers 404 with Vault's "Invalid path for a versioned K/V secrets engine" warning.
* Vault Enterprise namespaces through ``X-Vault-Namespace`` (``sys/namespaces/<name>`` creates
  one); each namespace has its own mounts, policies and auth methods.

Gaps (not emulated; a test that needs them should extend this file): logins (kubernetes
``login`` does not review tokens), leases, ``issue/<role>``, CRLs/OCSP, ``sign-verbatim``,
``other_sans``, email SANs, role templates, ``not_after`` requests, managed keys, multiple
issuers per role (``issuer_ref`` is accepted but ``default`` is used), response wrapping,
audit devices, the KV version 1 engine, KV v2's ``subkeys``, ``patch`` and
``delete_version_after`` expiry (stored and shown, never applied), path-based
namespaces (``ns1/pki/...``), and a missing token answers 403 ``permission denied`` (Vault's
wording differs slightly across versions). ``intermediate/set-signed`` refuses a certificate
whose key is not in the mount (Vault imports it key-less with a warning). Details:
docs/testing-vault.md.

In-process use (tests)::

    vault = VaultEmulator()
    url = vault.start()            # http://127.0.0.1:<ephemeral port>
    token = vault.create_token(['cert-manager'])
    vault.seal(); vault.unseal()
    vault.stop()

Faults for tests (docs/testing-vault.md, "Fault injection")::

    vault.inject_fault('seal', before_write=3)          # or 'forbid', 'revoke'; or path='pki_int/roles/x'
    vault.clear_faults(); vault.unseal()
    vault.hold_reads('secret/data/certmesh/prod/mesh-root', parties=2, reads=4)  # a certain race

Command line (molecule): ``python -m tests.emulators.vault_api --port 8200 --root-token root``.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VAULT_VERSION = '1.17.0'
SYSTEM_DEFAULT_TTL = 32 * 24 * 3600  # Vault's built-in default and max lease TTL: 768h
CAPABILITIES = {'create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny', 'subscribe'}
PERMISSION_DENIED = '1 error occurred:\n\t* permission denied\n\n'
# POSTs that only look: they do not count as writes for fault injection and state_writes()
READ_ONLY_POSTS = ('sys/capabilities-self', 'auth/token/lookup-self')
FAULT_KINDS = ('seal', 'forbid', 'revoke')
DEFAULT_POLICY = '''
path "auth/token/lookup-self" {
    capabilities = ["read"]
}
path "auth/token/renew-self" {
    capabilities = ["update"]
}
path "sys/capabilities-self" {
    capabilities = ["update"]
}
'''


class VaultAPIError(Exception):
    def __init__(self, status, *errors):
        super().__init__(status, errors)
        self.status = status
        self.errors = list(errors)


def _bad(message):
    return VaultAPIError(400, message)


# ------------------------------------------------------------------------------------------
# value parsing like Vault's framework (parseutil)

def parse_duration(value, field='ttl'):
    if value is None or value == '':
        return 0
    if isinstance(value, bool):
        raise _bad('error converting input %s for field "%s": invalid duration' % (value, field))
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r'\d+', text):
        return int(text)
    total = 0.0
    pos = 0
    for match in re.finditer(r'(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)', text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600,
                                          'd': 86400}[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise _bad('error converting input %s for field "%s": time: invalid duration "%s"' % (value, field, value))
    return int(total)


def parse_bool(value, field):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', '1', 't'):
        return True
    if isinstance(value, str) and value.lower() in ('false', '0', 'f', ''):
        return False
    if isinstance(value, int):
        return bool(value)
    raise _bad('error converting input %s for field "%s": cannot parse \'\' as bool' % (value, field))


def parse_int(value, field):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad('error converting input %s for field "%s": cannot parse \'%s\' as int' % (value, field, value))


def parse_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(',') if v.strip()]


def go_duration(seconds):
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return '%dh%dm%ds' % (h, m, s)
    if m:
        return '%dm%ds' % (m, s)
    return '%ds' % s


def go_glob(pattern, subject):
    """ryanuber/go-glob, which Vault uses for allowed_uri_sans: only '*', matching anything."""
    if pattern == '*':
        return True
    parts = pattern.split('*')
    if len(parts) == 1:
        return subject == pattern
    if not subject.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for part in parts[1:-1]:
        idx = subject.find(part, pos)
        if idx < 0:
            return False
        pos = idx + len(part)
    return subject.endswith(parts[-1]) and len(subject) - len(parts[-1]) >= pos


# ------------------------------------------------------------------------------------------
# policies

def parse_policy(text):
    """HCL subset: path "<pattern>" { capabilities = ["read", ...] } with # and // comments."""
    cleaned = re.sub(r'(?m)(#|//).*$', '', text or '')
    rules = []
    pos = 0
    for match in re.finditer(r'path\s+"([^"]*)"\s*\{([^}]*)\}', cleaned):
        between = cleaned[pos:match.start()].strip()
        if between:
            raise _bad('failed to parse policy: unexpected %r' % between[:40])
        pos = match.end()
        caps_match = re.search(r'capabilities\s*=\s*\[([^\]]*)\]', match.group(2))
        caps = re.findall(r'"([^"]*)"', caps_match.group(1)) if caps_match else []
        for cap in caps:
            if cap not in CAPABILITIES:
                raise _bad('failed to parse policy: path "%s": invalid capability "%s"' % (match.group(1), cap))
        rules.append((match.group(1), set(caps)))
    if cleaned[pos:].strip():
        raise _bad('failed to parse policy: unexpected %r' % cleaned[pos:].strip()[:40])
    return rules


def _pattern_regex(pattern):
    glob = pattern.endswith('*')
    body = pattern[:-1] if glob else pattern
    segments = [('[^/]+' if seg == '+' else re.escape(seg)) for seg in body.split('/')]
    return re.compile('/'.join(segments) + ('.*' if glob else ''), re.S)


def _pattern_priority(pattern):
    """Vault's rule order: a later first wildcard, no trailing glob, fewer '+', longer, then
    lexicographically larger patterns win."""
    positions = [i for i, c in enumerate(pattern) if c in '+*']
    first = positions[0] if positions else len(pattern) + 1
    return (first, not pattern.endswith('*'), -pattern.count('+'), len(pattern), pattern)


def allowed_capabilities(policy_texts, path):
    merged = {}
    for text in policy_texts:
        for pattern, caps in parse_policy(text):
            merged.setdefault(pattern, set()).update(caps)
    matching = [p for p in merged if _pattern_regex(p).fullmatch(path)]
    if not matching:
        return set()
    best = max(matching, key=_pattern_priority)
    caps = merged[best]
    return set() if 'deny' in caps else caps


# ------------------------------------------------------------------------------------------
# PKI crypto helpers

def _generate_key(key_type, key_bits):
    if key_type == 'rsa':
        return rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    if key_type == 'ec':
        curve = {224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}[key_bits]
        return ec.generate_private_key(curve())
    if key_type == 'ed25519':
        return ed25519.Ed25519PrivateKey.generate()
    raise _bad('unknown key type: %s' % key_type)


def _check_key_params(key_type, key_bits, field='key_bits', allow_any=False):
    key_type = key_type or 'rsa'
    if key_type == 'any' and allow_any:
        return key_type, 0
    if key_type == 'rsa':
        key_bits = key_bits or 2048
        if key_bits not in (2048, 3072, 4096, 8192):
            raise _bad('unsupported bit length for RSA key: %d' % key_bits)
    elif key_type == 'ec':
        key_bits = key_bits or 256
        if key_bits not in (224, 256, 384, 521):
            raise _bad('unsupported bit length for EC key: %d' % key_bits)
    elif key_type == 'ed25519':
        key_bits = 0
    else:
        raise _bad('unknown key type: %s' % key_type)
    return key_type, key_bits


def _hash_for(private_key):
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(private_key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii').strip()


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL
                             if not isinstance(key, ed25519.Ed25519PrivateKey) else serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode('ascii').strip()


def _pub_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _serial_text(serial):
    raw = '%x' % serial
    raw = ('0' + raw) if len(raw) % 2 else raw
    return ':'.join(raw[i:i + 2] for i in range(0, len(raw), 2))


def _go_time(moment):
    return moment.strftime('%Y-%m-%d %H:%M:%S +0000 UTC')


def _key_type_of(public_key):
    if isinstance(public_key, rsa.RSAPublicKey):
        return 'rsa', public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return 'ec', public_key.curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return 'ed25519', 0
    return 'unknown', 0


def make_spiffe_csr(spiffe_id, key_type='ec', key_bits=None, common_name=None, dns_names=(), ip_addresses=()):
    """A CSR like istio-agent/istio-csr sends: only a SPIFFE URI SAN, no common name.

    Returns (private_key_pem, csr_pem). The extra arguments make deliberately wrong CSRs."""
    key_type, key_bits = _check_key_params(key_type, key_bits)
    key = _generate_key(key_type, key_bits)
    names = [x509.UniformResourceIdentifier(spiffe_id)] if spiffe_id else []
    names += [x509.DNSName(d) for d in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = builder.sign(key, _hash_for(key))
    return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode('ascii')


# ------------------------------------------------------------------------------------------
# state

class Mount:
    def __init__(self, path, mount_type, description='', config=None, options=None, kind='secret'):
        self.path = path
        self.type = mount_type
        self.description = description
        self.default_lease_ttl = parse_duration((config or {}).get('default_lease_ttl'), 'default_lease_ttl')
        self.max_lease_ttl = parse_duration((config or {}).get('max_lease_ttl'), 'max_lease_ttl')
        self.options = options or None
        self.accessor = '%s_%s' % (mount_type, secrets.token_hex(4))
        self.uuid = str(uuid.uuid4())
        self.kind = kind
        backend = {'pki': PkiBackend, 'kubernetes': KubernetesAuthBackend}.get(mount_type, NullBackend)
        if mount_type == 'kv' and str((options or {}).get('version')) == '2':
            backend = KvV2Backend
        self.backend = backend(self)

    def effective_default_ttl(self):
        return self.default_lease_ttl or SYSTEM_DEFAULT_TTL

    def effective_max_ttl(self):
        return self.max_lease_ttl or SYSTEM_DEFAULT_TTL

    def describe(self):
        return {'type': self.type, 'description': self.description, 'accessor': self.accessor, 'uuid': self.uuid,
                'config': {'default_lease_ttl': self.default_lease_ttl, 'max_lease_ttl': self.max_lease_ttl,
                           'force_no_cache': False},
                'options': self.options, 'local': False, 'seal_wrap': False, 'external_entropy_access': False,
                'plugin_version': '', 'running_plugin_version': 'v%s+builtin.vault' % VAULT_VERSION,
                'running_sha256': '', 'deprecation_status': 'supported'}


class NullBackend:
    def __init__(self, mount):
        self.mount = mount

    def route(self, request, rest):
        return None


class Namespace:
    def __init__(self, name):
        self.name = name
        self.mounts = {}
        self.auth = {}
        self.policies = {'default': DEFAULT_POLICY}
        self.children = set()
        for path, kind in (('sys/', 'system'), ('cubbyhole/', 'cubbyhole'), ('identity/', 'identity'),
                           ('secret/', 'kv')):
            self.mounts[path] = Mount(path, kind, {'sys/': 'system endpoints used for control, policy and '
                                                   'debugging'}.get(path, ''),
                                      options={'version': '2'} if kind == 'kv' else None)
        self.auth['token/'] = Mount('token/', 'token', 'token based credentials', kind='auth')


class Request:
    def __init__(self, method, path, operation, body, token, namespace):
        self.method = method
        self.path = path
        self.operation = operation
        self.body = body
        self.token = token
        self.namespace = namespace
        self.warnings = []
        self.query = {}

    def get(self, key, default=None):
        return self.body.get(key, default)


class Route:
    """What a request resolved to: the handler, and what the ACL check needs to know."""

    def __init__(self, handler, exists=None, sudo=False, acl_path=None):
        self.handler = handler
        self.exists = exists
        self.sudo = sudo
        self.acl_path = acl_path


def _response(data=None, warnings=None, auth=None, status=200, mount_type=''):
    return status, {'request_id': str(uuid.uuid4()), 'lease_id': '', 'renewable': False, 'lease_duration': 0,
                    'data': data, 'wrap_info': None, 'warnings': warnings or None, 'auth': auth,
                    'mount_type': mount_type}


def _known(request, known):
    unknown = sorted(set(request.body) - set(known))
    if unknown:
        request.warnings.append('Endpoint ignored these unrecognized parameters: [%s]' % ' '.join(unknown))


# ------------------------------------------------------------------------------------------
# PKI secrets engine

ROLE_DEFAULTS = {
    'ttl': 0, 'max_ttl': 0, 'allow_localhost': True, 'allowed_domains': [], 'allowed_domains_template': False,
    'allow_bare_domains': False, 'allow_subdomains': False, 'allow_glob_domains': False,
    'allow_wildcard_certificates': True, 'allow_any_name': False, 'enforce_hostnames': True, 'allow_ip_sans': True,
    'allowed_uri_sans': [], 'allowed_uri_sans_template': False, 'allowed_other_sans': [],
    'allowed_serial_numbers': [], 'allowed_user_ids': [], 'server_flag': True, 'client_flag': True,
    'code_signing_flag': False, 'email_protection_flag': False, 'key_type': 'rsa', 'key_bits': 0,
    'signature_bits': 0, 'use_pss': False, 'key_usage': ['DigitalSignature', 'KeyAgreement', 'KeyEncipherment'],
    'ext_key_usage': [], 'ext_key_usage_oids': [], 'use_csr_common_name': True, 'use_csr_sans': True,
    'ou': [], 'organization': [], 'country': [], 'locality': [], 'province': [], 'street_address': [],
    'postal_code': [], 'generate_lease': False, 'no_store': False, 'require_cn': True, 'policy_identifiers': [],
    'basic_constraints_valid_for_non_ca': False, 'not_before_duration': 30, 'not_after': '',
    'issuer_ref': 'default', 'cn_validations': ['email', 'hostname'], 'serial_number_source': 'json-csr',
}
_ROLE_DURATIONS = ('ttl', 'max_ttl', 'not_before_duration')
_ROLE_INTS = ('key_bits', 'signature_bits')
_KEY_USAGES = {
    'DigitalSignature': 'digital_signature', 'ContentCommitment': 'content_commitment',
    'KeyEncipherment': 'key_encipherment', 'DataEncipherment': 'data_encipherment', 'KeyAgreement': 'key_agreement',
    'CertSign': 'key_cert_sign', 'CRLSign': 'crl_sign', 'EncipherOnly': 'encipher_only',
    'DecipherOnly': 'decipher_only',
}


class PkiBackend:
    def __init__(self, mount):
        self.mount = mount
        self.keys = {}      # key_id -> private key
        self.key_names = {}  # key_id -> key_name ('' when none was given)
        self.issuers = {}   # issuer_id -> {'cert', 'key_id', 'name'}
        self.default_issuer = None
        self.roles = {}

    # -- routing ---------------------------------------------------------------------------
    def route(self, request, rest):
        op = request.operation
        m = re.fullmatch(r'roles/([^/]+)', rest)
        if m:
            name = m.group(1)
            return Route(lambda r: self.role(r, name), exists=name in self.roles)
        if rest == 'roles' and op == 'list':
            return Route(lambda r: self.list_keys(sorted(self.roles)))
        m = re.fullmatch(r'(root|intermediate)/generate/(internal|exported|existing|kms)', rest)
        if m and op in ('create', 'update'):
            return Route(lambda r: self.generate(r, m.group(1), m.group(2)))
        if rest == 'root/sign-intermediate' and op in ('create', 'update'):
            return Route(self.sign_intermediate)
        if rest == 'intermediate/set-signed' and op in ('create', 'update'):
            return Route(self.set_signed)
        m = re.fullmatch(r'sign/([^/]+)', rest)
        if m and op in ('create', 'update'):
            return Route(lambda r: self.sign(r, m.group(1)))
        if rest == 'issuers' and op == 'list':
            return Route(lambda r: self.list_issuers())
        if rest == 'keys' and op == 'list':
            return Route(lambda r: self.list_pki_keys())
        m = re.fullmatch(r'key/([^/]+)', rest)
        if m and op == 'read':
            return Route(lambda r: self.read_key(m.group(1)))
        m = re.fullmatch(r'issuer/([^/]+)', rest)
        if m and op == 'read':
            return Route(lambda r: self.read_issuer(m.group(1)))
        if rest in ('cert/ca', 'cert/ca_chain') and op == 'read':
            return Route(lambda r: self.read_ca(rest == 'cert/ca_chain'))
        if rest in ('ca/pem', 'ca_chain', 'ca') and op == 'read':
            return Route(lambda r: self.raw_ca(rest))
        if rest == 'config/issuers' and op in ('read', 'create', 'update'):
            return Route(self.config_issuers)
        if rest == 'root' and op == 'delete':
            return Route(self.delete_root, sudo=True)
        return None

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def list_keys(keys):
        if not keys:
            raise VaultAPIError(404)
        return _response({'keys': keys})

    def _issuer(self, ref):
        if ref in ('default', '', None):
            if not self.default_issuer:
                raise _bad('no default issuer currently configured')
            return self.default_issuer, self.issuers[self.default_issuer]
        if ref in self.issuers:
            return ref, self.issuers[ref]
        for issuer_id, issuer in self.issuers.items():
            if issuer['name'] == ref:
                return issuer_id, issuer
        raise _bad('unable to find PKI issuer for reference: %s' % ref)

    def _chain(self, issuer_id):
        chain = [self.issuers[issuer_id]['cert']]
        while len(chain) < 10:
            cert = chain[-1]
            if cert.issuer == cert.subject:
                break
            parent = None
            for other in self.issuers.values():
                candidate = other['cert']
                if candidate.subject == cert.issuer and candidate not in chain:
                    try:
                        cert.verify_directly_issued_by(candidate)
                    except Exception:
                        continue
                    parent = candidate
                    break
            if parent is None:
                break
            chain.append(parent)
        return chain

    def _key_id_for(self, public_key):
        der = _pub_der(public_key)
        for key_id, key in self.keys.items():
            if _pub_der(key.public_key()) == der:
                return key_id
        return None

    def _not_after(self, request, role_ttl, role_max_ttl, issuer_cert):
        """GetCertificateNotAfter + the issuer's leaf_not_after_behavior=err."""
        warnings = []
        ttl = parse_duration(request.get('ttl'), 'ttl')
        if ttl == 0 and role_ttl > 0:
            ttl = role_ttl
        max_ttl = role_max_ttl if role_max_ttl > 0 else 0
        if ttl == 0:
            ttl = self.mount.effective_default_ttl()
        if max_ttl == 0:
            max_ttl = self.mount.effective_max_ttl()
        if ttl > max_ttl:
            warnings.append('TTL "%s" is longer than permitted maxTTL "%s", so maxTTL is being used'
                            % (go_duration(ttl), go_duration(max_ttl)))
            ttl = max_ttl
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        not_after = now + datetime.timedelta(seconds=ttl)
        if issuer_cert is not None and not_after > issuer_cert.not_valid_after_utc:
            raise _bad('cannot satisfy request, as TTL would result in notAfter of %s that is beyond the expiration '
                       'of the CA certificate at %s' % (_go_time(not_after), _go_time(issuer_cert.not_valid_after_utc)))
        return now, not_after, warnings

    def _build(self, subject, public_key, signer_key, issuer_cert, not_before, not_after, ca, sans=None,
               key_usage=None, eku=None, path_len=None, basic_constraints=False):
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(ski, critical=False))
        if issuer_cert is not None:
            issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
        else:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
            usage = dict((v, False) for v in _KEY_USAGES.values())
            usage.update(key_cert_sign=True, crl_sign=True)
            builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
        else:
            if basic_constraints:
                builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            if key_usage:
                usage = dict((v, False) for v in _KEY_USAGES.values())
                for name in key_usage:
                    if name in _KEY_USAGES:
                        usage[_KEY_USAGES[name]] = True
                builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
            if eku:
                builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if sans:
            # Go's x509 (and so Vault) marks the SAN extension critical when the subject is empty
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
        return builder.sign(signer_key, _hash_for(signer_key))

    @staticmethod
    def _csr(request):
        text = request.get('csr') or ''
        if not text:
            raise _bad('"csr" is empty')
        try:
            csr = x509.load_pem_x509_csr(text.encode('ascii') if isinstance(text, str) else text)
        except Exception as exc:
            raise _bad('certificate request could not be parsed: %s' % exc)
        if not csr.is_signature_valid:
            raise _bad('request signature invalid: x509: ECDSA verification failure')
        return csr

    # -- endpoints -------------------------------------------------------------------------
    def generate(self, request, kind, key_mode):
        if key_mode == 'kms':
            raise _bad('key mode %s is not supported by the emulator' % key_mode)
        _known(request, ('common_name', 'ttl', 'key_type', 'key_bits', 'issuer_name', 'key_name', 'format',
                         'alt_names', 'ip_sans', 'uri_sans', 'max_path_length', 'exclude_cn_from_sans',
                         'organization', 'ou', 'country', 'add_basic_constraints', 'not_before_duration')
               + (('key_ref',) if key_mode == 'existing' else ()))
        common_name = request.get('common_name') or ''
        if kind == 'root' and not common_name:
            raise _bad('the common_name field is required, or must be provided in a CSR with "use_csr_common_name" '
                       'set to true, unless "require_cn" is set to false')
        if key_mode == 'existing':
            # Vault 1.11+: a CSR (or root) from a key the mount already holds; nothing new is stored
            ref = request.get('key_ref') or ''
            if not ref:
                raise _bad('missing argument key_ref for existing type')
            key_id = self._key_ref(ref)
            key = self.keys[key_id]
            key_type = _key_type_of(key.public_key())[0]
        else:
            key_type, key_bits = _check_key_params(request.get('key_type'), parse_int(request.get('key_bits') or 0,
                                                                                      'key_bits'))
            key = _generate_key(key_type, key_bits)
            key_id = str(uuid.uuid4())
            self.keys[key_id] = key
            self.key_names[key_id] = request.get('key_name') or ''
        data = {'key_id': key_id, 'key_type': key_type}
        if key_mode == 'exported':
            data.update(private_key=_key_pem(key), private_key_type=key_type)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        if kind == 'intermediate':
            csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, _hash_for(key))
            data['csr'] = csr.public_bytes(serialization.Encoding.PEM).decode('ascii').strip()
            return _response(data, request.warnings)
        not_before, not_after, warnings = self._not_after(request, 0, 0, None)
        max_path = parse_int(request.get('max_path_length', -1), 'max_path_length')
        cert = self._build(subject, key.public_key(), key, None, not_before - datetime.timedelta(seconds=30),
                           not_after, ca=True, path_len=None if max_path < 0 else max_path)
        issuer_id = str(uuid.uuid4())
        name = request.get('issuer_name') or ''
        self.issuers[issuer_id] = {'cert': cert, 'key_id': key_id, 'name': name}
        if not self.default_issuer:
            self.default_issuer = issuer_id
        data.update(certificate=_pem(cert), issuing_ca=_pem(cert), serial_number=_serial_text(cert.serial_number),
                    expiration=int(cert.not_valid_after_utc.timestamp()), issuer_id=issuer_id, issuer_name=name,
                    key_name=request.get('key_name') or '')
        return _response(data, request.warnings + warnings)

    def sign_intermediate(self, request):
        _known(request, ('csr', 'common_name', 'ttl', 'max_path_length', 'use_csr_values', 'issuer_ref', 'format',
                         'alt_names', 'ip_sans', 'uri_sans', 'exclude_cn_from_sans', 'organization', 'ou',
                         'country', 'not_before_duration', 'skid'))
        issuer_id, issuer = self._issuer(request.get('issuer_ref') or 'default')
        if not issuer['key_id']:
            raise _bad('unable to sign: issuer %s has no key' % issuer_id)
        csr = self._csr(request)
        use_csr_values = parse_bool(request.get('use_csr_values', False), 'use_csr_values')
        common_name = request.get('common_name') or ''
        subject = csr.subject if use_csr_values else x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        if not use_csr_values and not common_name:
            raise _bad('the common_name field is required, or must be provided in a CSR with "use_csr_common_name" '
                       'set to true, unless "require_cn" is set to false')
        issuer_cert = issuer['cert']
        not_before, not_after, warnings = self._not_after(request, 0, 0, issuer_cert)
        max_path = parse_int(request.get('max_path_length', -1), 'max_path_length')
        if max_path < 0:
            parent = issuer_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
            if parent == 0:
                raise _bad('signing certificate has a max path length of zero, and cannot issue further CA '
                           'certificates')
            max_path = None if parent is None else parent - 1
        cert = self._build(subject, csr.public_key(), self.keys[issuer['key_id']], issuer_cert,
                           not_before - datetime.timedelta(seconds=30), not_after, ca=True, path_len=max_path)
        chain = [_pem(c) for c in self._chain(issuer_id)]
        return _response({'certificate': _pem(cert), 'issuing_ca': chain[0], 'ca_chain': chain,
                          'serial_number': _serial_text(cert.serial_number),
                          'expiration': int(cert.not_valid_after_utc.timestamp())}, request.warnings + warnings)

    def set_signed(self, request):
        _known(request, ('certificate',))
        text = request.get('certificate') or ''
        blocks = re.findall(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', text, re.S)
        if not blocks:
            raise _bad('no data found in PEM block')
        certs = [x509.load_pem_x509_certificate(b.encode('ascii')) for b in blocks]
        if self._key_id_for(certs[0].public_key()) is None:
            raise _bad('unable to import the signed intermediate: its public key does not match a key generated in '
                       'this mount (run intermediate/generate first)')
        imported, existing, mapping = [], [], {}
        for cert in certs:
            same = [i for i, v in self.issuers.items() if v['cert'] == cert]
            if same:
                existing.append(same[0])
                continue
            key_id = self._key_id_for(cert.public_key())
            issuer_id = str(uuid.uuid4())
            self.issuers[issuer_id] = {'cert': cert, 'key_id': key_id, 'name': ''}
            imported.append(issuer_id)
            mapping[issuer_id] = key_id or ''
        first = ([i for i, v in self.issuers.items() if v['cert'] == certs[0]] or [None])[0]
        if not self.default_issuer:  # Vault keeps an existing default: config/issuers changes it
            self.default_issuer = first
        return _response({'imported_issuers': imported or None, 'imported_keys': None, 'mapping': mapping,
                          'existing_issuers': existing or None, 'existing_keys': None}, request.warnings)

    def config_issuers(self, request):
        if request.operation != 'read':
            _known(request, ('default', 'default_follows_latest_issuer'))
            if request.get('default') is not None:
                self.default_issuer = self._issuer(request.get('default'))[0]
        return _response({'default': self.default_issuer or '', 'default_follows_latest_issuer': False},
                         request.warnings)

    def list_issuers(self):
        if not self.issuers:
            raise VaultAPIError(404)
        info = dict((i, {'issuer_name': v['name'], 'is_default': i == self.default_issuer,
                         'serial_number': _serial_text(v['cert'].serial_number), 'key_id': v['key_id'] or ''})
                    for i, v in self.issuers.items())
        return _response({'keys': sorted(self.issuers), 'key_info': info})

    def _key_ref(self, ref):
        if ref in self.keys:
            return ref
        for key_id, name in self.key_names.items():
            if name and name == ref:
                return key_id
        raise _bad('unable to resolve key reference %s: key not found' % ref)

    def list_pki_keys(self):
        if not self.keys:
            raise VaultAPIError(404)
        info = dict((k, {'key_name': self.key_names.get(k, ''), 'key_type': _key_type_of(v.public_key())[0]})
                    for k, v in self.keys.items())
        return _response({'keys': sorted(self.keys), 'key_info': info})

    def read_key(self, ref):
        key_id = self._key_ref(ref)
        key_type, key_bits = _key_type_of(self.keys[key_id].public_key())
        return _response({'key_id': key_id, 'key_name': self.key_names.get(key_id, ''), 'key_type': key_type,
                          'key_bits': key_bits})

    def unused_keys(self):
        """Keys no issuer uses: what a half-finished intermediate set-up strands (a test helper)."""
        used = set(v['key_id'] for v in self.issuers.values())
        return sorted(k for k in self.keys if k not in used)

    def read_issuer(self, ref):
        issuer_id, issuer = self._issuer(ref)
        chain = [_pem(c) for c in self._chain(issuer_id)]
        return _response({'issuer_id': issuer_id, 'issuer_name': issuer['name'], 'key_id': issuer['key_id'] or '',
                          'certificate': chain[0], 'ca_chain': chain, 'leaf_not_after_behavior': 'err',
                          'usage': 'crl-signing,issuing-certificates,ocsp-signing,read-only'})

    def read_ca(self, with_chain):
        issuer_id, _issuer = self._issuer('default')
        chain = [_pem(c) for c in self._chain(issuer_id)]
        data = {'certificate': '\n'.join(chain) if with_chain else chain[0], 'revocation_time': 0,
                'revocation_time_rfc3339': '', 'issuer_id': issuer_id}
        if with_chain:
            data['ca_chain'] = '\n'.join(chain)  # one PEM string, as path_fetch.go answers
        return _response(data)

    def raw_ca(self, which):
        if not self.default_issuer:
            return 204, ''
        chain = self._chain(self.default_issuer)
        if which == 'ca':
            return 200, ('application/pkix-cert', chain[0].public_bytes(serialization.Encoding.DER))
        pems = [_pem(c) for c in (chain if which == 'ca_chain' else chain[:1])]
        return 200, ('application/pem-certificate-chain', ('\n'.join(pems) + '\n').encode('ascii'))

    def delete_root(self, request):
        self.keys.clear()
        self.key_names.clear()
        self.issuers.clear()
        self.default_issuer = None
        return 204, None

    def role(self, request, name):
        if request.operation == 'read':
            if name not in self.roles:
                raise VaultAPIError(404)
            return _response(dict(self.roles[name]))
        if request.operation == 'delete':
            self.roles.pop(name, None)
            return 204, None
        body = dict(request.body)
        body.pop('name', None)
        _known(request, list(ROLE_DEFAULTS) + ['name'])
        role = dict(self.roles.get(name) or ROLE_DEFAULTS) if request.method == 'PATCH' else dict(ROLE_DEFAULTS)
        for key, value in body.items():
            if key not in ROLE_DEFAULTS:
                continue
            default = ROLE_DEFAULTS[key]
            if key in _ROLE_DURATIONS:
                role[key] = parse_duration(value, key)
            elif key in _ROLE_INTS:
                role[key] = parse_int(value, key)
            elif isinstance(default, bool):
                role[key] = parse_bool(value, key)
            elif isinstance(default, list):
                role[key] = parse_list(value)
            else:
                role[key] = str(value)
        role['key_type'], role['key_bits'] = _check_key_params(role['key_type'], role['key_bits'], allow_any=True)
        if role['max_ttl'] and role['ttl'] > role['max_ttl']:
            raise _bad('"ttl" value must be less than "max_ttl" value')
        self.roles[name] = role
        return _response(dict(role), request.warnings)

    def sign(self, request, role_name):
        role = self.roles.get(role_name)
        if role is None:
            raise _bad('unknown role: %s' % role_name)
        _known(request, ('csr', 'common_name', 'alt_names', 'ip_sans', 'uri_sans', 'other_sans', 'ttl', 'format',
                         'private_key_format', 'exclude_cn_from_sans', 'not_after', 'remove_roots_from_chain',
                         'user_ids', 'issuer_ref', 'serial_number', 'cert_metadata'))
        issuer_id, issuer = self._issuer('default')
        if not issuer['key_id']:
            raise _bad('unable to sign: issuer %s has no key' % issuer_id)
        csr = self._csr(request)
        public_key = csr.public_key()
        have_type, have_bits = _key_type_of(public_key)
        if role['key_type'] != 'any':
            if have_type != role['key_type']:
                raise _bad('role requires keys of type %s' % role['key_type'])
            if have_type == 'rsa' and have_bits < role['key_bits']:
                raise _bad("role requires a minimum of a %d-bit key, but CSR's key is %d bits"
                           % (role['key_bits'], have_bits))
            if have_type == 'ec' and have_bits != role['key_bits']:
                raise _bad("role requires a %d-bit ECDSA key, but CSR's key is %d bits"
                           % (role['key_bits'], have_bits))
        try:
            csr_sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            csr_sans = x509.SubjectAlternativeName([])
        cn_attrs = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = cn_attrs[0].value if (role['use_csr_common_name'] and cn_attrs) else ''
        if not common_name:
            common_name = request.get('common_name') or ''
            if not common_name and role['require_cn']:
                raise _bad('the common_name field is required, or must be provided in a CSR with '
                           '"use_csr_common_name" set to true, unless "require_cn" is set to false')
        use_csr_sans = role['use_csr_sans']
        dns_names = list(csr_sans.get_values_for_type(x509.DNSName)) if use_csr_sans else \
            parse_list(request.get('alt_names'))
        if common_name and not parse_bool(request.get('exclude_cn_from_sans', False), 'exclude_cn_from_sans') \
                and '@' not in common_name and common_name not in dns_names:
            dns_names = [common_name] + dns_names
        if common_name and not self._name_allowed(role, common_name):
            raise _bad('common name %s not allowed by this role' % common_name)
        for name in dns_names:
            if not self._name_allowed(role, name):
                raise _bad('subject alternate name %s not allowed by this role' % name)
        if use_csr_sans:
            ips = [str(i) for i in csr_sans.get_values_for_type(x509.IPAddress)]
            if ips and not role['allow_ip_sans']:
                raise _bad('IP Subject Alternative Names are not allowed in this role, but was provided some via CSR')
            uris = list(csr_sans.get_values_for_type(x509.UniformResourceIdentifier))
            via = 'CSR'
        else:
            ips = parse_list(request.get('ip_sans'))
            if ips and not role['allow_ip_sans']:
                raise _bad('IP Subject Alternative Names are not allowed in this role, but was provided %s'
                           % '[%s]' % ' '.join(ips))
            uris = parse_list(request.get('uri_sans'))
            via = 'the API'
        if uris:
            if not role['allowed_uri_sans']:
                raise _bad('URI Subject Alternative Names are not allowed in this role, but were provided via %s' % via)
            for uri in uris:
                if not any(go_glob(pattern, uri) for pattern in role['allowed_uri_sans']):
                    raise _bad('URI Subject Alternative Names were provided via %s which are not valid for this role'
                               % via)
        issuer_cert = issuer['cert']
        not_before, not_after, warnings = self._not_after(request, role['ttl'], role['max_ttl'], issuer_cert)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        sans = [x509.DNSName(d) for d in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] + \
            [x509.UniformResourceIdentifier(u) for u in uris]
        eku = []
        if role['server_flag']:
            eku.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if role['client_flag']:
            eku.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if role['code_signing_flag']:
            eku.append(ExtendedKeyUsageOID.CODE_SIGNING)
        if role['email_protection_flag']:
            eku.append(ExtendedKeyUsageOID.EMAIL_PROTECTION)
        cert = self._build(subject, public_key, self.keys[issuer['key_id']], issuer_cert,
                           not_before - datetime.timedelta(seconds=role['not_before_duration']), not_after, ca=False,
                           sans=sans, key_usage=role['key_usage'], eku=eku,
                           basic_constraints=role['basic_constraints_valid_for_non_ca'])
        chain = [_pem(c) for c in self._chain(issuer_id)]
        return _response({'certificate': _pem(cert), 'issuing_ca': chain[0], 'ca_chain': chain,
                          'serial_number': _serial_text(cert.serial_number),
                          'expiration': int(cert.not_valid_after_utc.timestamp())}, request.warnings + warnings)

    @staticmethod
    def _name_allowed(role, name):
        """A reduced ValidateNames: hostnames, localhost, allowed domains (bare, sub, glob)."""
        if role['enforce_hostnames'] and not re.fullmatch(
                r'(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?',
                name):
            return False
        if name.startswith('*.') and not role['allow_wildcard_certificates']:
            return False
        if role['allow_any_name']:
            return True
        if role['allow_localhost'] and name in ('localhost', 'localdomain'):
            return True
        for domain in role['allowed_domains']:
            if role['allow_bare_domains'] and name == domain:
                return True
            if role['allow_subdomains'] and name.endswith('.' + domain):
                return True
            if role['allow_glob_domains'] and '*' in domain and go_glob(domain, name):
                return True
        return False


# ------------------------------------------------------------------------------------------
# Kubernetes auth method

class KubernetesAuthBackend:
    def __init__(self, mount):
        self.mount = mount
        self.config = None
        self.roles = {}

    def route(self, request, rest):
        if rest == 'config':
            return Route(self.config_endpoint, exists=self.config is not None)
        m = re.fullmatch(r'role/([^/]+)', rest)
        if m:
            name = m.group(1)
            return Route(lambda r: self.role(r, name), exists=name in self.roles)
        if rest == 'role' and request.operation == 'list':
            return Route(lambda r: PkiBackend.list_keys(sorted(self.roles)))
        if rest == 'login':
            return Route(self.login)
        return None

    @staticmethod
    def login(request):
        raise VaultAPIError(400, 'login is not emulated by the Vault API emulator (see docs/testing-vault.md)')

    def config_endpoint(self, request):
        if request.operation == 'read':
            if self.config is None:
                return _response(None)
            data = dict(self.config)
            data['token_reviewer_jwt_set'] = bool(data.pop('token_reviewer_jwt', ''))
            return _response(data)
        _known(request, ('kubernetes_host', 'kubernetes_ca_cert', 'token_reviewer_jwt', 'pem_keys', 'issuer',
                         'disable_iss_validation', 'disable_local_ca_jwt', 'use_annotations_as_alias_metadata'))
        host = request.get('kubernetes_host') or ''
        if not host:
            raise _bad('no host provided')
        ca_cert = request.get('kubernetes_ca_cert') or ''
        if ca_cert:
            try:
                x509.load_pem_x509_certificates(ca_cert.encode('ascii'))
            except Exception:
                raise _bad('failed to parse kubernetes_ca_cert: no PEM-encoded certificate found')
        # a write replaces the whole configuration, the reviewer JWT included
        self.config = {
            'kubernetes_host': host, 'kubernetes_ca_cert': ca_cert, 'pem_keys': parse_list(request.get('pem_keys')),
            'issuer': request.get('issuer') or '', 'disable_iss_validation': True,
            'disable_local_ca_jwt': parse_bool(request.get('disable_local_ca_jwt', False), 'disable_local_ca_jwt'),
            'use_annotations_as_alias_metadata': False, 'token_reviewer_jwt': request.get('token_reviewer_jwt') or '',
        }
        return 204, None

    def role(self, request, name):
        if request.operation == 'read':
            if name not in self.roles:
                raise VaultAPIError(404)
            return _response(dict(self.roles[name]))
        if request.operation == 'delete':
            self.roles.pop(name, None)
            return 204, None
        _known(request, ('bound_service_account_names', 'bound_service_account_namespaces',
                         'bound_service_account_namespace_selector', 'audience', 'alias_name_source',
                         'token_policies', 'policies', 'token_ttl', 'ttl', 'token_max_ttl', 'max_ttl', 'token_type',
                         'token_bound_cidrs', 'token_no_default_policy', 'token_num_uses', 'token_period', 'period',
                         'token_explicit_max_ttl', 'name'))
        names = parse_list(request.get('bound_service_account_names'))
        namespaces = parse_list(request.get('bound_service_account_namespaces'))
        if not names:
            raise _bad('"bound_service_account_names" can not be empty')
        if not namespaces and not request.get('bound_service_account_namespace_selector'):
            raise _bad('"bound_service_account_namespaces" can not be empty')
        if names == ['*'] and namespaces == ['*']:
            raise _bad('can not set both bound_service_account_names and bound_service_account_namespaces to "*"')
        policies = parse_list(request.get('token_policies', request.get('policies')))
        ttl = parse_duration(request.get('token_ttl', request.get('ttl')), 'token_ttl')
        max_ttl = parse_duration(request.get('token_max_ttl', request.get('max_ttl')), 'token_max_ttl')
        self.roles[name] = {
            'bound_service_account_names': names, 'bound_service_account_namespaces': namespaces,
            'bound_service_account_namespace_selector': request.get('bound_service_account_namespace_selector') or '',
            'audience': request.get('audience') or '', 'alias_name_source': request.get('alias_name_source')
            or 'serviceaccount_uid', 'token_policies': policies, 'policies': policies, 'token_ttl': ttl, 'ttl': ttl,
            'token_max_ttl': max_ttl, 'max_ttl': max_ttl, 'token_type': request.get('token_type') or 'default',
            'token_bound_cidrs': [], 'token_no_default_policy': False, 'token_num_uses': 0, 'token_period': 0,
            'period': 0, 'token_explicit_max_ttl': 0,
        }
        return 204, None


# ------------------------------------------------------------------------------------------
# the server

# ------------------------------------------------------------------------------------------
# KV secrets engine, version 2 (vault-plugin-secrets-kv: path_config.go, path_data.go,
# path_metadata.go, path_delete.go, path_destroy.go)

KV_DEFAULT_MAX_VERSIONS = 10  # Vault's default when neither the mount nor the key sets max_versions
CAS_MISMATCH = 'check-and-set parameter did not match the current version'
CAS_REQUIRED = 'check-and-set parameter required for this call'
KV_INVALID_PATH = ("Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API "
                   "endpoints to use. If using the Vault CLI, use 'vault kv %s' for this operation.")


def _rfc3339(moment=None):
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class KvV2Backend:
    """A versioned K/V store: every write is a new version, ``options.cas`` is check-and-set
    (``cas=0`` writes only when the key does not exist yet), ``cas_required`` on the mount or
    the key refuses writes without it, and at most ``max_versions`` versions are kept."""

    def __init__(self, mount):
        self.mount = mount
        self.config = {'max_versions': 0, 'cas_required': False, 'delete_version_after': 0}
        self.keys = {}  # path -> metadata dict with 'versions' {int: version dict}

    def route(self, request, rest):
        op = request.operation
        if rest == 'config':
            if op in ('read', 'update', 'create'):
                return Route(self.config_endpoint)
            return None
        section, _slash, path = rest.partition('/')
        if section == 'metadata' and op == 'list':
            return Route(lambda r: self.list_keys(path))
        if not path:
            return Route(self.invalid_path)
        if section == 'data' and op in ('read', 'update', 'create', 'delete'):
            return Route(lambda r: self.data(r, path), exists=self._live(path))
        if section == 'metadata' and op in ('read', 'update', 'create', 'delete'):
            return Route(lambda r: self.metadata(r, path), exists=path in self.keys)
        if section in ('delete', 'undelete', 'destroy') and op in ('update', 'create'):
            return Route(lambda r: self.versions_endpoint(r, section, path))
        return Route(self.invalid_path)

    @staticmethod
    def invalid_path(request):
        command = {'read': 'get', 'list': 'list', 'delete': 'delete'}.get(request.operation, 'put')
        return _response(None, warnings=[KV_INVALID_PATH % command], status=404)

    def _live(self, path):
        meta = self.keys.get(path)
        return bool(meta) and bool(meta['versions'])

    def _max_versions(self, meta):
        return meta['max_versions'] or self.config['max_versions'] or KV_DEFAULT_MAX_VERSIONS

    def _version_metadata(self, version, number):
        return {'created_time': version['created_time'], 'custom_metadata': None,
                'deletion_time': version['deletion_time'], 'destroyed': version['destroyed'], 'version': number}

    def config_endpoint(self, request):
        if request.operation == 'read':
            return _response({'cas_required': self.config['cas_required'], 'max_versions': self.config['max_versions'],
                              'delete_version_after': go_duration(self.config['delete_version_after'])})
        _known(request, ('max_versions', 'cas_required', 'delete_version_after'))
        if 'max_versions' in request.body:
            self.config['max_versions'] = parse_int(request.get('max_versions'), 'max_versions')
        if 'cas_required' in request.body:
            self.config['cas_required'] = parse_bool(request.get('cas_required'), 'cas_required')
        if 'delete_version_after' in request.body:
            self.config['delete_version_after'] = parse_duration(request.get('delete_version_after'),
                                                                 'delete_version_after')
        return 204, None

    def _new_metadata(self):
        now = _rfc3339()
        return {'versions': {}, 'current_version': 0, 'oldest_version': 0, 'max_versions': 0, 'cas_required': False,
                'delete_version_after': 0, 'custom_metadata': None, 'created_time': now, 'updated_time': now}

    def data(self, request, path):
        meta = self.keys.get(path)
        if request.operation == 'read':
            return self._read(request, path, meta)
        if request.operation == 'delete':
            if meta and meta['current_version'] in meta['versions']:
                version = meta['versions'][meta['current_version']]
                if not version['deletion_time'] and not version['destroyed']:
                    version['deletion_time'] = _rfc3339()
            return 204, None
        _known(request, ('data', 'options'))
        data = request.get('data')
        if data is None:
            raise _bad('no data provided')
        if not isinstance(data, dict):
            raise _bad("error converting input for field \"data\": '' expected a map, got '%s'"
                       % type(data).__name__)
        options = request.get('options') or {}
        if not isinstance(options, dict):
            raise _bad("error converting input for field \"options\": '' expected a map, got '%s'"
                       % type(options).__name__)
        cas_required = self.config['cas_required'] or bool(meta and meta['cas_required'])
        if 'cas' in options:
            cas = parse_int(options['cas'], 'cas')
            if cas != (meta['current_version'] if meta else 0):
                raise _bad(CAS_MISMATCH)
        elif cas_required:
            raise _bad(CAS_REQUIRED)
        if meta is None:
            meta = self.keys[path] = self._new_metadata()
        number = meta['current_version'] + 1
        now = _rfc3339()
        meta['versions'][number] = {'data': json.loads(json.dumps(data)), 'created_time': now, 'deletion_time': '',
                                    'destroyed': False}
        meta['current_version'] = number
        meta['updated_time'] = now
        if not meta['oldest_version']:
            meta['oldest_version'] = number
        while len(meta['versions']) > self._max_versions(meta):
            oldest = min(meta['versions'])
            del meta['versions'][oldest]
            meta['oldest_version'] = min(meta['versions'])
        return _response(self._version_metadata(meta['versions'][number], number))

    def _read(self, request, path, meta):
        if meta is None or not meta['versions']:
            raise VaultAPIError(404)
        raw = (request.query.get('version') or [None])[0]
        number = parse_int(raw, 'version') if raw not in (None, '', '0') else meta['current_version']
        version = meta['versions'].get(number)
        if version is None:
            raise VaultAPIError(404)
        metadata = self._version_metadata(version, number)
        if version['deletion_time'] or version['destroyed']:
            # Vault answers a deleted version with 404 and its metadata, without the data.
            return _response({'data': None, 'metadata': metadata}, status=404)
        return _response({'data': json.loads(json.dumps(version['data'])), 'metadata': metadata})

    def metadata(self, request, path):
        meta = self.keys.get(path)
        if request.operation == 'read':
            if meta is None:
                raise VaultAPIError(404)
            versions = dict((str(n), {'created_time': v['created_time'], 'deletion_time': v['deletion_time'],
                                      'destroyed': v['destroyed']}) for n, v in sorted(meta['versions'].items()))
            return _response({'cas_required': meta['cas_required'], 'created_time': meta['created_time'],
                              'current_version': meta['current_version'], 'custom_metadata': meta['custom_metadata'],
                              'delete_version_after': go_duration(meta['delete_version_after']),
                              'max_versions': meta['max_versions'], 'oldest_version': meta['oldest_version'],
                              'updated_time': meta['updated_time'], 'versions': versions})
        if request.operation == 'delete':
            self.keys.pop(path, None)
            return 204, None
        _known(request, ('max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'))
        if meta is None:
            meta = self.keys[path] = self._new_metadata()
        if 'max_versions' in request.body:
            meta['max_versions'] = parse_int(request.get('max_versions'), 'max_versions')
        if 'cas_required' in request.body:
            meta['cas_required'] = parse_bool(request.get('cas_required'), 'cas_required')
        if 'delete_version_after' in request.body:
            meta['delete_version_after'] = parse_duration(request.get('delete_version_after'), 'delete_version_after')
        if 'custom_metadata' in request.body:
            meta['custom_metadata'] = request.get('custom_metadata')
        meta['updated_time'] = _rfc3339()
        return 204, None

    def versions_endpoint(self, request, action, path):
        _known(request, ('versions',))
        numbers = [parse_int(v, 'versions') for v in parse_list(request.get('versions'))]
        if not numbers:
            raise _bad('no version number provided')
        meta = self.keys.get(path)
        for number in numbers:
            version = (meta or {}).get('versions', {}).get(number)
            if version is None or version['destroyed']:
                continue
            if action == 'delete' and not version['deletion_time']:
                version['deletion_time'] = _rfc3339()
            elif action == 'undelete':
                version['deletion_time'] = ''
            elif action == 'destroy':
                version['destroyed'] = True
                version['data'] = None
        return 204, None

    def list_keys(self, prefix):
        prefix = prefix.strip('/')
        prefix = prefix + '/' if prefix else ''
        found = set()
        for path in self.keys:
            if path.startswith(prefix):
                rest = path[len(prefix):]
                found.add(rest.split('/', 1)[0] + '/' if '/' in rest else rest)
        if not found:
            raise VaultAPIError(404)
        return _response({'keys': sorted(found)})


class VaultEmulator:
    """The whole emulated Vault: namespaces, tokens, seal state, and an HTTP server."""

    def __init__(self, root_token=None):
        self.root_token = root_token or 'hvs.' + secrets.token_urlsafe(24)
        self.unseal_key = secrets.token_hex(32)
        self.sealed = False
        self.namespaces = {'': Namespace('')}
        self.tokens = {self.root_token: {'policies': ['root'], 'namespace': '', 'accessor': secrets.token_hex(12),
                                         'display_name': 'root', 'creation_time': int(time.time())}}
        self.lock = threading.RLock()
        self.requests = []  # (method, namespace, path, status): what the module asked, for tests
        self.faults = []  # pending Fault objects (inject_fault)
        self.fired = []  # (kind, write number, path) of faults that went off
        self.denied_paths = set()  # paths a 'forbid' fault denied to every non-root token
        self.write_count = 0  # state-changing requests so far (see READ_ONLY_POSTS)
        self._held = None  # hold_reads(): GETs of one path answered in rounds
        self._server = None
        self._thread = None
        self.url = None

    # -- test helpers ----------------------------------------------------------------------
    def start(self, host='127.0.0.1', port=0):
        emulator = self

        class Handler(VaultRequestHandler):
            vault = emulator

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = 'http://%s:%d' % (host, self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
                                        name='vault-emulator', daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def create_token(self, policies, namespace='', no_default_policy=False):
        with self.lock:
            token = 'hvs.' + secrets.token_urlsafe(24)
            policies = list(policies) + ([] if no_default_policy or 'root' in policies else ['default'])
            self.tokens[token] = {'policies': sorted(set(policies)), 'namespace': namespace,
                                  'accessor': secrets.token_hex(12), 'display_name': 'token',
                                  'creation_time': int(time.time())}
            return token

    def put_policy(self, name, text, namespace=''):
        with self.lock:
            parse_policy(text)
            self.namespaces[namespace].policies[name] = text

    def create_namespace(self, name):
        with self.lock:
            self.namespaces.setdefault(name.strip('/'), Namespace(name.strip('/')))

    def seal(self):
        self.sealed = True

    def revoke_token(self, token):
        with self.lock:
            self.tokens.pop(token, None)

    def inject_fault(self, kind, before_write=None, path=None):
        """Make Vault fail just before a write, the way it fails in production.

        ``kind``: ``seal`` (Vault is sealed from then on: 503 ``Vault is sealed`` until :meth:`unseal`),
        ``forbid`` (the write's path is denied to every non-root token from then on, as if an
        operator had added ``capabilities = ["deny"]`` for it: 403, and ``sys/capabilities-self``
        answers ``["deny"]``, until :meth:`clear_faults`), or ``revoke`` (the requesting token is
        revoked: 403 on everything, lookup-self included). ``before_write``: the number (1-based) of
        the state-changing request to fail, counting like :meth:`state_writes`; or ``path``: the first
        write to exactly that API path. Give exactly one. The fault fires once; the write it hits is
        not applied."""
        if kind not in FAULT_KINDS:
            raise ValueError('fault kind %r: use one of %s' % (kind, ', '.join(FAULT_KINDS)))
        if (before_write is None) == (path is None):
            raise ValueError('give exactly one of before_write (a write number) or path (an API path)')
        if before_write is not None and (isinstance(before_write, bool) or not isinstance(before_write, int)
                                         or before_write < 1):
            raise ValueError('before_write must be a write number from 1, not %r' % (before_write,))
        with self.lock:
            self.faults.append({'kind': kind, 'before_write': before_write, 'path': path.strip('/') if path else None})

    def hold_reads(self, path, parties=2, reads=None, timeout=120):
        """Answer the first ``reads`` (default ``parties``) GETs of exactly ``path`` in rounds of
        ``parties``: each waits until the others of its round have arrived. Two control nodes then
        see the same state at the same moment (e.g. both find no mesh root), which makes a race
        certain instead of likely. A round that never fills is released after ``timeout`` seconds."""
        with self.lock:
            self._held = {'path': path.strip('/'), 'left': reads or parties,
                          'barrier': threading.Barrier(parties, timeout=timeout)}

    def _wait_if_held(self, method, path):
        held = self._held
        if not held or method != 'GET' or path != held['path']:
            return
        with self.lock:
            if held['left'] <= 0:
                return
            held['left'] -= 1
        try:
            held['barrier'].wait()
        except threading.BrokenBarrierError:
            pass

    def clear_faults(self):
        """Drop pending faults and the denials of fired ``forbid`` faults (a sealed Vault stays sealed)."""
        with self.lock:
            self.faults = []
            self.denied_paths = set()

    def state_writes(self):
        """(method, namespace, path, status) of every request that could change state: not reads,
        lists, nor the POSTs that only look (sys/capabilities-self, lookup-self)."""
        return [r for r in self.requests if r[0] not in ('GET', 'LIST', 'HEAD') and r[2] not in READ_ONLY_POSTS]

    def _maybe_fault(self, path, token):
        self.write_count += 1
        for fault in list(self.faults):
            if fault['before_write'] == self.write_count or fault['path'] == path:
                self.faults.remove(fault)
                self.fired.append((fault['kind'], self.write_count, path))
                if fault['kind'] == 'seal':
                    self.sealed = True
                    raise VaultAPIError(503, 'Vault is sealed')
                if fault['kind'] == 'revoke':
                    self.tokens.pop(token, None)
                else:
                    self.denied_paths.add(path)
                raise VaultAPIError(403, PERMISSION_DENIED)

    def unseal(self):
        self.sealed = False

    def state(self, namespace=''):
        return self.namespaces[namespace]

    def pki(self, mount, namespace=''):
        return self.namespaces[namespace].mounts[mount.strip('/') + '/'].backend

    def sign_workload_csr(self, issuer_path, spiffe_id, token=None, ttl=None, key_type='ec', key_bits=None,
                          namespace=None):
        """Get a workload certificate signed the way istio-csr does through cert-manager: a CSR
        with only the SPIFFE URI SAN, no CN, POSTed to ``<issuer_path>`` (e.g. pki_int/sign/istio-mesh).

        Returns the JSON response (``data.certificate``, ``data.ca_chain``...) plus ``private_key``."""
        key_pem, csr_pem = make_spiffe_csr(spiffe_id, key_type=key_type, key_bits=key_bits)
        body = {'csr': csr_pem}
        if ttl:
            body['ttl'] = ttl
        request = urllib.request.Request(
            '%s/v1/%s' % (self.url, issuer_path.strip('/')), data=json.dumps(body).encode(), method='POST',
            headers=dict([('X-Vault-Token', token or self.root_token), ('Content-Type', 'application/json')]
                         + ([('X-Vault-Namespace', namespace)] if namespace else [])))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            result = json.loads(exc.read() or b'{}')
            result['status'] = exc.code
            return result
        result['private_key'] = key_pem
        result['status'] = 200
        return result

    # -- request handling ------------------------------------------------------------------
    def handle(self, method, raw_path, headers, body_bytes):
        split = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qs(split.query)
        path = urllib.parse.unquote(split.path)
        if not path.startswith('/v1/'):
            return 404, {'errors': []}
        path = path[len('/v1/'):].strip('/')
        try:
            body = json.loads(body_bytes.decode('utf-8')) if body_bytes else {}
            if not isinstance(body, dict):
                raise ValueError('not an object')
        except ValueError:
            return 400, {'errors': ['failed to parse JSON input: invalid character']}
        self._wait_if_held(method, path)
        with self.lock:
            try:
                result = self._handle(method, path, query, headers, body)
            except VaultAPIError as exc:
                result = exc.status, {'errors': exc.errors}
            self.requests.append((method, headers.get('X-Vault-Namespace', ''), path, result[0]))
            return result

    def _operation(self, method, query):
        if method == 'LIST' or (method == 'GET' and query.get('list', [''])[0] in ('true', '1')):
            return 'list'
        return {'GET': 'read', 'HEAD': 'read', 'POST': 'update', 'PUT': 'update', 'PATCH': 'patch',
                'DELETE': 'delete'}.get(method)

    def _handle(self, method, path, query, headers, body):
        operation = self._operation(method, query)
        if operation is None:
            raise VaultAPIError(405, 'unsupported operation')
        if path == 'sys/seal-status' or path == 'sys/health':
            return self._seal_status(path)
        if path == 'sys/unseal' and method in ('PUT', 'POST'):
            if body.get('reset'):
                return 200, self._seal_status_body()
            if body.get('key') != self.unseal_key:
                raise _bad('Unseal failed, invalid key')
            self.sealed = False
            return 200, self._seal_status_body()
        if self.sealed:
            raise VaultAPIError(503, 'Vault is sealed')
        namespace_name = (headers.get('X-Vault-Namespace') or '').strip('/')
        namespace = self.namespaces.get(namespace_name)
        if namespace is None:
            raise VaultAPIError(404, 'no handler for route "%s". route entry not found.' % path)
        token = headers.get('X-Vault-Token') or ''
        auth = headers.get('Authorization') or ''
        if not token and auth.lower().startswith('bearer '):
            token = auth[7:].strip()
        token_info = self.tokens.get(token)
        if token_info is None:
            raise VaultAPIError(403, 'permission denied')
        if operation in ('create', 'update', 'delete', 'patch') and path not in READ_ONLY_POSTS:
            self._maybe_fault(path, token)
        request = Request(method, path, operation, body, token_info, namespace)
        request.query = query
        route = self._route(request, namespace)
        if route is not None and operation == 'update' and route.exists is not None:
            request.operation = operation = 'update' if route.exists else 'create'
        self._authorize(token_info, namespace_name, route.acl_path if route and route.acl_path else path, operation,
                        route.sudo if route else False)
        if route is None:
            raise VaultAPIError(404, 'no handler for route "%s". route entry not found.' % path)
        result = route.handler(request)
        if result[0] == 200 and isinstance(result[1], dict) and request.warnings and not result[1].get('warnings'):
            result[1]['warnings'] = request.warnings
        return result

    def _authorize(self, token_info, namespace_name, path, operation, sudo):
        if 'root' in token_info['policies']:
            return
        if path in self.denied_paths:
            raise VaultAPIError(403, PERMISSION_DENIED)
        token_ns = token_info['namespace']
        if token_ns and not (namespace_name == token_ns or namespace_name.startswith(token_ns + '/')):
            raise VaultAPIError(403, PERMISSION_DENIED)
        relative = namespace_name[len(token_ns):].strip('/')
        full_path = '%s/%s' % (relative, path) if relative else path
        texts = [self.namespaces[token_ns].policies[p] for p in token_info['policies']
                 if p in self.namespaces[token_ns].policies]
        caps = allowed_capabilities(texts, full_path)
        needed = {'patch': 'patch'}.get(operation, operation)
        if needed not in caps or (sudo and 'sudo' not in caps):
            raise VaultAPIError(403, PERMISSION_DENIED)

    def _seal_status_body(self):
        return {'type': 'shamir', 'initialized': True, 'sealed': self.sealed, 't': 1, 'n': 1, 'progress': 0,
                'nonce': '', 'version': VAULT_VERSION, 'build_date': '2024-06-10T10:11:34Z', 'migration': False,
                'cluster_name': 'vault-emulator', 'cluster_id': 'emulated', 'recovery_seal': False,
                'storage_type': 'inmem'}

    def _seal_status(self, path):
        if path == 'sys/health':
            return (503 if self.sealed else 200), {'initialized': True, 'sealed': self.sealed, 'standby': False,
                                                   'performance_standby': False, 'version': VAULT_VERSION,
                                                   'server_time_utc': int(time.time())}
        return 200, self._seal_status_body()

    # -- routing ---------------------------------------------------------------------------
    def _route(self, request, namespace):
        path, op = request.path, request.operation
        if path.startswith('sys/'):
            return self._sys_route(request, namespace, path[4:])
        if path.startswith('auth/token/'):
            return self._token_route(request, path[len('auth/token/'):])
        if path.startswith('auth/'):
            rest = path[5:] + '/'
            for mount_path in sorted(namespace.auth, key=len, reverse=True):
                if rest.startswith(mount_path):
                    return namespace.auth[mount_path].backend.route(request, rest[len(mount_path):].strip('/'))
            return None
        for mount_path in sorted(namespace.mounts, key=len, reverse=True):
            if (path + '/').startswith(mount_path):
                return namespace.mounts[mount_path].backend.route(request, path[len(mount_path):].strip('/'))
        del op
        return None

    def _sys_route(self, request, namespace, rest):
        op = request.operation
        if rest == 'mounts' and op == 'read':
            return Route(lambda r: self._list_mounts(namespace.mounts))
        if rest == 'auth' and op == 'read':
            return Route(lambda r: self._list_mounts(namespace.auth))
        m = re.fullmatch(r'mounts/(.+)/tune', rest)
        if m:
            return Route(lambda r: self._tune(r, namespace, m.group(1)))
        m = re.fullmatch(r'mounts/(.+)', rest)
        if m:
            return Route(lambda r: self._mount(r, namespace, m.group(1), namespace.mounts, 'secret'))
        m = re.fullmatch(r'auth/(.+)', rest)
        if m:
            # sys/auth/* is in the system backend's PathsSpecial.Root: every operation needs sudo
            return Route(lambda r: self._mount(r, namespace, m.group(1), namespace.auth, 'auth'), sudo=True)
        if rest in ('policies/acl', 'policy') and op == 'list':
            return Route(lambda r: _response({'keys': sorted(namespace.policies) + ['root'],
                                              'policies': sorted(namespace.policies) + ['root']}))
        m = re.fullmatch(r'policies/acl/([^/]+)', rest)
        if m:
            name = m.group(1).lower()
            return Route(lambda r: self._policy(r, namespace, name), exists=name in namespace.policies)
        m = re.fullmatch(r'namespaces/(.+)', rest)
        if m and op in ('update', 'create'):
            return Route(lambda r: self._create_namespace(namespace, m.group(1)))
        if rest == 'seal' and op in ('update', 'create'):
            return Route(lambda r: (self.seal(), (204, None))[1], sudo=True)
        if rest == 'capabilities-self' and op in ('update', 'create'):
            return Route(lambda r: self._capabilities_self(r, namespace))
        return None

    def _token_route(self, request, rest):
        if rest == 'lookup-self' and request.operation in ('read', 'update'):
            return Route(self._lookup_self, acl_path='auth/token/lookup-self')
        if rest == 'create' and request.operation in ('update', 'create'):
            return Route(self._create_token_endpoint)
        return None

    # -- sys endpoints ---------------------------------------------------------------------
    @staticmethod
    def _list_mounts(mounts):
        listing = dict((p, m.describe()) for p, m in mounts.items())
        status, body = _response(listing)
        body.update(listing)  # Vault also repeats the mounts at the top level, for old clients
        return status, body

    def _mount(self, request, namespace, path, table, kind):
        key = path.strip('/') + '/'
        if request.operation == 'read':
            if key not in table:
                raise _bad('No secret engine mount at %s' % key)
            return _response(table[key].describe())
        if request.operation == 'delete':
            table.pop(key, None)
            return 204, None
        mount_type = request.get('type') or ''
        if not mount_type:
            raise _bad('backend type must be specified as a string')
        if kind == 'secret':
            supported = ('pki', 'kv', 'transit', 'ssh', 'database')
        else:
            supported = ('kubernetes', 'approle', 'jwt', 'userpass')
        if mount_type not in supported:
            raise _bad('plugin not found in the catalog: %s' % mount_type)
        for existing in table:
            if key.startswith(existing) or existing.startswith(key):
                raise _bad('path is already in use at %s' % existing)  # auth mounts too: no auth/ prefix
        options = request.get('options') or None
        table[key] = Mount(key, mount_type, request.get('description') or '', request.get('config') or {}, options,
                           kind=kind)
        return 204, None

    def _tune(self, request, namespace, path):
        key = path.strip('/') + '/'
        mount = namespace.mounts.get(key)
        if path.startswith('auth/'):
            mount = namespace.auth.get(path[5:].strip('/') + '/')
        if mount is None:
            raise _bad('cannot fetch sysview for path "%s"' % key)
        if request.operation == 'read':
            return _response({'description': mount.description, 'default_lease_ttl': mount.effective_default_ttl(),
                              'max_lease_ttl': mount.effective_max_ttl(), 'force_no_cache': False,
                              'options': mount.options})
        default_ttl = mount.default_lease_ttl
        max_ttl = mount.max_lease_ttl
        if 'max_lease_ttl' in request.body:
            value = request.get('max_lease_ttl')
            max_ttl = 0 if value in ('system', 0, '0') else parse_duration(value, 'max_lease_ttl')
        if 'default_lease_ttl' in request.body:
            value = request.get('default_lease_ttl')
            default_ttl = 0 if value in ('system', 0, '0') else parse_duration(value, 'default_lease_ttl')
        if (default_ttl or SYSTEM_DEFAULT_TTL) > (max_ttl or SYSTEM_DEFAULT_TTL) and default_ttl:
            raise _bad('backend max lease TTL of %d would be less than backend default lease TTL of %d'
                       % (max_ttl or SYSTEM_DEFAULT_TTL, default_ttl))
        mount.max_lease_ttl, mount.default_lease_ttl = max_ttl, default_ttl
        if 'description' in request.body:
            mount.description = request.get('description') or ''
        return 204, None

    def _policy(self, request, namespace, name):
        if request.operation == 'read':
            if name == 'root':
                return _response({'name': 'root', 'policy': ''})
            if name not in namespace.policies:
                raise VaultAPIError(404)
            return _response({'name': name, 'policy': namespace.policies[name]})
        if name == 'root':
            raise _bad('cannot update "root" policy' if request.operation != 'delete' else 'cannot delete "root" policy')
        if request.operation == 'delete':
            if name == 'default':
                raise _bad('cannot delete "default" policy')
            namespace.policies.pop(name, None)
            return 204, None
        text = request.get('policy')
        if text is None:
            raise _bad("'policy' parameter not supplied or empty")
        parse_policy(text)
        namespace.policies[name] = text
        return 204, None

    def _create_namespace(self, parent, name):
        full = '/'.join(p for p in (parent.name, name.strip('/')) if p)
        self.namespaces.setdefault(full, Namespace(full))
        return _response({'path': full + '/', 'id': secrets.token_hex(3), 'custom_metadata': {}})

    def _capabilities_self(self, request, namespace):
        """sys/capabilities-self: the token's capabilities on each path (``root`` for a root token,
        ``deny`` for none), keyed by path in ``data`` and, for old clients, at the top level."""
        paths = request.get('paths', request.get('path'))
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths:
            raise _bad("'paths' parameter not supplied or empty")
        info = request.token
        # paths are relative to the request's namespace; policies to the token's (as _authorize)
        relative = namespace.name[len(info['namespace']):].strip('/')
        answer = {}
        for path in paths:
            path = str(path).strip('/')
            if 'root' in info['policies']:
                answer[path] = ['root']
                continue
            texts = [self.namespaces[info['namespace']].policies[p] for p in info['policies']
                     if p in self.namespaces[info['namespace']].policies]
            full_path = '%s/%s' % (relative, path) if relative else path
            caps = set() if path in self.denied_paths else allowed_capabilities(texts, full_path)
            answer[path] = sorted(caps) or ['deny']
        data = dict(answer)
        data['capabilities'] = sorted(set(c for caps in answer.values() for c in caps))
        status, body = _response(data)
        body.update(data)
        return status, body

    def _lookup_self(self, request):
        info = request.token
        token = next(t for t, v in self.tokens.items() if v is info)
        return _response({'accessor': info['accessor'], 'creation_time': info['creation_time'], 'creation_ttl': 0,
                          'display_name': info['display_name'], 'entity_id': '', 'expire_time': None,
                          'explicit_max_ttl': 0, 'id': token, 'meta': None, 'num_uses': 0, 'orphan': True,
                          'path': 'auth/token/create', 'policies': info['policies'], 'renewable': False, 'ttl': 0,
                          'type': 'service', 'namespace_path': (info['namespace'] + '/') if info['namespace'] else ''})

    def _create_token_endpoint(self, request):
        parent = request.token['policies']
        wanted = parse_list(request.get('policies')) or [p for p in parent if p != 'default']
        if 'root' not in parent and not set(wanted) <= set(parent):
            raise _bad('child policies must be subset of parent')
        token = self.create_token(wanted, request.token['namespace'],
                                  parse_bool(request.get('no_default_policy', False), 'no_default_policy'))
        info = self.tokens[token]
        return _response(None, auth={'client_token': token, 'accessor': info['accessor'], 'policies': info['policies'],
                                     'token_policies': info['policies'], 'metadata': None, 'lease_duration': 0,
                                     'renewable': False, 'entity_id': '', 'token_type': 'service', 'orphan': False})


class VaultRequestHandler(BaseHTTPRequestHandler):
    vault = None
    protocol_version = 'HTTP/1.1'
    server_version = 'VaultEmulator/' + VAULT_VERSION

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms per request
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # keep test output clean; requests are in vault.requests
        pass

    def _serve(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        wanted = ('X-Vault-Token', 'X-Vault-Namespace', 'Authorization')
        headers = dict((name, self.headers.get(name)) for name in wanted)
        status, payload = self.vault.handle(self.command, self.path, headers, body)
        if status == 204 or payload is None:
            self.send_response(204)
            self.send_header('Cache-Control', 'no-store')
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        if isinstance(payload, tuple):
            content_type, raw = payload
        elif isinstance(payload, str):
            content_type, raw = 'text/plain', payload.encode()
        else:
            content_type, raw = 'application/json', json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Cache-Control', 'no-store')
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = do_PATCH = do_HEAD = _serve


def main(argv=None):
    parser = argparse.ArgumentParser(description='Local Vault API emulator for certmesh.istio tests')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8200)
    parser.add_argument('--root-token', default=None, help='root token to accept (default: random, printed)')
    args = parser.parse_args(argv)
    vault = VaultEmulator(root_token=args.root_token)
    url = vault.start(args.host, args.port)
    print(json.dumps({'url': url, 'root_token': vault.root_token, 'unseal_key': vault.unseal_key}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    vault.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
