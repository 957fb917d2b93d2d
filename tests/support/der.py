"""Just enough DER to craft certificates that ``cryptography`` refuses to build: a wrong version
field, undecodable bytes in a name, an unknown EC curve, dates outside Python's datetime range.

A certificate is taken apart into its TBSCertificate elements (RFC 5280 4.1), one element is
replaced, and the result is signed again with the issuer's key, so the signature still verifies
and the crafted field, not a bad signature, is what the code under test meets.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
BIT_STRING = 0x03
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
VERSION_TAG = 0xA0  # [0] EXPLICIT Version

# TBSCertificate elements, by position, when the version field is present (it always is for v3).
TBS_VERSION, TBS_SERIAL, TBS_SIGNATURE, TBS_ISSUER, TBS_VALIDITY, TBS_SUBJECT, TBS_SPKI = range(7)


def length(size):
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag, value):
    return bytes([tag]) + length(len(value)) + value


def read(data, pos=0):
    """``(tag, value_start, end)`` of the element at ``pos`` (single-byte tags only)."""
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    count = first & 0x7F
    size = int.from_bytes(data[pos + 2:pos + 2 + count], "big")
    start = pos + 2 + count
    return tag, start, start + size


def children(element):
    """The encoded child elements of one constructed element."""
    _tag, pos, end = read(element)
    found = []
    while pos < end:
        _child_tag, _start, child_end = read(element, pos)
        found.append(element[pos:child_end])
        pos = child_end
    return found


def value(element):
    _tag, start, end = read(element)
    return element[start:end]


def encode_oid(dotted):
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def name(*attributes):
    """A Name from ``(oid, tag, raw value bytes)`` triples, one RDN each."""
    rdns = [tlv(SET, tlv(SEQUENCE, encode_oid(oid) + tlv(tag, raw))) for oid, tag, raw in attributes]
    return tlv(SEQUENCE, b"".join(rdns))


def validity(not_before, not_after, tag=GENERALIZED_TIME):
    """A Validity from raw time strings such as ``b"99991231235959Z"``."""
    return tlv(SEQUENCE, tlv(tag, not_before) + tlv(tag, not_after))


def tbs_elements(cert_der):
    return children(children(cert_der)[0])


def rebuild(cert_der, signing_key, replace):
    """The certificate with TBSCertificate elements replaced (``{position: encoded element}``),
    signed again with ``signing_key`` (the issuer's key, or the subject's for a self-signed one)."""
    outer = children(cert_der)
    elements = tbs_elements(cert_der)
    for position, element in replace.items():
        elements[position] = element
    tbs = tlv(SEQUENCE, b"".join(elements))
    signature = _sign(signing_key, tbs)
    return tlv(SEQUENCE, tbs + outer[1] + tlv(BIT_STRING, b"\x00" + signature))


def _sign(key, data):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # Deterministic (RFC 6979), so that the same crafted input always has the same bytes.
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise ValueError("cannot sign with %s" % type(key).__name__)
