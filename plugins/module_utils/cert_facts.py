# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one parsed certificate says, read once: extensions, names, key, fingerprint, validity,
and the per-certificate summary built from them. Private to the collection (callers use the
names ``pki`` re-exports); nothing here reads input or Ansible variables.

Why a cache: decoding extensions and names through ``cryptography`` costs more than a
signature check's worth of Python, and a chain check asks about each certificate a dozen
times. Facts of a CA certificate (roots and intermediates repeat across thousands of chains and
Secrets) are kept by certificate value for the whole run; facts of an end-entity certificate
(unique per chain) by the identity of its object.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
except ImportError:  # pragma: no cover - reported by pki.HAS_CRYPTOGRAPHY
    pass

UTC = datetime.timezone.utc

KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"), ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"),
)

# CA certificates of one run: a fleet has a few roots and one intermediate per cluster, so the
# bound only guards against a pathological input (a bundle of a whole OS trust store fits).
_CA_FACTS_MAX = 65536
# Every certificate by identity: a module run loads its certificates (which reads their facts,
# to refuse an undecodable one) and then checks them; the bound is the size of a big run (tens
# of thousands of Secrets with their ca.crt), whose certificate objects the run holds anyway.
_RECENT_MAX = 65536

_CA_FACTS = {}
_RECENT = {}
_EKU_NAMES = {}
_SAN_KINDS = {}
_KEY_KINDS = {}
_NAME_TEXT = {}
_NAME_TEXT_MAX = 4096
# CA certificates by the base64 text of their PEM block: thousands of chains and Secrets of a
# run carry the same few CA blocks, which are then decoded and parsed once.
_CA_BLOCKS = {}
_CA_BLOCKS_MAX = 4096


def parse_errors():
    """What cryptography's (Rust) parser raises for bad certificate bytes, at load time or
    when a lazily parsed attribute (issuer, extensions, dates, public key) is first read: not
    only ValueError but InvalidVersion (a plain Exception), UnsupportedAlgorithm, and
    OverflowError/TypeError for values Python's types cannot hold."""
    return (ValueError, TypeError, OverflowError, x509.InvalidVersion, UnsupportedAlgorithm)


def short_error(exc):
    text = str(exc).strip() or exc.__class__.__name__
    return text if len(text) < 160 else text[:157] + "..."


def iso(moment):
    """ISO 8601 UTC with a ``Z``, to the second (as every result of the collection prints)."""
    if moment.tzinfo is not UTC:  # cryptography's *_utc dates already are
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime's own spelling of early years, kept as it was
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def clear():
    """Forget every cached fact (a benchmark's fresh run; tests that mutate nothing need not)."""
    _CA_FACTS.clear()
    _RECENT.clear()
    _NAME_TEXT.clear()
    _CA_BLOCKS.clear()


def eku_names():
    if not _EKU_NAMES:
        _EKU_NAMES.update({
            ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
            ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
            ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
            ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
            ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
            ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
        })
    return _EKU_NAMES


def extension(cert, ext_class):
    """The extension value, or None when absent."""
    try:
        return cert.extensions.get_extension_for_class(ext_class).value
    except x509.ExtensionNotFound:
        return None


def facts(cert, der=None):
    """Parsed facts of one certificate (cached): a dict used by the checks and summaries.

    ``der``: the certificate's DER bytes when the caller has them (decoded from its PEM);
    otherwise they are re-encoded from ``cert``. A CA's facts are found again by the SHA-256
    of those bytes (its fingerprint, which every certificate needs anyway), which costs less
    than hashing and comparing the parsed certificate."""
    entry = _RECENT.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    if der is None:
        der = _der_of(cert)
    digest = hashlib.sha256(der).digest()
    found = _CA_FACTS.get(digest) if _CA_FACTS else None
    if found is None:
        found = _compute(cert, der, digest)
        if found["is_ca"]:
            if len(_CA_FACTS) >= _CA_FACTS_MAX:
                _CA_FACTS.clear()
            _CA_FACTS[digest] = found
    # Looking a certificate up by identity is cheaper still.
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[id(cert)] = (cert, found)
    return found


def _der_of(cert):
    # Imported here: the serialization package (SSH keys included) costs a module process
    # more to import than a whole run of PEM input, which hands the DER over, needs.
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


def ca_block(body):
    """``(certificate, der)`` of a CA certificate read earlier from the PEM block text ``body``
    (what lies between its BEGIN and END lines), or None."""
    return _CA_BLOCKS.get(body)


def remember_ca_block(body, cert, der):
    """Keep a CA certificate by its PEM block text (an end-entity one is unique to its input)."""
    if facts(cert, der)["is_ca"]:
        if len(_CA_BLOCKS) >= _CA_BLOCKS_MAX:
            _CA_BLOCKS.clear()
        _CA_BLOCKS[body] = (cert, der)


def _tlv_end(data, pos):
    """``(value start, end)`` of the DER element at ``pos`` (definite lengths, as in DER)."""
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    return pos, pos + length


def _name_texts(cert, der):
    """RFC 4514 texts of issuer and subject. A fleet's certificates repeat a few issuer names
    (and Istio SVIDs all have an empty subject): the text is kept by the name's DER bytes,
    sliced out of the certificate's DER (Certificate, then its to-be-signed part), which costs
    less than building the Name objects."""
    try:
        pos = _tlv_end(der, _tlv_end(der, 0)[0])[0]  # inside tbsCertificate
        if der[pos] == 0xA0:  # [0] version
            pos = _tlv_end(der, pos)[1]
        pos = _tlv_end(der, pos)[1]  # serialNumber
        pos = _tlv_end(der, pos)[1]  # signature AlgorithmIdentifier
        issuer_end = _tlv_end(der, pos)[1]
        issuer_der = der[pos:issuer_end]
        subject_start = _tlv_end(der, issuer_end)[1]  # validity
        subject_der = der[subject_start:_tlv_end(der, subject_start)[1]]
    except IndexError:  # pragma: no cover - cryptography parsed these bytes already
        subject = cert.subject.rfc4514_string()
        return cert.issuer.rfc4514_string(), subject
    texts = []
    # The subject first, as before: when both are undecodable, its error is the one reported.
    for der, name in ((subject_der, "subject"), (issuer_der, "issuer")):
        text = _NAME_TEXT.get(der)
        if text is None:
            text = getattr(cert, name).rfc4514_string()
            if len(_NAME_TEXT) >= _NAME_TEXT_MAX:
                _NAME_TEXT.clear()
            _NAME_TEXT[der] = text
        texts.append(text)
    return texts[1], texts[0]


def _compute(cert, der, digest):
    if not _SAN_KINDS:
        _SAN_KINDS.update({x509.DNSName: "dns", x509.UniformResourceIdentifier: "uri",
                           x509.IPAddress: "ip", x509.RFC822Name: "email"})
    values = {}
    for ext in cert.extensions:
        values[ext.oid] = ext.value
    bc = values.get(ExtensionOID.BASIC_CONSTRAINTS)
    usage = values.get(ExtensionOID.KEY_USAGE)
    eku = values.get(ExtensionOID.EXTENDED_KEY_USAGE)
    san = values.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    sans = {"dns": [], "uri": [], "ip": [], "email": []}
    if san is not None:
        for general_name in san:
            kind = _SAN_KINDS.get(type(general_name))
            if kind is not None:
                sans[kind].append(str(general_name.value) if kind == "ip" else general_name.value)
    names = eku_names()
    issuer, subject = _name_texts(cert, der)
    display = subject
    if not display:
        display = "(empty subject)"
        for kind in ("uri", "dns", "ip", "email"):
            if sans[kind]:
                display = "(empty subject; SAN %s)" % sans[kind][0]
                break
    serial = "%X" % cert.serial_number
    return {
        "basic_constraints": bc,
        "is_ca": bool(bc and bc.ca),
        "key_usage": None if usage is None else [rfc for attr, rfc in KEY_USAGE_NAMES if getattr(usage, attr)],
        "eku_oids": None if eku is None else list(eku),
        "eku": None if eku is None else [names.get(oid, oid.dotted_string) for oid in eku],
        "sans": sans,
        "key": None,  # computed on first use by key_info(): loading the key costs
        "subject": subject,
        "issuer": issuer,
        "display": display,
        "serial": serial if len(serial) % 2 == 0 else "0" + serial,
        "fingerprint": digest.hex(":").upper(),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "name_constraints": ExtensionOID.NAME_CONSTRAINTS in values,
        "ski": getattr(values.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER), "digest", None),
        "aki": getattr(values.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER), "key_identifier", None),
        "summary": None,  # the static part of summary(), built on first use
    }


def basic_constraints(cert):
    return facts(cert)["basic_constraints"]


def is_ca(cert):
    return facts(cert)["is_ca"]


def key_usages(cert):
    """List of keyUsage names (RFC 5280 spelling), or None when the extension is absent."""
    return facts(cert)["key_usage"]


def extended_key_usages(cert):
    """List of EKU names (dotted OIDs for unknown ones), or None when absent."""
    return facts(cert)["eku"]


def subject_alt_names(cert):
    """``{dns, uri, ip, email}`` lists from the SAN extension (empty lists when absent)."""
    return facts(cert)["sans"]


def key_info(cert, found=None):
    """``(type, size, curve)``: ``("RSA", 2048, None)``, ``("EC", 256, "secp256r1")``..."""
    found = found or facts(cert)
    if found["key"] is None:
        found["key"] = _key_info(cert)
    return found["key"]


def _key_info(cert):
    try:
        key = cert.public_key()
    except Exception as exc:  # pylint: disable=broad-except  # an algorithm or curve cryptography cannot load
        try:
            algorithm = cert.public_key_algorithm_oid.dotted_string
        except parse_errors():
            algorithm = "unreadable"
        return ("unknown (%s: %s)" % (algorithm, short_error(exc)), None, None)
    kind = _KEY_KINDS.get(type(key))
    if kind is None:  # an isinstance() over the ABCs once per key class
        kind = _KEY_KINDS[type(key)] = _key_kind(key)
    if kind == "RSA" or kind == "DSA":
        return (kind, key.key_size, None)
    if kind == "EC":
        return ("EC", key.curve.key_size, key.curve.name)
    if kind == "Ed25519":
        return ("Ed25519", 256, None)
    if kind == "Ed448":
        return ("Ed448", 456, None)
    return (key.__class__.__name__, None, None)


def _key_kind(key):
    for kind, abc in (("RSA", rsa.RSAPublicKey), ("EC", ec.EllipticCurvePublicKey),
                      ("Ed25519", ed25519.Ed25519PublicKey), ("Ed448", ed448.Ed448PublicKey),
                      ("DSA", dsa.DSAPublicKey)):
        if isinstance(key, abc):
            return kind
    return None


def fingerprint_sha256(cert):
    return facts(cert)["fingerprint"]


def serial_hex(cert):
    return facts(cert)["serial"]


def subject_text(cert):
    return facts(cert)["subject"]


def display_name(cert):
    """Subject, or for an empty subject (Istio SVIDs) the first SAN, so messages name something."""
    return facts(cert)["display"]


def spiffe_id_of(cert, found=None):
    """The certificate's SPIFFE ID when it has exactly one URI SAN and it is a spiffe:// URI."""
    uris = (found or facts(cert))["sans"]["uri"]
    return uris[0] if len(uris) == 1 and uris[0].lower().startswith("spiffe:") else None


def _self_signed(cert, found):
    """``cert.subject == cert.issuer`` without building both Name objects when their texts
    already differ (a multi-valued RDN, whose text depends on the order, is compared whole)."""
    if found["subject"] != found["issuer"] and "+" not in found["subject"] and "+" not in found["issuer"]:
        return False
    return cert.subject == cert.issuer


_LIST_FIELDS = ("sans", "dns_names", "uris", "key_usage", "extended_key_usage")


def summary(cert, at, found=None):
    """The per-certificate summary shared by chain_verify, rotation_check and x509_info, at the
    aware datetime ``at`` (``pki.summary`` takes any time input)."""
    found = found or facts(cert)
    static = found["summary"]
    fresh = static is None
    if fresh:
        bc = found["basic_constraints"]
        key_type, key_size, curve = key_info(cert, found)
        sans = found["sans"]
        static = {
            "subject": found["subject"],
            "issuer": found["issuer"],
            "serial": found["serial"],
            "not_before": iso(found["not_before"]),
            "not_after": iso(found["not_after"]),
            "lifetime_seconds": int((found["not_after"] - found["not_before"]).total_seconds()),
            "is_ca": found["is_ca"],
            "path_length": bc.path_length if bc and bc.ca else None,
            "key_type": key_type,
            "key_size": key_size,
            "key_curve": curve,
            "sans": (["DNS:" + n for n in sans["dns"]] + ["URI:" + n for n in sans["uri"]]
                     + ["IP:" + n for n in sans["ip"]] + ["email:" + n for n in sans["email"]]),
            "dns_names": sans["dns"],
            "uris": sans["uri"],
            "spiffe_id": spiffe_id_of(cert, found),
            "key_usage": found["key_usage"],
            "extended_key_usage": found["eku"],
            "fingerprint_sha256": found["fingerprint"],
            "self_signed": _self_signed(cert, found),
        }
    if fresh and not found["is_ca"]:
        # An end-entity certificate is summarised once (it is unique to its chain or Secret):
        # the summary built for it is the result, with lists of its own.
        static["seconds_left"] = int((found["not_after"] - at).total_seconds())
        for key in ("dns_names", "uris", "key_usage", "extended_key_usage"):
            if static[key] is not None:
                static[key] = list(static[key])
        return static
    if fresh:
        found["summary"] = static
    result = dict(static)
    result["seconds_left"] = int((found["not_after"] - at).total_seconds())
    for key in _LIST_FIELDS:  # each result owns its lists: a caller may change one
        if result[key] is not None:
            result[key] = list(result[key])
    return result
