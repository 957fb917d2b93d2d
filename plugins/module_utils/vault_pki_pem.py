# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault's way of handing out PEM: ``ca_chain`` as one string or a list, certificates with
stray indentation or without the final newline. Normalised here once, so that comparisons of
"the same certificate" between runs are exact.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test sanity import
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


def normalize_pem(text):
    """One PEM text per certificate, stripped of indentation, ending with one newline."""
    if text is None:
        return None
    return '\n'.join(line.strip() for line in str(text).strip().splitlines()) + '\n'


def split_pem(text):
    """The CERTIFICATE blocks of a PEM text, each normalised; [] for None or no block."""
    blocks = re.findall(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', text or '', re.S)
    return [normalize_pem(b) for b in blocks]


def load_certs(pems):
    """Every certificate in the PEM texts ``pems``, parsed (ValueError for a broken block)."""
    certs = []
    for pem in pems:
        for block in split_pem(pem):
            certs.append(x509.load_pem_x509_certificate(block.encode('ascii')))
    return certs


def describe(chain):
    """What the diff shows of an intermediate: subject, issuer, serial and expiry of chain[0]."""
    if not chain:
        return None
    cert = load_certs([chain[0]])[0]
    return {'subject': cert.subject.rfc4514_string(), 'issuer': cert.issuer.rfc4514_string(),
            'serial_number': '%x' % cert.serial_number,
            'not_after': cert.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ')}
