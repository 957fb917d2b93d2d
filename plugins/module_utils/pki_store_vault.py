# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh PKI kept in Vault's KV version 2 secrets engine (``certmesh_pki_store: vault``).

Private to the collection. The same create-if-absent as the Secrets of ``pki_store.py``, with
KV v2's check-and-set: a write with ``options.cas = 0`` succeeds only while the key has no
version, so of two slices that race on an empty store exactly one writes the root; the other
gets 400 ``check-and-set parameter did not match the current version`` and reads the winner's.

A token that may only ``create`` and ``read`` (the policy docs/awx.md gives: the store is never
overwritten) sees the lost race differently: once the key exists Vault's existence check makes
the write an ``update``, and the ACL answers 403 before check-and-set is looked at. So a 403 on
the create is a lost race when the entry can be read right after, and a missing capability
otherwise.

An entry is the key ``<prefix>/<environment>/<entry>`` with the fields ``certificate`` and
``private_key`` (PEM). Entries are written once: a changed CA is a rotation, not a store write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import pki_store, vault

try:
    import hvac.exceptions
except ImportError:  # pragma: no cover - vault.HAS_HVAC says so, and the module fails first
    pass

CERT_FIELD = "certificate"
KEY_FIELD = "private_key"
CAS_MISMATCH = "check-and-set parameter did not match the current version"


def store_argument_spec():
    """The nested ``vault`` option of the modules that use the store (pki_store, rotation_state):
    vault_pki's connection options without aliases or token file, plus where the store is."""
    spec = dict((name, option) for name, option in vault.connection_argument_spec().items()
                if name in ("url", "token", "namespace", "ca_cert", "validate_certs", "timeout"))
    for option in spec.values():
        option.pop("aliases", None)
    spec.update(mount=dict(type="str", default="secret"), path=dict(type="str", default="certmesh"))
    return spec


def entry_path(prefix, environment, entry):
    """``<prefix>/<environment>/<entry>``: one mount can keep several environments apart."""
    return "/".join(part.strip("/") for part in (prefix, environment, entry) if part.strip("/"))


def api_path(mount, path, section="data"):
    """The API (and ACL) path of a KV v2 key: ``<mount>/data/<path>``."""
    return "%s/%s/%s" % (mount.strip("/"), section, path)


def read_entry(session, mount, path):
    """``(certificate_pem, key_pem)`` of an entry, or None when the key does not exist yet."""
    where = api_path(mount, path)
    kv = session.client.secrets.kv.v2

    def _read():
        try:
            return kv.read_secret_version(path=path, mount_point=mount.strip("/"), raise_on_deleted_version=False)
        except hvac.exceptions.InvalidPath:
            return None

    response = session.call(where, "read", _read)
    if not isinstance(response, dict):
        return None
    body = response.get("data") or {}
    data, metadata = body.get("data"), body.get("metadata") or {}
    if (data is None and metadata.get("deletion_time")) or metadata.get("destroyed"):
        raise pki_store.StoreError(
            "the latest version (%s) of %s is deleted; undelete it (vault kv undelete -mount=%s -versions=%s %s) "
            "or remove the key with its history (vault kv metadata delete -mount=%s %s); a stored CA is never "
            "replaced by a new one outside a rotation"
            % (metadata.get("version"), where, mount, metadata.get("version"), path, mount, path))
    if not isinstance(data, dict) or not isinstance(data.get(CERT_FIELD), str) \
            or not isinstance(data.get(KEY_FIELD), str):
        raise pki_store.StoreError("%s holds no readable %s and %s fields; fix or delete it (it is never overwritten)"
                                   % (where, CERT_FIELD, KEY_FIELD))
    return data[CERT_FIELD], data[KEY_FIELD]


def create_entry(session, mount, path, environment, cert_pem, key_pem):
    """Write version 1 of an entry with ``cas=0``. True when this call created it, False when
    another writer had (check-and-set mismatch, or the 403 of a create-only token)."""
    where = api_path(mount, path)
    kv = session.client.secrets.kv.v2
    secret = {CERT_FIELD: cert_pem, KEY_FIELD: key_pem, "managed_by": pki_store.MANAGED_BY,
              "environment": environment}

    def _create():
        try:
            return kv.create_or_update_secret(path=path, secret=secret, cas=0, mount_point=mount.strip("/"))
        except hvac.exceptions.InvalidRequest as exc:
            if CAS_MISMATCH in vault.error_text(exc):
                return False
            raise

    try:
        response = session.call(where, "create", _create)
    except vault.VaultPermissionError:
        if read_entry(session, mount, path) is not None:
            return False
        raise
    if response is False:
        return False
    version = ((response or {}).get("data") or {}).get("version") if isinstance(response, dict) else None
    if version != 1:
        # A KV version 1 mount takes the write as a plain key "data/..." and ignores cas: no race safety.
        raise pki_store.StoreError(
            "%s did not answer as a KV version 2 engine (no version 1 in the answer): certmesh_pki_store_vault_mount "
            "must name a KV v2 mount (vault secrets enable -path=%s kv-v2, or vault kv enable-versioning %s)"
            % (where, mount, mount))
    return True


def fetch(session, mount, path, folder, cert_file, key_file):
    """Copy an existing entry into ``folder``. ``{"found": bool, "written": bool}``."""
    return pki_store.fetch_entry(lambda: read_entry(session, mount, path), folder, cert_file, key_file)


def publish(session, mount, path, environment, folder, cert_file, key_file, check_mode=False):
    """Create-if-absent from the files in ``folder`` (``cas=0``); when another slice won the race,
    its entry replaces the local files. ``{"created": bool, "adopted": bool}``."""
    return pki_store.publish_entry(
        lambda: read_entry(session, mount, path),
        lambda cert_pem, key_pem: create_entry(session, mount, path, environment, cert_pem, key_pem),
        folder, cert_file, key_file, api_path(mount, path), check_mode=check_mode)
