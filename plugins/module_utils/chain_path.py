# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Path building for chain checks: RFC 5280 path validation through
``cryptography.x509.verification``, relaxed where mesh certificates legitimately differ from
the web PKI, and a name-and-signature walk that says why a chain does not reach a root.

Private to the collection: ``chain`` (the checks and their problem codes) is the entry point
and re-exports what callers use (``TrustStore``, ``why_not_issued_by``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import cert_facts

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.x509 import verification
except ImportError:  # pragma: no cover - reported by the module through pki.HAS_CRYPTOGRAPHY
    pass

MAX_DEPTH = 8

# A run verifies chains at one moment, except chains outside their validity window (judged at a
# moment inside it): the bound only keeps a pathological input from growing the caches.
_CACHE_MAX = 1024

_POLICIES = {}


def _policies():
    """Extension policies for cryptography's verifier (built once).

    The web-PKI defaults reject mesh certificates that are fine: an Istio SVID has an empty
    subject and may lack an authority key identifier, a leaf may carry serverAuth only, older
    CAs mark basicConstraints non-critical or omit keyUsage. So the verifier is told to accept
    any extension layout (it still checks names, signatures, validity, key strength of issuers,
    basicConstraints cA and pathLenConstraint, name constraints), and the chain module reports
    each rule it cares about as a named problem: key_usage, not_a_ca, spiffe_id_invalid...
    """
    if not _POLICIES:
        # A CA policy must at least require basicConstraints (cryptography enforces that);
        # criticality is left open because some mesh CAs mark it non-critical.
        _POLICIES["ca"] = verification.ExtensionPolicy.permit_all().require_present(
            x509.BasicConstraints, verification.Criticality.AGNOSTIC, None)
        _POLICIES["ee"] = verification.ExtensionPolicy.permit_all()
    return _POLICIES["ca"], _POLICIES["ee"]


def _verifier(store, moment, max_depth=None):
    ca_policy, ee_policy = _policies()
    builder = verification.PolicyBuilder().store(store).time(moment)
    if max_depth is not None:
        builder = builder.max_chain_depth(max_depth)
    return builder.extension_policies(ca_policy=ca_policy, ee_policy=ee_policy).build_client_verifier()


class TrustStore:
    """Trusted roots prepared once for many verifications (a root bundle may hold several roots,
    as during a root rotation). Verifiers are built once per validation moment and reused."""

    def __init__(self, roots, where=None):
        self.roots = list(roots)
        self.where = where or {}  # id(root) -> its place in the roots input, for messages
        self.store = verification.Store(self.roots) if self.roots else None
        self.fingerprints = set(cert_facts.fingerprint_sha256(root) for root in self.roots)
        self.by_subject = {}
        for root in self.roots:
            self.by_subject.setdefault(root.subject, []).append(root)
        self.anchors = {}
        self._verifiers = {}

    def contains(self, cert):
        return cert_facts.fingerprint_sha256(cert) in self.fingerprints

    def verifier(self, moment):
        """The client verifier over these roots at ``moment`` (built on first use)."""
        found = self._verifiers.get(moment)
        if found is None:
            if len(self._verifiers) >= _CACHE_MAX:
                self._verifiers.clear()
            found = self._verifiers[moment] = _verifier(self.store, moment, MAX_DEPTH)
        return found


def validation_time(at, found):
    """``at`` when every certificate (``found``: their facts) is valid then; otherwise a moment
    inside all their validity windows, so the validator judges names and signatures while the
    chain module reports the validity problems itself (one clear ``expired`` instead of an
    opaque refusal)."""
    start = max(item["not_before"] for item in found)
    end = min(item["not_after"] for item in found)
    if start <= at <= end:
        return at
    if start > end:
        return at
    return start if at < start else end


def run_validator(store, leaf, intermediates, moment):
    """``(path, None)`` or ``(None, reason)`` from cryptography's verifier."""
    try:
        return store.verifier(moment).verify(leaf, intermediates).chain, None
    except verification.VerificationError as exc:
        return None, str(exc)
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        # A key or signature algorithm the verifier cannot load (an unknown EC curve in an
        # intermediate) is raised, not reported; the checks name the certificate.
        return None, "the path validator cannot process this chain (%s)" % cert_facts.short_error(exc)


def _anchor_for(store, intermediates, moment):
    """A verifier trusting the leaf's issuing intermediate as anchor, plus the path from it to
    a root, once the intermediates have been validated against the roots at ``moment``.

    Thousands of workload chains share one intermediate; validating its link to the root once
    halves the signature checks per chain. It is only used when no CA on that path carries
    nameConstraints (the one constraint that reaches down to the leaf and that the chain module
    does not check itself); validity, cA, pathLenConstraint and keyUsage of every certificate
    on the path are still checked for each chain by its rules.
    """
    key = (tuple(cert_facts.fingerprint_sha256(cert) for cert in intermediates), moment)
    if key in store.anchors:
        return store.anchors[key]
    found = None
    prefix, _failure = run_validator(store, intermediates[0], intermediates[1:], moment)
    if prefix is not None and not any(cert_facts.facts(cert)["name_constraints"] for cert in prefix):
        found = (_verifier(verification.Store([prefix[0]]), moment), prefix)
    if len(store.anchors) >= _CACHE_MAX:
        store.anchors.clear()
    store.anchors[key] = found
    return found


def validate(store, leaf, intermediates, moment):
    """``(path, None)`` when the chain validates at ``moment``, else ``(None, reason)``."""
    if intermediates:
        anchor = _anchor_for(store, intermediates, moment)
        if anchor is not None:
            try:
                anchor[0].verify(leaf, [])
                # The issuing intermediate as given in this chain (equal to the anchor's).
                return [leaf, intermediates[0]] + list(anchor[1][1:]), None
            except (verification.VerificationError, UnsupportedAlgorithm, ValueError, TypeError):
                pass  # the full validation below gives the precise reason
    return run_validator(store, leaf, intermediates, moment)


def why_not_issued_by(cert, issuer):
    """None when ``issuer`` signed ``cert``, else the reason."""
    try:
        cert.verify_directly_issued_by(issuer)
        return None
    except ValueError as exc:
        if cert.issuer != issuer.subject:
            return "issuer name does not match"
        # RSA signature, EC issuer key (or the reverse): another key signed it.
        return "signature does not verify with the key of %s (%s)" % (cert_facts.display_name(issuer), exc)
    except InvalidSignature:
        return "signature does not verify with the key of %s" % cert_facts.display_name(issuer)
    except (TypeError, UnsupportedAlgorithm) as exc:
        return "signature cannot be checked with the key of %s (%s)" % (
            cert_facts.display_name(issuer), cert_facts.short_error(exc))


def _unsupported_key(cert):
    return cert_facts.key_info(cert)[0].startswith("unknown")


def walk(store, leaf, intermediates):
    """Link the chain by names and signatures, without policy: the path (as far as it links up)
    and, when it does not reach a trusted root, the reason."""
    path = [leaf]
    current = leaf
    pool = list(intermediates)
    unverifiable = None
    for _depth in range(MAX_DEPTH + 1):
        if store.contains(current):
            return path, unverifiable
        bad_roots = []
        for root in store.by_subject.get(current.issuer, ()):
            reason = why_not_issued_by(current, root)
            if reason is None or _unsupported_key(root):
                path.append(root)
                return path, reason
            bad_roots.append(reason)
        candidates = [c for c in pool if c.subject == current.issuer and c not in path]
        linked = None
        reasons = list(bad_roots)
        for candidate in candidates:
            reason = why_not_issued_by(current, candidate)
            if reason is None:
                linked = candidate
                break
            if _unsupported_key(candidate):
                # Its signature cannot be checked, but it is the issuer by name: keep walking so
                # that the key check names this certificate and its position in the input.
                linked, unverifiable = candidate, reason
                break
            reasons.append(reason)
        if linked is None:
            name = cert_facts.display_name(current)
            if reasons:
                return path, "%s: %s (wrong key or tampered certificate)" % (name, reasons[0])
            if current.subject == current.issuer:
                return path, ("%s is self-signed but not one of the trusted roots (wrong roots "
                              "bundle?)" % name)
            return path, ("no intermediate or trusted root has the subject %r that issued %s "
                          "(missing intermediate, or a root from another mesh)"
                          % (current.issuer.rfc4514_string(), name))
        path.append(linked)
        current = linked
    return path, "the chain is longer than %d certificates" % MAX_DEPTH
