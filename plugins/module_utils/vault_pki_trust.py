# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does the Vault intermediate chain to a root the workloads already trust? Checked before
istio-csr is pointed at Vault (``vault_trust_check``), and by ``vault_pki`` as a warning.

Certificate facts (fingerprint, CA flag) and the signature check come from pki.py and chain.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.certmesh.istio.plugins.module_utils import chain as chain_checks
from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import load_certs, split_pem


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
    chain = load_certs(intermediate_chain)
    roots = load_certs(mesh_roots)
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


def read_ca_chain(session, mount):
    """The default issuer of a PKI mount and its parents, as PEMs (the issuer first)."""
    response = session.read('%s/cert/ca_chain' % mount) or {}
    data = response.get('data') or {}
    # Vault answers the full chain in ca_chain (a PEM string; some versions a list) and, in
    # certificate, the issuer's chain - which is empty for a self-signed root on older versions.
    full = data.get('ca_chain')
    if isinstance(full, list):
        full = '\n'.join(full)
    chain = split_pem(full or '') or split_pem(data.get('certificate') or '')
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
