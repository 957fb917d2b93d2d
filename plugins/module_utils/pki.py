# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load PEM certificates with precise error messages, summarise them, parse SPIFFE IDs and
durations. Pure functions over ``cryptography``; nothing here reads Ansible variables, and no
function ever returns or prints private key material."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import math
import os
import re
import stat

from ansible_collections.certmesh.istio.plugins.module_utils import cert_facts, input_rules
# Certificate facts and summaries moved to cert_facts.py; these names stay importable from here.
from ansible_collections.certmesh.istio.plugins.module_utils.cert_facts import (  # noqa: F401 pylint: disable=unused-import
    KEY_USAGE_NAMES, basic_constraints, display_name, extended_key_usages, extension, facts,
    fingerprint_sha256, is_ca, iso, key_info, key_usages, serial_hex, short_error, spiffe_id_of,
    subject_alt_names, subject_text,
)
from ansible_collections.certmesh.istio.plugins.module_utils.cert_facts import parse_errors as _parse_errors

try:
    from cryptography import x509
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
_CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")


class MalformedInput(Exception):
    """An input that is not a PEM certificate; ``str()`` says which input and where."""


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


_BEGIN_CERT = "-----BEGIN CERTIFICATE-----"
_END_CERT = "-----END CERTIFICATE-----"


def _load_clean_bundle(text, origin):
    """The common case in one pass: only well-formed CERTIFICATE blocks of plain base64. None
    when anything is unusual, so that the block-by-block path can say precisely what and where.
    Each block is decoded here, so that its DER bytes (fingerprint, names) need not be
    re-encoded from the parsed certificate; a CA block seen before in this run is not decoded
    again (the same certificate object is returned, once per bundle)."""
    count = text.count(_BEGIN_CERT)
    if not count or text.count("-----BEGIN ") != count or text.count(_END_CERT) != count:
        return None
    found = []
    used = set()
    position = 0
    line = 1
    for index in range(count):
        start = text.find(_BEGIN_CERT, position)
        end = text.find(_END_CERT, start)
        if end < 0:
            return None
        body = text[start + len(_BEGIN_CERT):end]
        known = cert_facts.ca_block(body)
        fresh = known is None or id(known[0]) in used
        if not fresh:
            cert, der = known
        else:
            try:
                # validate: only the base64 alphabet once line breaks are gone (no headers, no junk).
                der = base64.b64decode("".join(body.split()), validate=True)
                cert = x509.load_der_x509_certificate(der)
            except _parse_errors():  # binascii.Error is a ValueError
                return None
        used.add(id(cert))
        line += text.count("\n", position, start)
        position = start + 1
        if fresh:
            _readable(cert, None, der, lambda number=index + 1, line=line: "%s, PEM block %d (line %d)" % (origin, number, line))
            cert_facts.remember_ca_block(body, cert, der)
        found.append(PemCertificate(cert, origin, index, line))
    return found


def _readable(cert, where, der=None, where_text=None):
    """Parse every lazily decoded field now (cached for later), so that an undecodable one is
    reported as malformed input here instead of failing deep inside a check. ``where_text``:
    a callable giving ``where`` when it is needed (only for an error)."""
    try:
        facts(cert, der)
    except _parse_errors() as exc:  # includes x509.DuplicateExtension
        where = where_text() if where_text is not None else where
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
    if isinstance(value, datetime.datetime) and value.tzinfo is UTC:
        return value  # already what every caller passes on (one chain check calls this twice)
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


# --------------------------------------------------------------------------------------------
# SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md)

_TRUST_DOMAIN_CHARS = re.compile(r"[a-z0-9._-]+")
_PATH_SEGMENT_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_ISTIO_ID = re.compile(r"spiffe://([a-z0-9._-]+)/ns/([A-Za-z0-9._-]+)/sa/([A-Za-z0-9._-]+)")


class SpiffeIdError(ValueError):
    pass


def parse_spiffe_id(value, istio=True):
    """Split a SPIFFE ID into trust domain and path; with ``istio`` also require Istio's
    ``/ns/<namespace>/sa/<service account>`` path. Raises SpiffeIdError saying which rule broke.

    Returns ``{spiffe_id, trust_domain, path, namespace, service_account}``.
    """
    if not isinstance(value, str):
        raise SpiffeIdError("SPIFFE ID must be a string, got %s" % type(value).__name__)
    istio_form = _ISTIO_ID.fullmatch(value) if len(value) <= 2048 else None
    if istio_form is not None and istio_form.group(2) not in (".", "..") and istio_form.group(3) not in (".", ".."):
        # The common case in one match; every rule below holds for it (ASCII only, no empty,
        # '.' or '..' segment, at most 2048 bytes).
        return {"spiffe_id": value, "trust_domain": istio_form.group(1),
                "path": value[len("spiffe://") + len(istio_form.group(1)):],
                "namespace": istio_form.group(2), "service_account": istio_form.group(3)}
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
# Summaries (the facts behind them live in cert_facts.py)


def summary(cert, at=None):
    """The per-certificate summary shared by chain_verify, rotation_check and x509_info."""
    return cert_facts.summary(cert, parse_time(at))
