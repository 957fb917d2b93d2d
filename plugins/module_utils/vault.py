# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault access for certmesh.istio's own modules: an hvac client built the way
community.hashi_vault users expect (url, token, token file, namespace, TLS), and errors that
say what to do (sealed, unreachable, 403 with the missing capability, conflicting mounts).

No Ansible imports: modules hand their parameters in as a plain dict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    import hvac
    import hvac.exceptions
    HAS_HVAC = True
    HVAC_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test sanity import
    HAS_HVAC = False
    HVAC_IMPORT_ERROR = exc

try:
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover
    HAS_REQUESTS = False


class VaultError(Exception):
    """A Vault problem explained for the operator: what failed, where, and what to do."""


class VaultSealedError(VaultError):
    pass


class VaultUnreachableError(VaultError):
    pass


class VaultPermissionError(VaultError):
    pass


class VaultConflictError(VaultError):
    """Vault already holds something at the path that this module must not overwrite."""


class VaultTokenError(VaultError):
    """Vault no longer accepts the token (revoked, expired, or never valid here)."""


def connection_argument_spec():
    """Connection options, named like community.hashi_vault's so users configure Vault once."""
    return dict(
        url=dict(type='str', aliases=['vault_addr']),
        token=dict(type='str', no_log=True),
        token_path=dict(type='path'),
        token_file=dict(type='str', default='.vault-token'),
        namespace=dict(type='str'),
        ca_cert=dict(type='path', aliases=['cacert']),
        validate_certs=dict(type='bool'),
        timeout=dict(type='int', default=30),
    )


def resolve_connection(params, environ=None):
    """Turn module parameters (and the environment, like the vault CLI) into connection
    settings. Precedence: argument, then VAULT_* variable, then the token file."""
    environ = os.environ if environ is None else environ
    url = params.get('url') or environ.get('VAULT_ADDR')
    if not url:
        raise VaultError("no Vault address: set the url option or the VAULT_ADDR environment variable "
                         "(for example https://vault.example.com:8200)")
    token = params.get('token') or environ.get('VAULT_TOKEN')
    token_source = 'the token option' if params.get('token') else 'VAULT_TOKEN'
    if not token:
        token_dir = params.get('token_path') or os.path.expanduser('~')
        token_file = os.path.join(token_dir, params.get('token_file') or '.vault-token')
        if os.path.isfile(token_file):
            with open(token_file) as handle:
                token = handle.read().strip()
            token_source = 'the token file %s' % token_file
    if not token:
        raise VaultError("no Vault token for %s: set the token option, the VAULT_TOKEN environment variable, "
                         "or write it to ~/.vault-token (token_path/token_file)" % url)
    validate_certs = params.get('validate_certs')
    if validate_certs is None:
        validate_certs = environ.get('VAULT_SKIP_VERIFY', '').lower() not in ('1', 'true', 'yes')
    ca_cert = params.get('ca_cert') or environ.get('VAULT_CACERT')
    return dict(
        url=url.rstrip('/'),
        token=token,
        token_source=token_source,
        namespace=params.get('namespace') or environ.get('VAULT_NAMESPACE') or None,
        verify=(ca_cert if (ca_cert and validate_certs) else bool(validate_certs)),
        timeout=params.get('timeout') or 30,
        ca_cert_source='the ca_cert option' if params.get('ca_cert') else 'VAULT_CACERT',
    )


class VaultSession:
    """An hvac client plus the knowledge needed to explain its failures.

    Every call goes through :meth:`call`, which names the API path and the ACL capability it
    needs, so a 403 can tell the operator exactly which line is missing from the policy.
    """

    def __init__(self, connection, client=None):
        self.url = connection['url']
        self.namespace = connection.get('namespace')
        self.token_source = connection.get('token_source', 'the token')
        self.token_policies = None  # from lookup-self, for messages about missing capabilities
        if client is None:
            verify = connection['verify']
            if isinstance(verify, str) and not os.path.isfile(verify):
                # requests would fail later with "Could not find a suitable TLS CA certificate bundle"
                raise VaultError("the CA bundle %s (%s) does not exist on the host running the module: give the "
                                 "file that holds the CA of Vault's TLS certificate"
                                 % (verify, connection.get('ca_cert_source', 'ca_cert')))
            client = hvac.Client(url=connection['url'], token=connection['token'],
                                 namespace=connection.get('namespace'), verify=connection['verify'],
                                 timeout=connection.get('timeout', 30))
        self.client = client

    @property
    def where(self):
        if self.namespace:
            return '%s (namespace %s)' % (self.url, self.namespace)
        return self.url

    def call(self, vault_path, needed_capability, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # translated below; anything unknown is re-raised untouched
            translated = self.translate(exc, vault_path, needed_capability)
            if translated is exc:
                raise
            raise translated

    def translate(self, exc, path, capability):
        text = _error_text(exc)
        if 'sealed' in text.lower() and (not HAS_HVAC or isinstance(exc, hvac.exceptions.VaultError)):
            return VaultSealedError("Vault at %s is sealed: unseal it (vault operator unseal) and re-run" % self.where)
        if HAS_HVAC and isinstance(exc, hvac.exceptions.VaultDown):
            return VaultUnreachableError("Vault at %s is unavailable (503: %s): it may be a standby without a leader "
                                         "or in maintenance; check vault status and re-run" % (self.where, text))
        if HAS_HVAC and isinstance(exc, hvac.exceptions.Forbidden):
            return VaultPermissionError(
                'permission denied by Vault at %s on %s: the token from %s needs the "%s" capability on '
                'path "%s" (add it to one of the token\'s policies, see the policy in docs/modules/vault_pki.md) '
                'or the token is expired/revoked' % (self.where, path, self.token_source, capability, path))
        if HAS_HVAC and isinstance(exc, hvac.exceptions.VaultNotInitialized):
            return VaultError("Vault at %s is not initialized: run vault operator init and unseal it, then re-run" % self.where)
        if HAS_REQUESTS and isinstance(exc, requests.exceptions.SSLError) and _plain_http_answer(exc):
            return VaultUnreachableError(
                "Vault at %s answers plain HTTP where TLS was expected (protocol mismatch: %s): its listener has "
                "TLS disabled, so use %s in the url option / VAULT_ADDR, or enable TLS on Vault's listener"
                % (self.url, _short(exc), 'http://' + self.url.split('://', 1)[-1]))
        if HAS_REQUESTS and isinstance(exc, requests.exceptions.SSLError):
            return VaultUnreachableError(
                "cannot verify the TLS certificate of Vault at %s (%s): set ca_cert (or VAULT_CACERT) to the CA "
                "bundle that signed Vault's certificate" % (self.url, _short(exc)))
        if HAS_REQUESTS and isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return VaultUnreachableError(
                "cannot reach Vault at %s (%s): check the url option / VAULT_ADDR, that Vault is running "
                "and that this host can reach it" % (self.url, _short(exc)))
        if HAS_HVAC and isinstance(exc, hvac.exceptions.VaultError):
            return VaultError("Vault at %s refused the request on %s: %s" % (self.where, path, text))
        return exc

    # Small helpers over hvac's adapter for endpoints hvac has no method for.
    def read(self, path, capability='read'):
        """GET a path; None when Vault answers 404 (missing object)."""
        def _get():
            try:
                return self.client.adapter.get('/v1/%s' % path)
            except hvac.exceptions.InvalidPath:
                return None
        response = self.call(path, capability, _get)
        return response if isinstance(response, dict) else None

    def list_response(self, path, capability='list'):
        """LIST a path: the whole answer (keys and key_info), or None when Vault answers 404."""
        def _list():
            try:
                return self.client.adapter.list('/v1/%s' % path)
            except hvac.exceptions.InvalidPath:
                return None
        response = self.call(path, capability, _list)
        return response if isinstance(response, dict) else None

    def list(self, path, capability='list'):
        """The keys a LIST answers; [] when there are none (Vault answers 404)."""
        response = self.list_response(path, capability)
        return list(((response or {}).get('data') or {}).get('keys') or [])

    def write(self, path, data, capability='update'):
        response = self.call(path, capability, self.client.adapter.post, '/v1/%s' % path, json=data)
        return response if isinstance(response, dict) else None


# A set-up makes a few dozen requests: a token that expires sooner would fail half-way.
MIN_TOKEN_TTL = 60


def check_usable(session):
    """Fail early, with advice, when Vault is unreachable, sealed or the token is unusable.

    Returns lookup-self's data and keeps the token's policies on the session for later messages."""
    status = session.call('sys/seal-status', 'none (unauthenticated)', session.client.sys.read_seal_status)
    if isinstance(status, dict) and status.get('sealed'):
        raise VaultSealedError("Vault at %s is sealed: unseal it (vault operator unseal) and re-run" % session.where)
    try:
        response = session.call('auth/token/lookup-self', 'read', session.client.auth.token.lookup_self)
    except VaultPermissionError:
        raise VaultTokenError(
            "Vault at %s does not accept the token from %s (auth/token/lookup-self answered 403): the token is "
            "invalid, expired or revoked, or belongs to another namespace; log in again (vault login) and re-run"
            % (session.where, session.token_source))
    data = (response or {}).get('data') or {} if isinstance(response, dict) else {}
    session.token_policies = sorted(data.get('policies') or []) or None
    ttl = data.get('ttl')
    if isinstance(ttl, int) and 0 < ttl < MIN_TOKEN_TTL:
        raise VaultTokenError("the token from %s expires in %d s (Vault at %s): too soon to finish the run; log in "
                              "again (vault login) and re-run" % (session.token_source, ttl, session.where))
    return response


def recheck_token(session):
    """After a 403: is the token itself still valid? A revoked or expired token is named as such
    (VaultTokenError), instead of as a missing capability on whatever path came next."""
    try:
        session.call('auth/token/lookup-self', 'read', session.client.auth.token.lookup_self)
    except VaultPermissionError:
        raise VaultTokenError(
            "Vault at %s no longer accepts the token from %s (auth/token/lookup-self answers 403 now): it was "
            "revoked or has expired during the run; log in again (vault login) and re-run"
            % (session.where, session.token_source))


def _plain_http_answer(exc):
    """An https request answered by an http listener: OpenSSL reads 'HTTP/1.1 400' as a record."""
    text = str(exc).lower()
    return any(mark in text for mark in ('wrong_version_number', 'wrong version number', 'record layer failure',
                                         'packet length too long', 'http_request'))


def error_text(exc):
    """Vault's own words for a failed request (hvac keeps them in ``errors``), on one line."""
    return _error_text(exc)


def _error_text(exc):
    errors = getattr(exc, 'errors', None)
    if errors:
        if isinstance(errors, (list, tuple)):
            return '; '.join(' '.join(str(e).split()) for e in errors)
        return ' '.join(str(errors).split())
    return str(exc)


def _short(exc):
    text = str(exc)
    # requests' messages nest the real cause at the end: keep it readable
    if 'Connection refused' in text:
        return 'connection refused'
    if 'Name or service not known' in text or 'nodename nor servname' in text:
        return 'host name does not resolve'
    if 'timed out' in text.lower():
        return 'timed out'
    return text[-300:]
