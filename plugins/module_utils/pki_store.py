# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh PKI kept as Secrets in a management cluster, so that every control node (every
slice of an AWX job) uses the same mesh root and the same cluster intermediates.

Why Secrets with create-if-absent: two slices that start at the same moment both find no root
and both make one. Kubernetes ``create`` is atomic per name; the second create answers 409
AlreadyExists, and the loser then reads the winner's entry and uses it instead of its own. So
the store ends with exactly one root whatever the timing, without a lock.

An entry is a ``kubernetes.io/tls`` Secret (``tls.crt``, ``tls.key``) named
``certmesh-<environment>-<entry>``. Entries are written once and never updated here: a changed
CA is a rotation, not a store write. Files on the control node are only the scratch copies the
community.crypto modules need (the caller keeps them in a 0700 temporary folder).

The client has kubernetes.core's ``K8SClient`` interface (``resource``, ``get``, ``create``);
tests hand in the emulator's client or a small fake.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

from ansible_collections.certmesh.istio.plugins.module_utils import kube

MANAGED_BY = "certmesh.istio"
CERT_KEY = "tls.crt"
KEY_KEY = "tls.key"


class StoreError(Exception):
    """The store could not be read or written; the message names the Secret and the cluster."""


def secret_name(environment, entry):
    """``certmesh-<environment>-<entry>``: one store can keep several environments apart."""
    return "certmesh-%s-%s" % (environment, entry)


def _status(exc):
    return getattr(exc, "status", None)


def _decode(secret, where):
    data = (secret or {}).get("data") or {}
    try:
        cert = base64.b64decode(data[CERT_KEY]).decode("ascii")
        key = base64.b64decode(data[KEY_KEY]).decode("ascii")
    except (KeyError, TypeError, ValueError):
        raise StoreError("%s holds no readable %s and %s; fix or delete it (it is never overwritten)"
                         % (where, CERT_KEY, KEY_KEY))
    return cert, key


def read_entry(client, namespace, name):
    """``(certificate_pem, key_pem)`` of an entry, or None when it does not exist yet."""
    where = "Secret %s/%s of the PKI store" % (namespace, name)
    try:
        secret = kube.get_object(client, "Secret", "v1", namespace, name)
    except kube.KubeError as exc:
        raise StoreError("PKI store: %s" % exc)
    if secret is None:
        return None
    return _decode(secret, where)


def _body(namespace, name, environment, cert_pem, key_pem):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, "certmesh.istio/environment": environment},
        },
        "data": {
            CERT_KEY: base64.b64encode(cert_pem.encode("ascii")).decode("ascii"),
            KEY_KEY: base64.b64encode(key_pem.encode("ascii")).decode("ascii"),
        },
    }


def ensure_namespace(client, namespace):
    """Create the store's namespace unless it exists (409 from a concurrent slice is fine)."""
    try:
        if kube.get_object(client, "Namespace", "v1", None, namespace) is not None:
            return False
        client.create(client.resource("Namespace", "v1"), {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    except kube.KubeError as exc:
        raise StoreError("PKI store: %s" % exc)
    except Exception as exc:  # kubernetes.dynamic ApiException subclasses
        if _status(exc) == 409:
            return False
        raise StoreError("PKI store: cannot create Namespace %s: %s" % (namespace, kube.error_reason(exc)))
    return True


def create_entry(client, namespace, name, environment, cert_pem, key_pem):
    """Create an entry unless one exists. True when this call created it, False when another
    writer had (the 409 AlreadyExists of a lost race)."""
    body = _body(namespace, name, environment, cert_pem, key_pem)
    try:
        client.create(client.resource("Secret", "v1"), body, namespace=namespace)
    except Exception as exc:
        if _status(exc) == 409:
            return False
        raise StoreError("PKI store: cannot create Secret %s/%s: %s" % (namespace, name, kube.error_reason(exc)))
    return True


def _read_text(path):
    with open(path, "r") as handle:
        return handle.read()


def _write(path, text, mode):
    """Write a scratch file with its mode set before any byte lands in it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _same(path, text):
    return os.path.isfile(path) and _read_text(path) == text


def materialise(folder, cert_file, key_file, cert_pem, key_pem):
    """Write an entry's certificate (0644) and key (0600) into ``folder``; True when a file
    changed."""
    cert_path = os.path.join(folder, cert_file)
    key_path = os.path.join(folder, key_file)
    changed = False
    if not _same(key_path, key_pem):
        _write(key_path, key_pem, 0o600)
        changed = True
    if not _same(cert_path, cert_pem):
        _write(cert_path, cert_pem, 0o644)
        changed = True
    return changed


def fetch(client, namespace, name, folder, cert_file, key_file):
    """Copy an existing entry into ``folder``. ``{"found": bool}``."""
    return fetch_entry(lambda: read_entry(client, namespace, name), folder, cert_file, key_file)


def publish(client, namespace, name, environment, folder, cert_file, key_file, check_mode=False):
    """Create-if-absent from the files in ``folder``. When another writer won the race, its
    entry replaces the local files, so every caller goes on with the same CA.

    ``{"created": bool, "adopted": bool}``: ``adopted`` means the local files were replaced by
    the stored entry (the local CA was thrown away)."""
    def create(cert_pem, key_pem):
        ensure_namespace(client, namespace)
        return create_entry(client, namespace, name, environment, cert_pem, key_pem)

    return publish_entry(lambda: read_entry(client, namespace, name), create, folder, cert_file, key_file,
                         "Secret %s/%s" % (namespace, name), check_mode=check_mode)


# The same two steps for every store (Secrets here, Vault KV v2 in pki_store_vault.py): a store
# hands in how to read an entry (``(cert, key)`` or None) and how to create it if absent (True
# when this call created it, False when another writer had).

def fetch_entry(read, folder, cert_file, key_file):
    """Copy an existing entry into ``folder``. ``{"found": bool, "written": bool}``."""
    entry = read()
    if entry is None:
        return {"found": False, "written": False}
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    return {"found": True, "written": materialise(folder, cert_file, key_file, *entry)}


def publish_entry(read, create, folder, cert_file, key_file, where, check_mode=False):
    """Create-if-absent from the files in ``folder``; the winner's entry replaces the local files
    when another writer stored one first. ``{"created": bool, "adopted": bool}``."""
    cert_pem = _read_text(os.path.join(folder, cert_file))
    key_pem = _read_text(os.path.join(folder, key_file))
    existing = read()
    if existing is None:
        if check_mode:
            return {"created": True, "adopted": False}
        if create(cert_pem, key_pem):
            return {"created": True, "adopted": False}
        existing = read()
        if existing is None:
            raise StoreError("PKI store: %s answered that it exists but cannot be read back" % where)
    if existing == (cert_pem, key_pem):
        return {"created": False, "adopted": False}
    adopted = materialise(folder, cert_file, key_file, *existing) if not check_mode else True
    return {"created": False, "adopted": adopted}
