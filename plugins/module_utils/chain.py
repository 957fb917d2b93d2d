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

from ansible_collections.certmesh.istio.plugins.module_utils import cert_facts, chain_path, name_constraints, pki
# Path building lives in chain_path.py; these names stay importable from here.
from ansible_collections.certmesh.istio.plugins.module_utils.chain_path import (  # noqa: F401 pylint: disable=unused-import
    MAX_DEPTH, TrustStore, why_not_issued_by,
)

try:
    from cryptography import x509
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


def _validate_uri_constrained(store, path, moment, problems):
    """Validate a path that links up by names and signatures but that the verifier refused
    because a CA on it carries a URI name constraint (see module_utils/name_constraints.py).
    Returns the reason it is untrusted, or None; violations become problems."""
    def validate_upper(cert, intermediates):
        return chain_path.run_validator(store, cert, intermediates, moment)[1]
    reason, violations = name_constraints.validate_path(path, validate_upper)
    for cert, message in violations:
        problems.append(problem("name_constraint_violation", message, cert))
    return reason


# --------------------------------------------------------------------------------------------
# Checks on single certificates


def _check_validity(cert, found, at, min_remaining, problems):
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


def _check_key(cert, found, problems, place=None):
    """``place``: a callable naming where the certificate was in the input (for the one message
    that needs it)."""
    key_type, key_size, curve = cert_facts.key_info(cert, found)
    if key_type == "RSA":
        if key_size < MIN_RSA_BITS:
            problems.append(problem("weak_key", "RSA key of %d bits; use at least %d bits (or ECDSA P-256)"
                                    % (key_size, MIN_RSA_BITS), cert))
    elif key_type == "EC":
        if curve not in STRONG_CURVES:
            problems.append(problem("weak_key", "EC key on curve %s; use P-256, P-384 or P-521" % curve, cert))
    elif key_type == "DSA":
        problems.append(problem("weak_key", "DSA key; use RSA of 2048 bits or more, or ECDSA P-256", cert))
    elif key_type.startswith("unknown"):
        where = place() if place is not None else None
        problems.append(problem("weak_key", "%sunsupported public key %s; use RSA of 2048 bits "
                                "or more, or ECDSA P-256/P-384/P-521"
                                % ("%s: " % where if where else "", key_type[len("unknown "):]), cert))


def _check_key_cert_sign(cert, usages, problems):
    if usages is None:
        problems.append(problem("key_usage", "CA certificate without a keyUsage extension "
                                "(RFC 5280 4.2.1.3: a CA must assert keyCertSign)", cert))
    elif "keyCertSign" not in usages:
        problems.append(problem("key_usage", "CA certificate without keyCertSign in keyUsage (has %s)"
                                % (", ".join(usages) or "none"), cert))


def _check_issuer(cert, found, intermediates_below, purpose_ekus, problems):
    """Rules for a certificate that signs another one in the path (RFC 5280 4.2.1.3, 4.2.1.9)."""
    bc = found["basic_constraints"]
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
    _check_key_cert_sign(cert, found["key_usage"], problems)
    _check_eku(cert, found, purpose_ekus, problems, "an issuing CA restricts extendedKeyUsage to")


def _check_eku(cert, found, required, problems, wording):
    """``required``: EKU OIDs the purpose needs; an absent EKU extension allows everything."""
    if not required:
        return
    usage = found["eku_oids"]
    if usage is None:
        return
    present = set(usage)
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in present:
        return
    missing = [oid for oid in required if oid not in present]
    if missing:
        names = cert_facts.eku_names()
        problems.append(problem("key_usage", "%s %s; missing %s" % (
            wording, ", ".join(found["eku"]) or "nothing",
            ", ".join(names.get(oid, oid.dotted_string) for oid in missing)), cert))


_PURPOSE_EKUS = {}


def _purpose_ekus(purpose):
    if not _PURPOSE_EKUS:
        # Istio uses one SVID as both TLS server and client in mTLS.
        _PURPOSE_EKUS.update(workload=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
                             gateway=(ExtendedKeyUsageOID.SERVER_AUTH,), ca=())
    return _PURPOSE_EKUS[purpose]


def _check_end_entity(cert, found, purpose, problems):
    if found["is_ca"]:
        problems.append(problem("key_usage", "a %s certificate must not be a CA (basicConstraints "
                                "cA=TRUE); issue an end-entity certificate" % purpose, cert))
    usages = found["key_usage"]
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
    _check_eku(cert, found, _purpose_ekus(purpose), problems, "extendedKeyUsage is")


def _check_workload(cert, found, trust_domain, problems):
    """SPIFFE X.509-SVID: exactly one URI SAN holding the SPIFFE ID (section 2), which Istio
    spells spiffe://<trust domain>/ns/<namespace>/sa/<service account>."""
    uris = found["sans"]["uri"]
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


def _check_gateway(cert, found, dns_names, problems):
    sans = found["sans"]["dns"]
    if not sans:
        problems.append(problem("dns_name_mismatch", "no DNS SAN: a gateway certificate must name "
                                "its hosts in subjectAltName (the CN is ignored by TLS clients)", cert))
        return
    missing = [name for name in (dns_names or []) if not any(dns_name_matches(p, name) for p in sans)]
    if missing:
        problems.append(problem("dns_name_mismatch", "does not cover %s (DNS SANs: %s)"
                                % (", ".join(missing), ", ".join(sans)), cert))


def _check_ca_target(cert, found, problems):
    if not found["is_ca"]:
        problems.append(problem("not_a_ca", "purpose 'ca' expects a CA certificate, but "
                                "basicConstraints cA is not TRUE", cert))
    _check_key_cert_sign(cert, found["key_usage"], problems)


def _check_ca_on_path(cert, found, at, min_remaining, position, purpose, problems, place):
    """Validity, key and issuer rules of a CA at ``position`` of a path. A fleet's chains share a
    few CAs: their problems are kept with the CA's facts for the same moment, position and
    purpose (except for a key the messages name by its place in this input)."""
    key = (at, min_remaining, position, purpose)
    cached = found.get("path_checks")
    if cached is not None and key in cached:
        problems.extend(dict(item) for item in cached[key])
        return
    own = []
    _check_validity(cert, found, at, min_remaining, own)
    _check_key(cert, found, own, place)
    _check_issuer(cert, found, position - 1, _purpose_ekus(purpose), own)
    problems.extend(own)
    if found["is_ca"] and not cert_facts.key_info(cert, found)[0].startswith("unknown"):
        if cached is None or len(cached) >= 64:
            cached = found["path_checks"] = {}
        cached[key] = [dict(item) for item in own]


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
    where = where or {}
    if purpose not in PURPOSES:
        raise ValueError("purpose must be one of %s, got %r" % (", ".join(PURPOSES), purpose))
    at = pki.parse_time(at)
    problems = []
    leaf, intermediates = chain[0], list(chain[1:])
    facts = cert_facts.facts
    reason = None
    if store.store is None:
        path, reason = [leaf], "no trusted root was given"
    else:
        moment = chain_path.validation_time(at, [facts(cert) for cert in chain])
        path, failure = chain_path.validate(store, leaf, intermediates, moment)
        if path is None:
            path, reason = chain_path.walk(store, leaf, intermediates)
            if reason is None and name_constraints.VERIFIER_REFUSAL in failure:
                reason = _validate_uri_constrained(store, path, moment, problems)
            elif reason is None:
                # Names and signatures link up, so the validator refused a policy rule; the
                # checks below name it, or the validator's own words are reported.
                reason = failure

    purpose_ekus = _purpose_ekus(purpose)
    seen = set()
    explaining = set()  # codes that can explain a refusal by the path validator
    for position, cert in enumerate(path):
        if id(cert) in seen:
            continue
        seen.add(id(cert))
        found = facts(cert)
        before = len(problems)
        if position > 0:
            _check_ca_on_path(cert, found, at, min_remaining, position, purpose, problems,
                              lambda cert=cert: _place(cert, where, store))
        else:
            _check_validity(cert, found, at, min_remaining, problems)
            _check_key(cert, found, problems, lambda: _place(cert, where, store))
        if len(problems) > before:
            # A weak leaf key never makes the validator refuse (it only checks issuer keys).
            explaining.update(p["code"] for p in problems[before:]
                              if p["code"] != "expires_soon" and (position > 0 or p["code"] != "weak_key"))
    # Certificates supplied but not on the path still get their time checked: an expired
    # intermediate left in a bundle breaks clients that build paths differently.
    for cert in intermediates:
        if id(cert) not in seen and all(cert != other for other in path):
            seen.add(id(cert))
            _check_validity(cert, facts(cert), at, None, problems)

    found = facts(leaf)
    if purpose == "ca":
        _check_ca_target(leaf, found, problems)
    else:
        _check_end_entity(leaf, found, purpose, problems)
        if purpose == "workload":
            _check_workload(leaf, found, trust_domain, problems)
        else:
            _check_gateway(leaf, found, dns_names, problems)

    if reason is not None:
        anchored = len(path) > 1 and store.store is not None and store.contains(path[-1])
        explained = anchored and bool(explaining & set(_EXPLAINS_VALIDATOR_FAILURE))
        if not explained:
            problems.append(problem("untrusted", _untrusted_message(reason), leaf))
    return problems, path


def _place(cert, where, store):
    """Where ``cert`` was in the input: a text, or a loaded pki.PemCertificate (whose text is
    only built when a message needs it)."""
    place = where.get(id(cert)) or store.where.get(id(cert))
    return getattr(place, "where", place)


def _untrusted_message(reason):
    reason = reason.replace("validation failed: ", "").replace("candidates exhausted: ", "")
    if "Forbidden public key algorithm" in reason:
        return ("the path validator accepts RSA and ECDSA (P-256/P-384/P-521) issuer keys only; "
                "this chain uses another algorithm")
    if "all candidates exhausted with no interior errors" in reason:
        return "no path to a trusted root"
    return "no valid path to a trusted root: %s" % reason


def _certificates(value, origin):
    """``(certificates, {id(cert): place in the input (text or pki.PemCertificate)})`` from PEM
    text, path(s) or certificate objects; raises pki.MalformedInput naming ``origin`` and the certificate's position."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(item, x509.Certificate) for item in value):
        where = {}
        for number, cert in enumerate(value):
            where[id(cert)] = "%s, certificate %d" % (origin, number + 1)
            pki.check_readable(cert, where[id(cert)])
        return list(value), where
    loaded = pki.load_certificates(value, origin)
    return [item.cert for item in loaded], dict((id(item.cert), item) for item in loaded)


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
        on_path = set(id(cert) for cert in path)
        shown = list(path) + [cert for cert in certs[1:]
                              if id(cert) not in on_path and all(cert != other for other in path)]
        result["chain"] = [cert_facts.summary(cert, at) for cert in shown]
    return result


def clear_caches():
    """Forget every cached certificate fact and summary (a benchmark's fresh run)."""
    cert_facts.clear()
