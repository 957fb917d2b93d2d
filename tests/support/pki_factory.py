"""Build real PKIs for tests with ``cryptography``: mesh root, intermediates, workload SVIDs,
gateway certificates, and deliberately broken variants.

The API is three functions plus a bundle helper::

    root = make_root()                                   # self-signed CA
    inter = make_intermediate(root, path_length=0)       # CA issued by root
    svid = make_leaf(inter, uris=["spiffe://cluster.local/ns/default/sa/web"])
    gw = make_leaf(inter, dns_names=["shop.example.com"], eku=["server_auth"], lifetime=days(90))
    pem = bundle(svid, inter)                            # PEM text, leaf first

Every builder accepts ``key_type`` (``"ec"``, ``"rsa"``, ``"ed25519"``), ``key_size`` (RSA bits
or EC curve size 256/384/521), ``key`` (reuse a private key: keys are slow to make; by default
one cached key per type and role, ``key_slot`` = root/intermediate/leaf), validity
(``not_before``/``not_after`` or ``lifetime`` from ``not_before``, default now - 1h), and the
extensions as plain keywords. ``None`` for an extension argument leaves it out.
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc

EKU = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)
CA_KEY_USAGE = ("key_cert_sign", "crl_sign", "digital_signature")
LEAF_KEY_USAGE = ("digital_signature", "key_encipherment")
_CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1, 192: ec.SECP192R1}
_KEY_CACHE = {}


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def hours(n):
    return datetime.timedelta(hours=n)


def days(n):
    return datetime.timedelta(days=n)


class Issued:
    """A certificate with its private key (kept for issuing, never printed)."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self):
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def write(self, path):
        path.write_text(self.pem)
        return path

    def __repr__(self):
        return "Issued(%s)" % self.cert.subject.rfc4514_string()


def make_key(key_type="ec", key_size=None, cached=True, slot="leaf"):
    """A private key; cached per (type, size, slot) unless ``cached=False`` (keys are slow to
    make). Roots, intermediates and leaves use different slots, so their key identifiers differ
    as they would in a real mesh."""
    ident = (key_type, key_size, slot)
    if cached and ident in _KEY_CACHE:
        return _KEY_CACHE[ident]
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size or 2048)
    elif key_type == "ec":
        key = ec.generate_private_key(_CURVES[key_size or 256]())
    elif key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError("unknown key_type %r" % key_type)
    if cached:
        _KEY_CACHE[ident] = key
    return key


def _name(common_name, organization=None):
    if common_name is None:
        return x509.Name([])
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def make_cert(
    common_name="certmesh test",
    issuer=None,
    *,
    key_type="ec",
    key_size=None,
    key=None,
    subject=None,
    not_before=None,
    not_after=None,
    lifetime=days(365),
    serial=None,
    is_ca=False,
    path_length=None,
    basic_constraints=True,
    bc_critical=True,
    key_usage=LEAF_KEY_USAGE,
    eku=None,
    dns_names=(),
    uris=(),
    ips=(),
    emails=(),
    san_critical=None,
    ski=True,
    aki=True,
    hash_algorithm=None,
    extensions=(),
    key_slot="leaf",
):
    """Build one certificate. ``issuer=None`` makes it self-signed.

    ``key_usage`` is a sequence of names from KEY_USAGES (``None`` leaves the extension out);
    ``eku`` a sequence of EKU names (``None`` leaves it out); ``san_critical`` defaults to
    critical when the subject is empty (RFC 5280 4.2.1.6); ``extensions`` adds
    ``(extension, critical)`` pairs such as ``(x509.NameConstraints(...), True)``.
    """
    key = key or make_key(key_type, key_size, slot=key_slot)
    name = subject if subject is not None else _name(common_name)
    not_before = not_before or (now() - hours(1))
    not_after = not_after or (not_before + lifetime)
    issuer_name = issuer.cert.subject if issuer else name
    signing_key = issuer.key if issuer else key
    if hash_algorithm is None and not isinstance(signing_key, ed25519.Ed25519PrivateKey):
        hash_algorithm = hashes.SHA256()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None),
            critical=bc_critical)
    if key_usage is not None:
        flags = {usage: usage in key_usage for usage in KEY_USAGES}
        if not flags["key_agreement"]:
            flags["encipher_only"] = flags["decipher_only"] = False
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if eku is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([EKU[usage] for usage in eku]), critical=False)
    general_names = (
        [x509.DNSName(n) for n in dns_names]
        + [x509.UniformResourceIdentifier(u) for u in uris]
        + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        + [x509.RFC822Name(e) for e in emails]
    )
    if general_names:
        critical = (len(name) == 0) if san_critical is None else san_critical
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names), critical=critical)
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return Issued(builder.sign(signing_key, hash_algorithm), key)


def make_root(common_name="certmesh mesh root", **options):
    """A self-signed mesh root CA (10 years unless ``lifetime``/``not_after`` say otherwise)."""
    options.setdefault("lifetime", days(3650))
    options.setdefault("key_slot", "root")
    options.setdefault("is_ca", True)
    options.setdefault("key_usage", CA_KEY_USAGE)
    return make_cert(common_name, None, **options)


def make_intermediate(issuer, common_name="certmesh cluster intermediate", **options):
    """An intermediate CA such as istio-csr's issuer (1 year unless told otherwise)."""
    options.setdefault("lifetime", days(365))
    options.setdefault("key_slot", "intermediate")
    options.setdefault("is_ca", True)
    options.setdefault("key_usage", CA_KEY_USAGE)
    return make_cert(common_name, issuer, **options)


def make_leaf(issuer, common_name=None, **options):
    """An end-entity certificate; without a name or SANs it gets a CN of ``certmesh leaf``."""
    if common_name is None and not (options.get("dns_names") or options.get("uris")
                                    or "subject" in options):
        common_name = "certmesh leaf"
    options.setdefault("lifetime", hours(24))
    options.setdefault("key_usage", LEAF_KEY_USAGE)
    return make_cert(common_name, issuer, **options)


def make_workload_svid(issuer, trust_domain="cluster.local", namespace="default",
                       service_account="default", **options):
    """A 24h Istio workload X.509-SVID: empty subject, one critical SPIFFE URI SAN."""
    options.setdefault("uris", ["spiffe://%s/ns/%s/sa/%s" % (trust_domain, namespace, service_account)])
    options.setdefault("eku", ["server_auth", "client_auth"])
    options.setdefault("subject", x509.Name([]))
    return make_leaf(issuer, **options)


def make_gateway_cert(issuer, dns_names=("shop.example.com",), **options):
    """The seed's 90-day ingress gateway certificate (cert-manager renewBefore 30 days)."""
    options.setdefault("lifetime", days(90))
    options.setdefault("eku", ["server_auth"])
    return make_leaf(issuer, common_name=dns_names[0] if dns_names else None,
                     dns_names=list(dns_names), **options)


def bundle(*issued):
    """PEM text of several certificates, in the order given."""
    return "".join(item.pem for item in issued)


class MeshPKI:
    """The seed's PKI: root -> cluster intermediate -> workload SVID and gateway certificate."""

    def __init__(self, key_type="ec", key_size=None, trust_domain="cluster.local"):
        self.trust_domain = trust_domain
        self.root = make_root(key_type=key_type, key_size=key_size)
        self.intermediate = make_intermediate(self.root, key_type=key_type, key_size=key_size,
                                              path_length=0)
        self.workload = make_workload_svid(self.intermediate, trust_domain, "shop", "frontend",
                                           key_type=key_type, key_size=key_size)
        self.gateway = make_gateway_cert(self.intermediate, key_type=key_type, key_size=key_size)


# --------------------------------------------------------------------------------------------
# Certificates that cryptography's builder refuses to make, crafted in DER (tests/support/der.py)


class Crafted(Issued):
    """A crafted certificate: ``cert`` is None when cryptography cannot even load it; ``der``
    and ``pem`` are always there."""

    def __init__(self, der_bytes, key):
        self._der = der_bytes
        try:
            cert = x509.load_der_x509_certificate(der_bytes)
        except Exception:  # noqa: BLE001 - the point of crafting is that loading may fail
            cert = None
        super().__init__(cert, key)

    @property
    def der(self):
        return self._der

    @property
    def pem(self):
        import base64
        body = base64.encodebytes(self._der).decode().replace("\n", "")
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(lines)

    def __repr__(self):
        return "Crafted(%d bytes)" % len(self._der)


def craft(issued, issuer=None, *, version=None, issuer_name=None, subject_name=None,
          not_before=None, not_after=None, time_tag=None, curve_oid=None):
    """``issued`` with TBSCertificate fields replaced, signed again by ``issuer`` (default: by
    itself, for a root). ``version`` is the raw INTEGER (2 means v3); ``issuer_name`` /
    ``subject_name`` are encoded Names (``der.name(...)``); ``not_before`` / ``not_after`` raw
    time strings (GeneralizedTime unless ``time_tag``); ``curve_oid`` replaces the named curve
    of an EC public key."""
    from tests.support import der
    original = issued.der
    elements = der.tbs_elements(original)
    replace = {}
    if version is not None:
        replace[der.TBS_VERSION] = der.tlv(der.VERSION_TAG, der.tlv(der.INTEGER, bytes([version])))
    if issuer_name is not None:
        replace[der.TBS_ISSUER] = issuer_name
    if subject_name is not None:
        replace[der.TBS_SUBJECT] = subject_name
    if not_before is not None or not_after is not None:
        current = der.children(elements[der.TBS_VALIDITY])
        tag = time_tag or der.GENERALIZED_TIME
        before = der.tlv(tag, not_before) if not_before is not None else current[0]
        after = der.tlv(tag, not_after) if not_after is not None else current[1]
        replace[der.TBS_VALIDITY] = der.tlv(der.SEQUENCE, before + after)
    if curve_oid is not None:
        algorithm, public_key = der.children(elements[der.TBS_SPKI])
        key_oid = der.children(algorithm)[0]
        replace[der.TBS_SPKI] = der.tlv(der.SEQUENCE, der.tlv(
            der.SEQUENCE, key_oid + der.encode_oid(curve_oid)) + public_key)
    signer = (issuer or issued).key
    return Crafted(der.rebuild(original, signer, replace), issued.key)
