# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chain verification for the mesh: RFC 5280 path validation through
``cryptography.x509.verification`` plus the checks it does not do (SPIFFE X.509-SVID rules,
trust domain, DNS names per purpose, key strength, lifetime margin).

Every check returns problems as plain dicts ``{code, message, subject, serial}``; the codes
are a stable contract documented in docs/modules/chain_verify.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import name_constraints, pki

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.x509 import verification
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:  # pragma: no cover - reported by the module through pki.HAS_CRYPTOGRAPHY
    pass

PURPOSES = ("workload", "gateway", "ca")

PROBLEM_CODES = (
    "expired", "not_yet_valid", "untrusted", "not_a_ca", "path_length_exceeded", "key_usage",
    "spiffe_id_invalid", "trust_domain_mismatch", "dns_name_mismatch", "weak_key",
    "expires_soon", "malformed", "key_usage_missing", "name_constraint_violation",
)

STRONG_CURVES = ("secp256r1", "secp384r1", "secp521r1")
MIN_RSA_BITS = 2048
MAX_DEPTH = 8

# Codes that explain why the path validator refused a chain whose names and signatures link
# up; when one of them is reported, an extra "untrusted" would only repeat it.
_EXPLAINS_VALIDATOR_FAILURE = ("not_a_ca", "path_length_exceeded", "weak_key", "expired",
                               "not_yet_valid")


def problem(code, message, cert=None):
    return {
        "code": code,
        "message": message,
        "subject": pki.display_name(cert) if cert is not None else None,
        "serial": pki.serial_hex(cert) if cert is not None else None,
    }


# --------------------------------------------------------------------------------------------
# The path validator, relaxed where mesh certificates legitimately differ from the web PKI.

_POLICIES = {}


def _policies():
    """Extension policies for cryptography's verifier (built once).

    The web-PKI defaults reject mesh certificates that are fine: an Istio SVID has an empty
    subject and may lack an authority key identifier, a leaf may carry serverAuth only, older
    CAs mark basicConstraints non-critical or omit keyUsage. So the verifier is told to accept
    any extension layout (it still checks names, signatures, validity, key strength of issuers,
    basicConstraints cA and pathLenConstraint, name constraints), and this module reports each
    rule it cares about as a named problem: key_usage, not_a_ca, spiffe_id_invalid...
    """
    if not _POLICIES:
        # A CA policy must at least require basicConstraints (cryptography enforces that);
        # criticality is left open because some mesh CAs mark it non-critical.
        _POLICIES["ca"] = verification.ExtensionPolicy.permit_all().require_present(
            x509.BasicConstraints, verification.Criticality.AGNOSTIC, None)
        _POLICIES["ee"] = verification.ExtensionPolicy.permit_all()
    return _POLICIES["ca"], _POLICIES["ee"]


class TrustStore:
    """Trusted roots prepared once for many verifications (a root bundle may hold several roots,
    as during a root rotation)."""

    def __init__(self, roots, where=None):
        self.roots = list(roots)
        self.where = where or {}  # id(root) -> its place in the roots input, for messages
        self.store = verification.Store(self.roots) if self.roots else None
        self.fingerprints = set(root.fingerprint(_sha256()) for root in self.roots)
        self.by_subject = {}
        for root in self.roots:
            self.by_subject.setdefault(root.subject, []).append(root)
        self.anchors = {}

    def contains(self, cert):
        return cert.fingerprint(_sha256()) in self.fingerprints


def _sha256():
    from cryptography.hazmat.primitives import hashes
    return hashes.SHA256()


def _validation_time(at, certs):
    """``at`` when every certificate is valid then; otherwise a moment inside all their validity
    windows, so the validator judges names and signatures while this module reports the
    validity problems itself (one clear ``expired`` instead of an opaque refusal)."""
    windows = [pki.facts(cert) for cert in certs]
    start = max(found["not_before"] for found in windows)
    end = min(found["not_after"] for found in windows)
    if start <= at <= end:
        return at
    if start > end:
        return at
    return start if at < start else end


def _run_validator(store, leaf, intermediates, moment):
    ca_policy, ee_policy = _policies()
    builder = (verification.PolicyBuilder().store(store.store).time(moment)
               .max_chain_depth(MAX_DEPTH).extension_policies(ca_policy=ca_policy, ee_policy=ee_policy))
    try:
        return builder.build_client_verifier().verify(leaf, intermediates).chain, None
    except verification.VerificationError as exc:
        return None, str(exc)
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        # A key or signature algorithm the verifier cannot load (an unknown EC curve in an
        # intermediate) is raised, not reported; the checks below name the certificate.
        return None, "the path validator cannot process this chain (%s)" % pki.short_error(exc)


def _anchor_for(store, intermediates, moment):
    """A store holding the leaf's issuing intermediate as anchor, plus the path from it to a
    root, once the intermediates have been validated against the roots at ``moment``.

    Thousands of workload chains share one intermediate; validating its link to the root once
    halves the signature checks per chain. It is only used when no CA on that path carries
    nameConstraints (the one constraint that reaches down to the leaf and that this module does
    not check itself); validity, cA, pathLenConstraint and keyUsage of every certificate on the
    path are still checked for each chain by the rules below.
    """
    key = (tuple(pki.fingerprint_sha256(cert) for cert in intermediates), moment)
    if key in store.anchors:
        return store.anchors[key]
    found = None
    prefix, _failure = _run_validator(store, intermediates[0], intermediates[1:], moment)
    if prefix is not None and not any(
            pki.facts(cert)["name_constraints"] for cert in prefix):
        found = (verification.Store([prefix[0]]), prefix)
    if len(store.anchors) >= 1024:
        store.anchors.clear()
    store.anchors[key] = found
    return found


def _validate(store, leaf, intermediates, moment):
    if intermediates:
        anchor = _anchor_for(store, intermediates, moment)
        if anchor is not None:
            ca_policy, ee_policy = _policies()
            builder = (verification.PolicyBuilder().store(anchor[0]).time(moment)
                       .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy))
            try:
                builder.build_client_verifier().verify(leaf, [])
                return [leaf] + list(anchor[1]), None
            except (verification.VerificationError, UnsupportedAlgorithm, ValueError, TypeError):
                pass  # the full validation below gives the precise reason
    return _run_validator(store, leaf, intermediates, moment)


def why_not_issued_by(cert, issuer):
    """None when ``issuer`` signed ``cert``, else the reason."""
    try:
        cert.verify_directly_issued_by(issuer)
        return None
    except ValueError as exc:
        if cert.issuer != issuer.subject:
            return "issuer name does not match"
        # RSA signature, EC issuer key (or the reverse): another key signed it.
        return "signature does not verify with the key of %s (%s)" % (pki.display_name(issuer), exc)
    except InvalidSignature:
        return "signature does not verify with the key of %s" % pki.display_name(issuer)
    except (TypeError, UnsupportedAlgorithm) as exc:
        return "signature cannot be checked with the key of %s (%s)" % (
            pki.display_name(issuer), pki.short_error(exc))


def _unsupported_key(cert):
    return pki.key_info(cert)[0].startswith("unknown")


def _walk(store, leaf, intermediates):
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
            name = pki.display_name(current)
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


def _validate_uri_constrained(store, path, moment, problems):
    """Validate a path that links up by names and signatures but that the verifier refused
    because a CA on it carries a URI name constraint (see module_utils/name_constraints.py).
    Returns the reason it is untrusted, or None; violations become problems."""
    def validate_upper(cert, intermediates):
        return _run_validator(store, cert, intermediates, moment)[1]
    reason, violations = name_constraints.validate_path(path, validate_upper)
    for cert, message in violations:
        problems.append(problem("name_constraint_violation", message, cert))
    return reason


# --------------------------------------------------------------------------------------------
# Checks on single certificates


def _check_validity(cert, at, min_remaining, problems):
    found = pki.facts(cert)
    not_before = found["not_before"]
    not_after = found["not_after"]
    if at < not_before:
        problems.append(problem("not_yet_valid", "not valid before %s (%s from now)"
                                % (pki.iso(not_before), pki.format_duration((not_before - at).total_seconds())), cert))
    elif at > not_after:
        problems.append(problem("expired", "expired at %s (%s ago)"
                                % (pki.iso(not_after), pki.format_duration((at - not_after).total_seconds())), cert))
    elif min_remaining is not None and (not_after - at).total_seconds() < min_remaining:
        problems.append(problem("expires_soon", "expires at %s, in %s, less than the required %s"
                                % (pki.iso(not_after), pki.format_duration((not_after - at).total_seconds()),
                                   pki.format_duration(min_remaining)), cert))


def _check_key(cert, problems, where=None):
    key_type, key_size, curve = pki.key_info(cert)
    if key_type == "RSA" and key_size < MIN_RSA_BITS:
        problems.append(problem("weak_key", "RSA key of %d bits; use at least %d bits (or ECDSA P-256)"
                                % (key_size, MIN_RSA_BITS), cert))
    elif key_type == "EC" and curve not in STRONG_CURVES:
        problems.append(problem("weak_key", "EC key on curve %s; use P-256, P-384 or P-521" % curve, cert))
    elif key_type == "DSA":
        problems.append(problem("weak_key", "DSA key; use RSA of 2048 bits or more, or ECDSA P-256", cert))
    elif key_type.startswith("unknown"):
        problems.append(problem("weak_key", "%sunsupported public key %s; use RSA of 2048 bits "
                                "or more, or ECDSA P-256/P-384/P-521"
                                % ("%s: " % where if where else "", key_type[len("unknown "):]), cert))


def _check_issuer(cert, intermediates_below, purpose_ekus, problems):
    """Rules for a certificate that signs another one in the path (RFC 5280 4.2.1.3, 4.2.1.9)."""
    bc = pki.basic_constraints(cert)
    if bc is None:
        problems.append(problem("not_a_ca", "issues certificates but has no basicConstraints "
                                "extension (RFC 5280 4.2.1.9 requires cA=TRUE)", cert))
    elif not bc.ca:
        problems.append(problem("not_a_ca", "issues certificates but basicConstraints cA is "
                                "FALSE; reissue it as a CA", cert))
    elif bc.path_length is not None and intermediates_below > bc.path_length:
        problems.append(problem(
            "path_length_exceeded", "pathLenConstraint %d allows %d intermediate CA(s) below it, "
            "the chain has %d" % (bc.path_length, bc.path_length, intermediates_below), cert))
    usages = pki.key_usages(cert)
    if usages is None:
        problems.append(problem("key_usage", "CA certificate without a keyUsage extension "
                                "(RFC 5280 4.2.1.3: a CA must assert keyCertSign)", cert))
    elif "keyCertSign" not in usages:
        problems.append(problem("key_usage", "CA certificate without keyCertSign in keyUsage (has %s)"
                                % (", ".join(usages) or "none"), cert))
    _check_eku(cert, purpose_ekus, problems, "an issuing CA restricts extendedKeyUsage to")


def _check_eku(cert, required, problems, wording):
    """``required``: EKU OIDs the purpose needs; an absent EKU extension allows everything."""
    if not required:
        return
    usage = pki.facts(cert)["eku_oids"]
    if usage is None:
        return
    present = set(usage)
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in present:
        return
    missing = [oid for oid in required if oid not in present]
    if missing:
        names = pki._eku_names()
        problems.append(problem("key_usage", "%s %s; missing %s" % (
            wording, ", ".join(pki.extended_key_usages(cert)) or "nothing",
            ", ".join(names.get(oid, oid.dotted_string) for oid in missing)), cert))


def _purpose_ekus(purpose):
    if purpose == "workload":
        # Istio uses one SVID as both TLS server and client in mTLS.
        return [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    if purpose == "gateway":
        return [ExtendedKeyUsageOID.SERVER_AUTH]
    return []


def _check_end_entity(cert, purpose, problems):
    if pki.is_ca(cert):
        problems.append(problem("key_usage", "a %s certificate must not be a CA (basicConstraints "
                                "cA=TRUE); issue an end-entity certificate" % purpose, cert))
    usages = pki.key_usages(cert)
    if usages is None and purpose == "workload":
        problems.append(problem("key_usage_missing", "no keyUsage extension: an X.509-SVID leaf "
                                "must carry keyUsage with digitalSignature (SPIFFE X.509-SVID 4.3)", cert))
    if usages is not None:
        if "digitalSignature" not in usages:
            rule = ("which SPIFFE X.509-SVID 4.3 requires of a leaf" if purpose == "workload"
                    else "which TLS needs")
            problems.append(problem("key_usage", "keyUsage lacks digitalSignature, %s (has %s)"
                                    % (rule, ", ".join(usages) or "none"), cert))
        signing = [u for u in usages if u in ("keyCertSign", "cRLSign")]
        if signing and purpose == "workload":
            problems.append(problem("key_usage", "an X.509-SVID leaf must not assert %s (SPIFFE "
                                    "X.509-SVID 4.3)" % ", ".join(signing), cert))
    _check_eku(cert, _purpose_ekus(purpose), problems, "extendedKeyUsage is")


def _check_workload(cert, trust_domain, problems):
    """SPIFFE X.509-SVID: exactly one URI SAN holding the SPIFFE ID (section 2), which Istio
    spells spiffe://<trust domain>/ns/<namespace>/sa/<service account>."""
    uris = pki.subject_alt_names(cert)["uri"]
    if not uris:
        problems.append(problem("spiffe_id_invalid", "no URI SAN: a workload certificate carries "
                                "its SPIFFE ID as exactly one URI SAN", cert))
        return
    if len(uris) > 1:
        problems.append(problem("spiffe_id_invalid", "%d URI SANs (%s): an X.509-SVID has exactly one"
                                % (len(uris), ", ".join(uris)), cert))
        return
    try:
        parsed = pki.parse_spiffe_id(uris[0], istio=True)
    except pki.SpiffeIdError as exc:
        problems.append(problem("spiffe_id_invalid", str(exc), cert))
        return
    if trust_domain and parsed["trust_domain"] != trust_domain:
        problems.append(problem("trust_domain_mismatch", "SPIFFE ID %s is in trust domain %r, "
                                "expected %r" % (uris[0], parsed["trust_domain"], trust_domain), cert))


def dns_name_matches(pattern, name):
    """RFC 6125 matching: case-insensitive, a wildcard only as the whole left-most label."""
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:] and pattern.count(".") >= 2
    return False


def _check_gateway(cert, dns_names, problems):
    sans = pki.subject_alt_names(cert)["dns"]
    if not sans:
        problems.append(problem("dns_name_mismatch", "no DNS SAN: a gateway certificate must name "
                                "its hosts in subjectAltName (the CN is ignored by TLS clients)", cert))
        return
    missing = [name for name in (dns_names or []) if not any(dns_name_matches(p, name) for p in sans)]
    if missing:
        problems.append(problem("dns_name_mismatch", "does not cover %s (DNS SANs: %s)"
                                % (", ".join(missing), ", ".join(sans)), cert))


def _check_ca_target(cert, problems):
    if not pki.is_ca(cert):
        problems.append(problem("not_a_ca", "purpose 'ca' expects a CA certificate, but "
                                "basicConstraints cA is not TRUE", cert))
    usages = pki.key_usages(cert)
    if usages is None:
        problems.append(problem("key_usage", "CA certificate without a keyUsage extension "
                                "(RFC 5280 4.2.1.3: a CA must assert keyCertSign)", cert))
    elif "keyCertSign" not in usages:
        problems.append(problem("key_usage", "CA certificate without keyCertSign in keyUsage (has %s)"
                                % (", ".join(usages) or "none"), cert))


# --------------------------------------------------------------------------------------------
# Entry point


def verify(chain, store, purpose="workload", trust_domain=None, dns_names=None, at=None,
           min_remaining=None, where=None):
    """Verify one chain (list of certificates, leaf first) against ``store`` (TrustStore).

    ``at`` is an aware datetime (default now), ``min_remaining`` seconds or None; ``where``
    maps ``id(cert)`` to its place in the input (``chain, certificate 2 (line 14)``) for
    messages about a certificate the subject alone does not pin down. Returns
    ``(problems, path)``: every problem found and the certificates from the leaf to the trust
    anchor as far as they link up.
    """
    places = dict(store.where)
    places.update(where or {})
    if purpose not in PURPOSES:
        raise ValueError("purpose must be one of %s, got %r" % (", ".join(PURPOSES), purpose))
    at = pki.parse_time(at)
    problems = []
    leaf, intermediates = chain[0], list(chain[1:])
    reason = None
    if store.store is None:
        path, reason = [leaf], "no trusted root was given"
    else:
        moment = _validation_time(at, chain)
        path, failure = _validate(store, leaf, intermediates, moment)
        if path is None:
            path, reason = _walk(store, leaf, intermediates)
            if reason is None and name_constraints.VERIFIER_REFUSAL in failure:
                reason = _validate_uri_constrained(store, path, moment, problems)
            elif reason is None:
                # Names and signatures link up, so the validator refused a policy rule; the
                # checks below name it, or the validator's own words are reported.
                reason = failure

    seen = set()
    explaining = set()  # codes that can explain a refusal by the path validator
    for position, cert in enumerate(path):
        if id(cert) in seen:
            continue
        seen.add(id(cert))
        before = len(problems)
        _check_validity(cert, at, min_remaining, problems)
        _check_key(cert, problems, places.get(id(cert)))
        if position > 0:
            _check_issuer(cert, position - 1, _purpose_ekus(purpose), problems)
        # A weak leaf key never makes the validator refuse (it only checks issuer keys).
        explaining.update(p["code"] for p in problems[before:]
                          if p["code"] != "expires_soon" and (position > 0 or p["code"] != "weak_key"))
    # Certificates supplied but not on the path still get their time checked: an expired
    # intermediate left in a bundle breaks clients that build paths differently.
    for cert in intermediates:
        if id(cert) not in seen and all(cert != other for other in path):
            seen.add(id(cert))
            _check_validity(cert, at, None, problems)

    if purpose == "ca":
        _check_ca_target(leaf, problems)
    else:
        _check_end_entity(leaf, purpose, problems)
        if purpose == "workload":
            _check_workload(leaf, trust_domain, problems)
        else:
            _check_gateway(leaf, dns_names, problems)

    if reason is not None:
        anchored = len(path) > 1 and store.store is not None and store.contains(path[-1])
        explained = anchored and bool(explaining & set(_EXPLAINS_VALIDATOR_FAILURE))
        if not explained:
            problems.append(problem("untrusted", _untrusted_message(reason), leaf))
    return problems, path


def _untrusted_message(reason):
    reason = reason.replace("validation failed: ", "").replace("candidates exhausted: ", "")
    if "Forbidden public key algorithm" in reason:
        return ("the path validator accepts RSA and ECDSA (P-256/P-384/P-521) issuer keys only; "
                "this chain uses another algorithm")
    if "all candidates exhausted with no interior errors" in reason:
        return "no path to a trusted root"
    return "no valid path to a trusted root: %s" % reason


def _certificates(value, origin):
    """``(certificates, {id(cert): place in the input})`` from PEM text, path(s) or certificate
    objects; raises pki.MalformedInput naming ``origin`` and the certificate's position."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(item, x509.Certificate) for item in value):
        where = {}
        for number, cert in enumerate(value):
            where[id(cert)] = "%s, certificate %d" % (origin, number + 1)
            pki.check_readable(cert, where[id(cert)])
        return list(value), where
    loaded = pki.load_certificates(value, origin)
    return [item.cert for item in loaded], dict((id(item.cert), item.where) for item in loaded)


def load_store(roots_value, origin="roots"):
    """A TrustStore from PEM text, path(s) or certificates; raises pki.MalformedInput."""
    return TrustStore(*_certificates(roots_value, origin))


def check(chain_value, store, purpose="workload", trust_domain=None, dns_names=None, at=None,
          min_remaining=None, origin="chain", summaries=True):
    """Load and verify one chain input; never raises for bad certificate input.

    ``chain_value`` is PEM text, a path, a list of either, or a list of certificates. Returns
    ``{valid, problems, chain}`` where ``chain`` holds one summary per certificate of the path
    (plus supplied certificates that are not on it).
    """
    at = pki.parse_time(at)
    try:
        certs, where = _certificates(chain_value, origin)
    except pki.MalformedInput as exc:
        return {"valid": False, "problems": [problem("malformed", str(exc))], "chain": []}
    problems, path = verify(certs, store, purpose, trust_domain, dns_names, at, min_remaining,
                            where)
    result = {"valid": not problems, "problems": problems, "chain": []}
    if summaries:
        shown = list(path) + [cert for cert in certs[1:] if all(cert != other for other in path)]
        result["chain"] = [pki.summary(cert, at) for cert in shown]
    return result


def clear_caches():
    """Forget every cached fact, summary and validated path (benchmarks: a fresh run)."""
    pki._FACTS.clear()
    pki._FACTS_BY_ID.clear()
    pki._SUMMARIES.clear()
