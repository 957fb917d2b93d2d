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
