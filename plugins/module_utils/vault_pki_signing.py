# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signing the Vault intermediate's CSR with a root key held on the control node (the mesh root
of ``vault_pki_root: mesh``), so the intermediate chains to the root workloads already trust.
The key is read locally and never sent to Vault.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
except ImportError:  # pragma: no cover - reported through vault_pki_pem.HAS_CRYPTOGRAPHY
    pass

from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import VaultPkiInputError
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import load_certs


def read_root_key(path):
    """The bytes of ``external_root.private_key_path``, or an error naming the option."""
    try:
        with open(path, 'rb') as stream:
            return stream.read()
    except (IOError, OSError) as exc:
        raise VaultPkiInputError('external_root.private_key_path %s cannot be read (%s): give the path of the root '
                                 'key on the host running the module' % (path, exc.strerror or exc))


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
    root = load_certs([root_pem])[0]
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
