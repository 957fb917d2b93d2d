# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name constraints that cryptography's verifier refuses to evaluate: URI subtrees.

SPIFFE X.509-SVID 4.2 lets a signing certificate limit the SPIFFE IDs below it with a URI
name constraint, and mesh operators want exactly that for a cluster intermediate; but the
``cryptography`` verifier stops with "unsupported name constraint" on any URI subtree, so a
valid SVID would be untrusted. This module evaluates the constraints of such a path itself,
per RFC 5280 4.2.1.10, for the name types it can judge (URI, DNS, IP); ``chain`` uses it only
after the verifier refused for that one reason and still validates everything above the
constrained CA with the verifier.

URI constraints name a host (``cluster.local``) or, with a leading period, every subdomain of
a domain (``.example.com``, which does not match ``example.com`` itself), and apply to the host
part of URI SANs, as OpenSSL and Go do. ``spiffe://cluster.local`` is not a host name: RFC 5280
requires a fully qualified domain name, and such a constraint matches nothing (OpenSSL reports
a permitted subtree violation), so the message says how to write it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - reported by the module through pki.HAS_CRYPTOGRAPHY
    pass

from ansible_collections.certmesh.istio.plugins.module_utils import pki

VERIFIER_REFUSAL = "unsupported name constraint"

# The signature algorithms cryptography's verifier accepts (RSA PKCS#1 v1.5 and PSS, ECDSA,
# each with SHA-256/384/512): below a URI-constrained CA the verifier does not see the
# certificates, so they are held to the same list here.
_VERIFIER_SIGNATURES = (
    "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13", "1.2.840.113549.1.1.10",
    "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4",
)


def _kinds():
    return {x509.UniformResourceIdentifier: "uri", x509.DNSName: "dns", x509.IPAddress: "ip"}


def constraints_of(cert):
    """The NameConstraints value of ``cert``, or None."""
    return pki.extension(cert, x509.NameConstraints)


def has_uri_constraint(cert):
    found = constraints_of(cert)
    return found is not None and any(
        isinstance(name, x509.UniformResourceIdentifier)
        for name in (found.permitted_subtrees or []) + (found.excluded_subtrees or []))


def unsupported_subtrees(cert):
    """Subtree types here that this module cannot judge (email, directory name, other name)."""
    found = constraints_of(cert)
    if found is None:
        return []
    kinds = _kinds()
    return sorted(set(type(name).__name__ for name in (found.permitted_subtrees or []) + (found.excluded_subtrees or [])
                      if type(name) not in kinds))


def uri_host(uri):
    """The host of ``scheme://[user@]host[:port]/...`` in lowercase, or None without one."""
    scheme, separator, rest = uri.partition("://")
    if not separator or not scheme:
        return None
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal keeps its colons
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.split(":", 1)[0]
    return host.lower() or None


def _host_matches(constraint, host):
    constraint = constraint.lower()
    if constraint.startswith("."):
        return host.endswith(constraint)
    return host == constraint


def _dns_matches(constraint, name):
    constraint = constraint.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if not constraint:
        return True
    if constraint.startswith("."):
        return name.endswith(constraint)
    return name == constraint or name.endswith("." + constraint)


def _ip_matches(network, address):
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False


def _matches(kind, subtree, name):
    if kind == "uri":
        host = uri_host(name)
        return host is not None and _host_matches(subtree.value, host)
    if kind == "dns":
        return _dns_matches(subtree.value, name)
    return _ip_matches(subtree.value, name)


def _hint(subtree):
    if isinstance(subtree, x509.UniformResourceIdentifier) and "://" in subtree.value:
        host = uri_host(subtree.value)
        return (" (a URI name constraint names a host, not a URI: write %r; RFC 5280 4.2.1.10)"
                % host if host else "")
    return ""


def violations(cert, issuer):
    """Messages for each name of ``cert`` that the constraints of ``issuer`` (a CA above it on
    the path) do not allow: outside every permitted subtree of its type, or inside an excluded
    one. Types without subtrees are not constrained."""
    found = constraints_of(issuer)
    if found is None:
        return []
    kinds = _kinds()
    sans = pki.subject_alt_names(cert)
    messages = []
    for kind in ("uri", "dns", "ip"):
        permitted = [s for s in (found.permitted_subtrees or []) if kinds.get(type(s)) == kind]
        excluded = [s for s in (found.excluded_subtrees or []) if kinds.get(type(s)) == kind]
        for name in sans[kind]:
            if permitted and not any(_matches(kind, subtree, name) for subtree in permitted):
                messages.append("%s SAN %s is outside the permitted %s name constraint(s) %s of %s%s" % (
                    kind.upper(), name, kind.upper(), ", ".join(_shown(s) for s in permitted),
                    pki.display_name(issuer), "".join(_hint(s) for s in permitted)))
            hit = [subtree for subtree in excluded if _matches(kind, subtree, name)]
            if hit:
                messages.append("%s SAN %s is inside the excluded %s name constraint %s of %s" % (
                    kind.upper(), name, kind.upper(), _shown(hit[0]), pki.display_name(issuer)))
    return messages


def _shown(subtree):
    return str(subtree.value)


def validate_path(path, validate_upper):
    """``(reason, violations)`` for a path (leaf first, trusted root last) whose names and
    signatures link up but that the verifier refused for a URI name constraint.

    The part from the highest URI-constrained CA up to the root still goes through the
    verifier: ``validate_upper(ca, intermediates_above)`` returns its refusal or None. The
    certificates below that CA get the verifier's signature-algorithm list here, and every URI,
    DNS and IP constraint of every CA above them (their signatures were checked when the path
    was linked, the mesh rules are checked by the caller). ``reason`` is why the path is
    untrusted, or None; ``violations`` lists ``(certificate, message)``.
    """
    constrained = [index for index, cert in enumerate(path) if index > 0 and has_uri_constraint(cert)]
    if not constrained:
        return VERIFIER_REFUSAL, []
    odd = sorted(set(kind for cert in path[1:] for kind in unsupported_subtrees(cert)))
    if odd:
        return ("a CA on the path has a URI name constraint together with %s name constraints, "
                "which cannot be evaluated together" % ", ".join(odd)), []
    top = max(constrained)
    if top < len(path) - 1:
        failure = validate_upper(path[top], path[top + 1:-1])
        if failure is not None:
            return failure, []
    found = []
    for index, cert in enumerate(path[:top]):
        algorithm = cert.signature_algorithm_oid.dotted_string
        if algorithm not in _VERIFIER_SIGNATURES:
            return ("%s is signed with algorithm %s, which the path validator does not accept"
                    % (pki.display_name(cert), algorithm)), []
        for issuer in path[index + 1:]:
            found.extend((cert, message) for message in violations(cert, issuer))
    return None, found
