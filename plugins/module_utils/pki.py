# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load PEM certificates with precise error messages, summarise them, parse SPIFFE IDs and
durations. Pure functions over ``cryptography``; nothing here reads Ansible variables, and no
function ever returns or prints private key material."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import os
import re
import stat

from ansible_collections.certmesh.istio.plugins.module_utils import input_rules

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test sanity only
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

UTC = datetime.timezone.utc

# A chain, a bundle or a Secret value is a few kilobytes; a CA bundle of a whole OS is well under
# one megabyte. The limit keeps a wrong path (a log file, an image) from being read whole.
MAX_INPUT_BYTES = 4 * 1024 * 1024

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]{1,64})-----(.*?)(?:-----END ([A-Z0-9 ]{1,64})-----|\Z)", re.S)
_PEM_ANY_BEGIN = "-----BEGIN "
_BEGIN_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----")
_CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")


class MalformedInput(Exception):
    """An input that is not a PEM certificate; ``str()`` says which input and where."""


def _parse_errors():
    """What cryptography's (Rust) parser raises for bad certificate bytes, at load time or
    when a lazily parsed attribute (issuer, extensions, dates, public key) is first read: not
    only ValueError but InvalidVersion (a plain Exception), UnsupportedAlgorithm, and
    OverflowError/TypeError for values Python's types cannot hold."""
    return (ValueError, TypeError, OverflowError, x509.InvalidVersion, UnsupportedAlgorithm)


class PemCertificate:
    """One certificate as read: the parsed object plus where it came from."""

    __slots__ = ("cert", "origin", "index", "line")

    def __init__(self, cert, origin, index, line):
        self.cert = cert
        self.origin = origin
        self.index = index
        self.line = line

    @property
    def where(self):
        return "%s, certificate %d (line %d)" % (self.origin, self.index + 1, self.line)


# --------------------------------------------------------------------------------------------
# Loading


def _to_text(data, origin):
    if isinstance(data, bytes):
        if len(data) > MAX_INPUT_BYTES:
            raise MalformedInput(_too_large(origin, len(data)))
        if _PEM_ANY_BEGIN.encode() not in data:
            _raise_not_pem(data, origin)
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if not isinstance(data, str):
        raise MalformedInput("%s: expected PEM text or a file path, got %s" % (origin, type(data).__name__))
    if len(data) > MAX_INPUT_BYTES:
        raise MalformedInput(_too_large(origin, len(data)))
    return data


def _too_large(origin, size):
    return ("%s: input is %.1f MB, more than the %d MB a certificate bundle may hold; "
            "check that it names the right file" % (origin, size / 1e6, MAX_INPUT_BYTES // (1024 * 1024)))


def _raise_not_pem(data, origin):
    if not data.strip():
        raise MalformedInput("%s: empty input, expected PEM certificates" % origin)
    if isinstance(data, bytes) and data[:1] == b"\x30":
        try:
            x509.load_der_x509_certificate(data)
        except _parse_errors():
            raise MalformedInput("%s: binary (DER-like) data that is not a certificate" % origin)
        raise MalformedInput(
            "%s: a DER (binary) certificate, expected PEM; convert it with "
            "'openssl x509 -inform der -in FILE -out FILE.pem'" % origin)
    raise MalformedInput(
        "%s: no PEM block found (expected '-----BEGIN CERTIFICATE-----'); it is neither PEM "
        "text nor the path of an existing file" % origin)


def load_pem_certificates(data, origin="input", skip_other_blocks=False):
    """Parse every certificate in PEM ``data`` (str or bytes).

    Text outside PEM blocks (comments, ``openssl x509 -text`` output) is ignored. Raises
    MalformedInput naming ``origin``, the block number and its line for the first block that is
    not a certificate, and when no certificate is found at all. With ``skip_other_blocks``,
    blocks of other types (the private key of a combined key-and-certificate file) are passed
    over unparsed instead.
    """
    text = _to_text(data, origin)
    if _PEM_ANY_BEGIN not in text:
        _raise_not_pem(text, origin)
    fast = _load_clean_bundle(text, origin)
    if fast is not None:
        return fast
    found = []
    skipped = []
    block_no = 0
    line, counted_to = 1, 0  # counted as we go: a big bundle is not rescanned for each block
    for match in _PEM_BLOCK.finditer(text):
        block_no += 1
        label, body, end_label = match.group(1), match.group(2), match.group(3)
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        where = "%s, PEM block %d (line %d)" % (origin, block_no, line)
        if end_label is None:
            raise MalformedInput("%s: '-----BEGIN %s-----' has no matching END line (truncated?)"
                                 % (where, label))
        if end_label != label:
            raise MalformedInput("%s: BEGIN %s ends with END %s" % (where, label, end_label))
        if label not in _CERT_LABELS:
            if skip_other_blocks:
                skipped.append(label)
                continue
            # Never echo the body: it may be a private key.
            raise MalformedInput("%s: a %s, not a CERTIFICATE" % (where, label))
        try:
            cert = x509.load_pem_x509_certificate(match.group(0).encode("ascii", "replace"))
        except _parse_errors() as exc:
            raise MalformedInput("%s: not a valid X.509 certificate (%s)" % (where, short_error(exc)))
        _readable(cert, where)
        found.append(PemCertificate(cert, origin, len(found), line))
    if not found and skipped:
        raise MalformedInput("%s: no certificate, only %s" % (origin, ", ".join(sorted(set(skipped)))))
    if not found:
        raise MalformedInput("%s: no PEM block found (expected '-----BEGIN CERTIFICATE-----')" % origin)
    return found


def _load_clean_bundle(text, origin):
    """The common case in one call: only well-formed CERTIFICATE blocks. None when anything
    is unusual, so that the block-by-block path can say precisely what and where."""
    labels = _BEGIN_LABEL.findall(text)
    if not labels or any(label != "CERTIFICATE" for label in labels):
        return None
    if text.count("-----END CERTIFICATE-----") != len(labels):
        return None
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii"))
    except _parse_errors():  # UnicodeEncodeError is a ValueError
        return None
    if len(certs) != len(labels):
        return None
    found = []
    position = 0
    line = 1
    for index, cert in enumerate(certs):
        start = text.find("-----BEGIN CERTIFICATE-----", position)
        line += text.count("\n", position, start)
        position = start + 1
        _readable(cert, "%s, PEM block %d (line %d)" % (origin, index + 1, line))
        found.append(PemCertificate(cert, origin, index, line))
    return found


def _readable(cert, where):
    """Parse every lazily decoded field now (cached for later), so that an undecodable one is
    reported as malformed input here instead of failing deep inside a check."""
    try:
        facts(cert)
    except _parse_errors() as exc:  # includes x509.DuplicateExtension
        raise MalformedInput("%s: certificate with an undecodable %s (%s)"
                             % (where, _field_of(cert, exc), short_error(exc)))


def check_readable(cert, where):
    """Raise MalformedInput naming ``where`` unless every field of ``cert`` (a certificate
    object handed over by a caller, not loaded here) can be decoded."""
    _readable(cert, where)


def _field_of(cert, exc):
    """Which field made ``facts`` fail, by reading each lazily decoded one on its own."""
    if isinstance(exc, x509.InvalidVersion):
        return "version field"
    for field, attribute in (("extension", "extensions"), ("issuer name", "issuer"),
                             ("subject name", "subject"), ("validity date", "not_valid_before_utc"),
                             ("validity date", "not_valid_after_utc"), ("serial number", "serial_number")):
        try:
            value = getattr(cert, attribute)
            if isinstance(value, x509.Name):
                value.rfc4514_string()
        except _parse_errors():
            return field
    return "field"


def short_error(exc):
    text = str(exc).strip() or exc.__class__.__name__
    return text if len(text) < 160 else text[:157] + "..."


def looks_like_pem(value):
    return isinstance(value, (str, bytes)) and (
        _PEM_ANY_BEGIN in value if isinstance(value, str) else _PEM_ANY_BEGIN.encode() in value)


def read_file(path, origin=None):
    """Bytes of a file, refusing directories and oversized files with a clear message."""
    origin = origin or path
    try:
        found = os.stat(path)
        if stat.S_ISDIR(found.st_mode):
            raise MalformedInput("%s: is a directory, expected a PEM file or PEM text" % origin)
        if not stat.S_ISREG(found.st_mode):
            # /dev/zero never ends and a FIFO blocks until someone writes to it.
            raise MalformedInput("%s: is not a regular file (a device, pipe or socket), expected a "
                                 "PEM file or PEM text" % origin)
        if found.st_size > MAX_INPUT_BYTES:
            raise MalformedInput(_too_large(origin, found.st_size))
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)  # a file that grew since stat()
    except MalformedInput:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise MalformedInput("%s: cannot read file (%s)" % (origin, getattr(exc, "strerror", None) or exc))
    if len(data) > MAX_INPUT_BYTES:
        raise MalformedInput(_too_large(origin, len(data)))
    return data


def _looks_like_path(text):
    text = text.strip()
    return bool(text) and "\n" not in text and len(text) < 4096 and (
        "/" in text or text.lower().endswith((".pem", ".crt", ".cer", ".cert")))


def load_certificates(value, origin="input"):
    """Certificates from PEM text, a file path, or a list of either (in the order given).

    Each list item is named ``origin[i]`` (plus the file path) in error messages. Collects the
    problem of every item: raises MalformedInput whose message lists them all.
    """
    items = value if isinstance(value, (list, tuple)) else [value]
    certs = []
    errors = []
    for number, item in enumerate(items):
        label = "%s[%d]" % (origin, number) if isinstance(value, (list, tuple)) else origin
        try:
            if isinstance(item, (str, bytes)) and len(item) > MAX_INPUT_BYTES:
                raise MalformedInput(_too_large(label, len(item)))
            if isinstance(item, bytes) or looks_like_pem(item):
                certs.extend(load_pem_certificates(item, label))
            elif isinstance(item, str) and item.strip() and "\n" not in item and os.path.exists(item):
                data = read_file(item, "%s (%s)" % (label, item))
                if not looks_like_pem(data):
                    _raise_not_pem(data, "%s (%s)" % (label, item))
                certs.extend(load_pem_certificates(data, "%s (%s)" % (label, item)))
            elif isinstance(item, str) and _looks_like_path(item):
                raise MalformedInput("%s: no such file %r (and not PEM text)" % (label, item))
            elif isinstance(item, str):
                _raise_not_pem(item, label)
            else:
                raise MalformedInput("%s: expected PEM text or a file path, got %s"
                                     % (label, type(item).__name__))
        except MalformedInput as exc:
            errors.append(str(exc))
    if errors:
        raise MalformedInput("; ".join(errors))
    if not certs:
        raise MalformedInput("%s: no certificate given" % origin)
    return certs


# --------------------------------------------------------------------------------------------
# Time and durations

def parse_duration(value):
    """Seconds (float) from ``24h``, ``90d``, ``2160h``, ``30m``, ``1h30m``, Go's ``2160h0m0s``
    (how cert-manager prints durations), ``1w`` or a plain number of seconds: the extended
    grammar of :func:`input_rules.extended_duration_seconds`, its one home."""
    return input_rules.extended_duration_seconds(value)


def format_duration(seconds):
    """Short human form: ``2d3h``, ``45m``, ``-1h2m`` (for the past)."""
    if math.isnan(seconds):  # never produced by the parsers, but never raise on it
        return "an undefined time"
    if abs(seconds) == float("inf"):
        return "forever"
    sign = "-" if seconds < 0 else ""
    seconds = int(abs(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
    if seconds or not parts:
        parts.append("%ds" % seconds)
    return sign + "".join(parts[:2])


def parse_time(value):
    """An aware UTC datetime from ISO 8601 text (``Z`` allowed, naive means UTC), a datetime,
    or ``None`` (now)."""
    if value is None or value == "":
        return datetime.datetime.now(UTC)
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, (str, datetime.date)) and not isinstance(value, bool):
        text = value.isoformat() if isinstance(value, datetime.date) else value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:  # also a lone surrogate: UnicodeEncodeError is a ValueError
            raise ValueError("time %s: expected ISO 8601 such as 2026-11-25T08:00:00Z"
                             % _quoted(value))
    else:
        raise ValueError("time %s: expected ISO 8601 text such as 2026-11-25T08:00:00Z, got %s"
                         % (_quoted(value), type(value).__name__))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        # 0001-01-01T00:00:00+01:00 is a valid ISO 8601 time before datetime.min in UTC.
        raise ValueError("time %s is outside the years 1 to 9999 once converted to UTC"
                         % _quoted(value))


def _quoted(value):
    """``repr`` cut to a readable length (an input may be a whole file)."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def iso(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md)

_TRUST_DOMAIN_CHARS = re.compile(r"[a-z0-9._-]+")
_PATH_SEGMENT_CHARS = re.compile(r"[A-Za-z0-9._-]+")


class SpiffeIdError(ValueError):
    pass


def parse_spiffe_id(value, istio=True):
    """Split a SPIFFE ID into trust domain and path; with ``istio`` also require Istio's
    ``/ns/<namespace>/sa/<service account>`` path. Raises SpiffeIdError saying which rule broke.

    Returns ``{spiffe_id, trust_domain, path, namespace, service_account}``.
    """
    if not isinstance(value, str):
        raise SpiffeIdError("SPIFFE ID must be a string, got %s" % type(value).__name__)
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (U+D800..U+DFFF) is not a character
        raise SpiffeIdError("%s is not valid Unicode text (it holds a lone surrogate)"
                            % ascii(value[:80]))
    if len(encoded) > 2048:
        raise SpiffeIdError("SPIFFE ID is longer than 2048 bytes")
    if not value.startswith("spiffe://"):
        raise SpiffeIdError("%r does not start with 'spiffe://' (the scheme must be lowercase)" % value)
    rest = value[len("spiffe://"):]
    if "?" in rest or "#" in rest:
        raise SpiffeIdError("%r: a SPIFFE ID has no query or fragment" % value)
    trust_domain, slash, path = rest.partition("/")
    if not trust_domain:
        raise SpiffeIdError("%r has an empty trust domain" % value)
    if "@" in trust_domain or ":" in trust_domain:
        raise SpiffeIdError("%r: the trust domain may not hold a user, password or port" % value)
    if not _TRUST_DOMAIN_CHARS.fullmatch(trust_domain):
        raise SpiffeIdError("%r: the trust domain %r may only hold lowercase letters, digits, "
                            "'.', '-' and '_'" % (value, trust_domain))
    path = slash + path
    segments = path.split("/")[1:] if path else []
    if path == "/":
        raise SpiffeIdError("%r: the path may not end with '/'" % value)
    for segment in segments:
        if segment == "":
            raise SpiffeIdError("%r: the path has an empty segment or ends with '/'" % value)
        if segment in (".", ".."):
            raise SpiffeIdError("%r: the path may not hold '.' or '..' segments" % value)
        if not _PATH_SEGMENT_CHARS.fullmatch(segment):
            raise SpiffeIdError("%r: path segment %r may only hold letters, digits, '.', '-' and '_'"
                                % (value, segment))
    result = {"spiffe_id": value, "trust_domain": trust_domain, "path": path,
              "namespace": None, "service_account": None}
    if len(segments) == 4 and segments[0] == "ns" and segments[2] == "sa":
        result["namespace"] = segments[1]
        result["service_account"] = segments[3]
    elif istio:
        raise SpiffeIdError("%r: Istio workload IDs have the path /ns/<namespace>/sa/<service account>"
                            % value)
    return result


# --------------------------------------------------------------------------------------------
# Summaries

KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"), ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"),
)


_EKU_NAMES = {}


def _eku_names():
    if not _EKU_NAMES:
        _EKU_NAMES.update(_eku_table())
    return _EKU_NAMES


def _eku_table():
    return {
        ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
        ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
        ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
        ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
        ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
        ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    }


def extension(cert, ext_class):
    """The extension value, or None when absent."""
    try:
        return cert.extensions.get_extension_for_class(ext_class).value
    except x509.ExtensionNotFound:
        return None


# Parsing extensions and hashing a certificate costs more than checking a signature's worth
# of Python; roots and intermediates repeat across thousands of chains, so their facts are
# kept (by certificate value) in a small bounded cache.
_FACTS = {}
_FACTS_BY_ID = {}
_SAN_KINDS = {}
_FACTS_MAX = 8192


def facts(cert):
    """Parsed facts of one certificate (cached): a dict used by the checks and summaries."""
    if not _SAN_KINDS:
        _SAN_KINDS.update({x509.DNSName: "dns", x509.UniformResourceIdentifier: "uri",
                           x509.IPAddress: "ip", x509.RFC822Name: "email"})
    entry = _FACTS_BY_ID.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    found = _FACTS.get(cert)
    if found is not None:
        _remember(cert, found)
        return found
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
    names = _eku_names()
    subject = cert.subject.rfc4514_string()
    display = subject
    if not display:
        display = "(empty subject)"
        for kind in ("uri", "dns", "ip", "email"):
            if sans[kind]:
                display = "(empty subject; SAN %s)" % sans[kind][0]
                break
    serial = "%X" % cert.serial_number
    found = {
        "bc": bc,
        "key_usage": None if usage is None else [rfc for attr, rfc in KEY_USAGE_NAMES if getattr(usage, attr)],
        "eku_oids": None if eku is None else list(eku),
        "eku": None if eku is None else [names.get(oid, oid.dotted_string) for oid in eku],
        "sans": sans,
        "key": None,  # computed on first use by key_info(): loading the key costs
        "subject": subject,
        "issuer": cert.issuer.rfc4514_string(),
        "display": display,
        "serial": serial if len(serial) % 2 == 0 else "0" + serial,
        "fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "name_constraints": ExtensionOID.NAME_CONSTRAINTS in values,
        "ski": getattr(values.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER), "digest", None),
        "aki": getattr(values.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER), "key_identifier", None),
    }
    if len(_FACTS) >= _FACTS_MAX:
        _FACTS.clear()
    _FACTS[cert] = found
    _remember(cert, found)
    return found


def _remember(cert, found):
    # Looking a certificate up by value hashes its DER; by identity is much cheaper, and the
    # same object is asked about a dozen times while one chain is checked.
    if len(_FACTS_BY_ID) >= 256:
        _FACTS_BY_ID.clear()
    _FACTS_BY_ID[id(cert)] = (cert, found)


def basic_constraints(cert):
    return facts(cert)["bc"]


def is_ca(cert):
    bc = facts(cert)["bc"]
    return bool(bc and bc.ca)


def key_usages(cert):
    """List of keyUsage names (RFC 5280 spelling), or None when the extension is absent."""
    return facts(cert)["key_usage"]


def extended_key_usages(cert):
    """List of EKU names (dotted OIDs for unknown ones), or None when absent."""
    return facts(cert)["eku"]


def subject_alt_names(cert):
    """``{dns, uri, ip, email}`` lists from the SAN extension (empty lists when absent)."""
    return facts(cert)["sans"]


def key_info(cert):
    """``(type, size, curve)``: ``("RSA", 2048, None)``, ``("EC", 256, "secp256r1")``..."""
    found = facts(cert)
    if found["key"] is None:
        found["key"] = _key_info(cert)
    return found["key"]


def _key_info(cert):
    try:
        key = cert.public_key()
    except Exception as exc:  # pylint: disable=broad-except  # an algorithm or curve cryptography cannot load
        try:
            algorithm = cert.public_key_algorithm_oid.dotted_string
        except _parse_errors():
            algorithm = "unreadable"
        return ("unknown (%s: %s)" % (algorithm, short_error(exc)), None, None)
    if isinstance(key, rsa.RSAPublicKey):
        return ("RSA", key.key_size, None)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ("EC", key.curve.key_size, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("Ed25519", 256, None)
    if isinstance(key, ed448.Ed448PublicKey):
        return ("Ed448", 456, None)
    if isinstance(key, dsa.DSAPublicKey):
        return ("DSA", key.key_size, None)
    return (key.__class__.__name__, None, None)


def fingerprint_sha256(cert):
    return facts(cert)["fingerprint"]


def serial_hex(cert):
    return facts(cert)["serial"]


def subject_text(cert):
    return facts(cert)["subject"]


def display_name(cert):
    """Subject, or for an empty subject (Istio SVIDs) the first SAN, so messages name something."""
    return facts(cert)["display"]


def spiffe_id_of(cert):
    """The certificate's SPIFFE ID when it has exactly one URI SAN and it is a spiffe:// URI."""
    uris = facts(cert)["sans"]["uri"]
    return uris[0] if len(uris) == 1 and uris[0].lower().startswith("spiffe:") else None


_SUMMARIES = {}


def summary(cert, at=None):
    """The per-certificate summary shared by chain_verify, rotation_check and x509_info."""
    at = parse_time(at)
    static = _SUMMARIES.get(cert)
    if static is None:
        found = facts(cert)
        bc = found["bc"]
        key_type, key_size, curve = key_info(cert)
        sans = found["sans"]
        static = {
            "subject": found["subject"],
            "issuer": found["issuer"],
            "serial": found["serial"],
            "not_before": iso(found["not_before"]),
            "not_after": iso(found["not_after"]),
            "lifetime_seconds": int((found["not_after"] - found["not_before"]).total_seconds()),
            "is_ca": bool(bc and bc.ca),
            "path_length": bc.path_length if bc and bc.ca else None,
            "key_type": key_type,
            "key_size": key_size,
            "key_curve": curve,
            "sans": (["DNS:" + n for n in sans["dns"]] + ["URI:" + n for n in sans["uri"]]
                     + ["IP:" + n for n in sans["ip"]] + ["email:" + n for n in sans["email"]]),
            "dns_names": sans["dns"],
            "uris": sans["uri"],
            "spiffe_id": spiffe_id_of(cert),
            "key_usage": found["key_usage"],
            "extended_key_usage": found["eku"],
            "fingerprint_sha256": found["fingerprint"],
            "self_signed": cert.subject == cert.issuer,
        }
        if len(_SUMMARIES) >= _FACTS_MAX:
            _SUMMARIES.clear()
        _SUMMARIES[cert] = static
    result = dict(static)
    result["seconds_left"] = int((facts(cert)["not_after"] - at).total_seconds())
    for key in ("sans", "dns_names", "uris", "key_usage", "extended_key_usage"):
        if result[key] is not None:
            result[key] = list(result[key])
    return result
