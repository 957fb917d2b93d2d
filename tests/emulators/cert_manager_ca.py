"""Stand-ins, for the test tier only, for cert-manager's CA/self-signed issuers and istio-csr's trust bundle.

``CertManagerCAStandIn`` is a controller for ``KubeAPIEmulator`` (pass it in ``controllers``);
the emulator calls ``observe()`` synchronously after every committed change, so by the time a
test's ``kubernetes.core.k8s`` task returns, the stand-in has already reacted.

What it does, like cert-manager v1.21 does:

* ``Issuer``/``ClusterIssuer`` with ``spec.ca.secretName``: ``Ready=True`` (reason
  ``KeyPairVerified``) when the Secret exists (in the Issuer's namespace, or in
  the cluster resource namespace for a ClusterIssuer: the ``--cluster-resource-namespace``
  argument of a Deployment named ``cert-manager`` when there is one, else
  ``cluster_resource_namespace``, ``cert-manager`` by default) and its
  ``tls.crt``/``tls.key`` hold a CA certificate and the matching key; ``Ready=False`` with
  reason ``ErrGetKeyPair`` (Secret missing) or ``ErrInvalidKeyPair`` otherwise.
  ``spec.selfSigned``: ``Ready=True`` at once. Any other issuer type: ``Ready=False``,
  reason ``NotSupportedByStandIn``.
* ``Certificate`` whose ``issuerRef`` points at such an issuer (group ``cert-manager.io``,
  kind ``Issuer`` by default): signs a certificate with ``cryptography`` honouring
  ``commonName``, ``subject``, ``dnsNames``, ``uris``, ``ipAddresses``, ``emailAddresses``,
  ``duration`` (default 2160h), ``renewBefore``/``renewBeforePercentage`` (default a third of
  the lifetime), ``isCA``, ``usages`` (default ``digital signature``, ``key encipherment``),
  ``privateKey.algorithm``/``size``/``rotationPolicy`` (default RSA 2048, ``Always``) and
  ``secretTemplate``; writes the ``kubernetes.io/tls`` Secret ``spec.secretName`` with
  ``tls.crt`` (leaf, then the issuer's chain), ``tls.key`` (PKCS#1 for RSA unless
  ``privateKey.encoding: PKCS8``) and ``ca.crt`` (the issuer's ``ca.crt``, else the last
  certificate of its ``tls.crt``; the certificate itself for self-signed) and cert-manager's
  ``cert-manager.io/*`` annotations; sets ``status.conditions`` ``Ready=True``
  (``observedGeneration`` included), ``notBefore``, ``notAfter``, ``renewalTime`` and
  ``revision``. A Certificate is re-issued when its spec or its issuer's CA changes, or when
  its Secret is deleted or altered. When the issuer is missing or not ready, the Certificate
  gets ``Ready=False`` with reason ``Pending``.
* istio-csr trust: for every Deployment named ``cert-manager-istio-csr`` it reads the
  container args the istio-csr chart renders (``--root-ca-file``, ``--issuer-name``,
  ``--issuer-kind``, ``--issuer-group``) and publishes the ConfigMap ``istio-ca-root-cert``
  (key ``root-cert.pem``) into every namespace. The root is the file named by
  ``--root-ca-file`` **read on the test machine** (the real pod reads a mounted Secret), or
  else the issuer's CA certificate (what istio-csr does without a root CA file).

What it does not do: CertificateRequest/Order/Challenge objects, ACME, Vault, Venafi, the
``cert-manager.io/issue-temporary-certificate`` annotation, renewal over time (only on
change), keystores (JKS/PKCS#12), name constraints, admission webhook checks (an invalid
``spec.duration`` such as ``banana`` makes ``Ready=False``, reason ``InvalidDuration``,
instead of the webhook's rejection), and istio-csr's gRPC CSR signing.
"""

import base64
import datetime
import functools
import hashlib
import ipaddress
import json
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GROUP = "cert-manager.io"
CM_API = "cert-manager.io/v1"
SPEC_HASH_ANNOTATION = "emulator.certmesh.test/certificate-spec-hash"

_KEY_USAGES = {
    "digital signature": "digital_signature", "signing": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "data encipherment": "data_encipherment", "key agreement": "key_agreement",
    "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
_EXT_USAGES = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH, "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING, "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
_SUBJECT_FIELDS = (
    ("organizations", NameOID.ORGANIZATION_NAME), ("organizationalUnits", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("countries", NameOID.COUNTRY_NAME), ("provinces", NameOID.STATE_OR_PROVINCE_NAME),
    ("localities", NameOID.LOCALITY_NAME), ("streetAddresses", NameOID.STREET_ADDRESS),
    ("postalCodes", NameOID.POSTAL_CODE),
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_go_duration(text):
    """Return seconds for a Go duration string (``2160h``, ``1h30m``); ValueError if invalid."""
    if not isinstance(text, str) or not text or _DURATION_PART.sub("", text) != "":
        raise ValueError("time: invalid duration %r" % text)
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def _utc(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def _unb64(text):
    return base64.b64decode(text or "")


@functools.lru_cache(maxsize=64)
def _load_private_key(pem):
    """A PEM private key, checked once per content: an issuer's 4096-bit key is read at every
    reconcile, and OpenSSL's RSA check costs a quarter of a second each time. A key that fails
    is not cached, so it fails again the next time, as cert-manager's would."""
    return serialization.load_pem_private_key(pem, password=None)


def _condition(kind, status, reason, message, previous, generation=None):
    old = next((c for c in (previous or []) if c.get("type") == kind), {})
    stamp = old.get("lastTransitionTime") if old.get("status") == status else None
    condition = {"type": kind, "status": status, "reason": reason, "message": message,
                 "lastTransitionTime": stamp or _utc(datetime.datetime.now(datetime.timezone.utc))}
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


class CertManagerCAStandIn:
    """Controller stand-in for cert-manager's CA and self-signed issuers and istio-csr's trust publishing."""

    def __init__(self, cluster_resource_namespace="cert-manager"):
        self.cluster_resource_namespace = cluster_resource_namespace
        self._webhook = None

    # ----- admission ----------------------------------------------------------------------------
    def admit(self, emulator, operation, obj, old=None):
        """cert-manager's validating webhook, once its chart installed it (tests/emulators/cert_manager_webhook.py)."""
        if self._webhook is None:
            from tests.emulators.cert_manager_webhook import CertManagerWebhookStandIn  # pylint: disable=import-outside-toplevel
            self._webhook = CertManagerWebhookStandIn()
        self._webhook.admit(emulator, operation, obj, old)

    # ----- event dispatch -----------------------------------------------------------------------
    def observe(self, emulator, event_type, obj):
        """React to one committed change (called by the emulator)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        meta = obj["metadata"]
        if api_version.startswith(GROUP + "/") and kind in ("Issuer", "ClusterIssuer") and event_type != "DELETED":
            self._reconcile_issuer(emulator, obj)
        elif api_version.startswith(GROUP + "/") and kind == "Certificate" and event_type != "DELETED":
            self._reconcile_certificate(emulator, obj)
        elif kind in ("Issuer", "ClusterIssuer") and event_type == "DELETED":
            self._reconcile_certificates_of(emulator, kind, meta["name"], meta.get("namespace"))
        elif api_version == "v1" and kind == "Secret":
            self._secret_changed(emulator, obj)
        elif api_version == "apps/v1" and kind == "Deployment" and meta["name"] == "cert-manager-istio-csr":
            self._publish_trust(emulator)
        elif api_version == "v1" and kind == "Namespace" and event_type == "ADDED":
            self._publish_trust(emulator)

    def _secret_changed(self, emulator, secret):
        name, namespace = secret["metadata"]["name"], secret["metadata"]["namespace"]
        for kind in ("ClusterIssuer", "Issuer"):
            if not emulator.resource_type(CM_API, kind):
                continue
            for issuer in emulator.list(CM_API, kind):
                issuer_ns = issuer["metadata"].get("namespace") or self._resource_namespace(emulator)
                if (issuer.get("spec") or {}).get("ca", {}).get("secretName") == name and issuer_ns == namespace:
                    self._reconcile_issuer(emulator, issuer)
        if emulator.resource_type(CM_API, "Certificate"):
            for cert in emulator.list(CM_API, "Certificate", namespace):
                if cert["spec"].get("secretName") == name:
                    self._reconcile_certificate(emulator, cert)
        self._publish_trust(emulator)

    # ----- issuers ------------------------------------------------------------------------------
    def _resource_namespace(self, emulator):
        """Where ClusterIssuer Secrets live: the cert-manager Deployment's flag, else the default."""
        for deployment in emulator.list("apps/v1", "Deployment"):
            if deployment["metadata"]["name"] != "cert-manager":
                continue
            for container in deployment["spec"]["template"]["spec"].get("containers", []):
                for arg in container.get("args") or []:
                    if arg.startswith("--cluster-resource-namespace="):
                        return arg.split("=", 1)[1]
        return self.cluster_resource_namespace

    def _issuer_key_pair(self, emulator, issuer):
        """Return ``(ok, reason, message, material)`` for an issuer; material is (cert, key, chain_pem, ca_pem)."""
        spec = issuer.get("spec") or {}
        if "selfSigned" in spec:
            return True, "IsReady", "", None
        if "ca" not in spec:
            return False, "NotSupportedByStandIn", "the test stand-in only implements CA and self-signed issuers", None
        secret_name = spec["ca"].get("secretName")
        namespace = issuer["metadata"].get("namespace") or self._resource_namespace(emulator)
        secret = emulator.get("v1", "Secret", secret_name, namespace)
        if secret is None:
            return False, "ErrGetKeyPair", 'Error getting keypair for CA issuer: secrets "%s" not found' % secret_name, None
        data = secret.get("data") or {}
        try:
            chain_pem = _unb64(data.get("tls.crt"))
            certs = x509.load_pem_x509_certificates(chain_pem)
            key = _load_private_key(_unb64(data.get("tls.key")))
            ca_cert = certs[0]
            constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if not constraints.ca:
                raise ValueError("certificate is not a CA")
            if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
                    ca_cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
                raise ValueError("private key does not match certificate")
        except (ValueError, TypeError, x509.ExtensionNotFound) as error:
            return False, "ErrInvalidKeyPair", "Error getting keypair for CA issuer: %s" % error, None
        ca_pem = _unb64(data["ca.crt"]) if data.get("ca.crt") else certs[-1].public_bytes(serialization.Encoding.PEM)
        return True, "KeyPairVerified", "Signing CA verified", (ca_cert, key, chain_pem, ca_pem)

    def _reconcile_issuer(self, emulator, issuer):
        ok, reason, message, _material = self._issuer_key_pair(emulator, issuer)
        status = {"conditions": [_condition("Ready", "True" if ok else "False", reason, message,
                                            (issuer.get("status") or {}).get("conditions"),
                                            issuer["metadata"].get("generation"))]}
        if (issuer.get("status") or {}).get("conditions") != status["conditions"]:
            emulator.apply({"apiVersion": issuer["apiVersion"], "kind": issuer["kind"],
                            "metadata": {k: v for k, v in issuer["metadata"].items() if k in ("name", "namespace")},
                            "status": status}, manager="cert-manager-issuers", subresource="status")
        self._reconcile_certificates_of(emulator, issuer["kind"], issuer["metadata"]["name"],
                                        issuer["metadata"].get("namespace"))

    def _reconcile_certificates_of(self, emulator, kind, name, namespace):
        if not emulator.resource_type(CM_API, "Certificate"):
            return
        for cert in emulator.list(CM_API, "Certificate", namespace if kind == "Issuer" else None):
            ref = cert["spec"].get("issuerRef") or {}
            if ref.get("name") == name and ref.get("kind", "Issuer") == kind:
                self._reconcile_certificate(emulator, cert)

    # ----- certificates --------------------------------------------------------------------------
    def _find_issuer(self, emulator, cert):
        ref = cert["spec"].get("issuerRef") or {}
        if ref.get("group", GROUP) != GROUP:
            return None, 'issuer group "%s" is external; the stand-in only signs cert-manager.io issuers' % ref.get("group")
        kind = ref.get("kind") or "Issuer"
        namespace = cert["metadata"]["namespace"] if kind == "Issuer" else None
        issuer = emulator.get(CM_API, kind, ref.get("name"), namespace)
        if issuer is None:
            return None, 'Referenced "%s" not found: %s.%s "%s" not found' % (kind, kind.lower() + "s", GROUP, ref.get("name"))
        return issuer, ""

    def _set_certificate_status(self, emulator, cert, status):
        previous = cert.get("status") or {}
        merged = {k: v for k, v in previous.items() if k not in ("conditions",)}
        merged.update(status)
        if merged == previous:
            return
        emulator.apply({"apiVersion": cert["apiVersion"], "kind": "Certificate",
                        "metadata": {"name": cert["metadata"]["name"], "namespace": cert["metadata"]["namespace"]},
                        "status": merged}, manager="cert-manager-certificates", subresource="status")

    def _not_ready(self, emulator, cert, reason, message):
        conditions = [_condition("Ready", "False", reason, message, (cert.get("status") or {}).get("conditions"),
                                 cert["metadata"].get("generation"))]
        self._set_certificate_status(emulator, cert, {"conditions": conditions})

    def _reconcile_certificate(self, emulator, cert):
        spec = cert.get("spec") or {}
        issuer, problem = self._find_issuer(emulator, cert)
        if issuer is None:
            self._not_ready(emulator, cert, "Pending", problem)
            return
        ok, reason, message, material = self._issuer_key_pair(emulator, issuer)
        if not ok:
            self._not_ready(emulator, cert, "Pending", 'Issuer "%s" is not ready: %s: %s' % (issuer["metadata"]["name"], reason, message))
            return
        try:
            duration = parse_go_duration(spec.get("duration", "2160h"))
            renew_before = parse_go_duration(spec["renewBefore"]) if spec.get("renewBefore") else None
        except ValueError as error:
            self._not_ready(emulator, cert, "InvalidDuration", str(error))
            return
        fingerprint = material[0].fingerprint(hashes.SHA256()).hex() if material else "self-signed"
        spec_hash = hashlib.sha256(json.dumps([spec, fingerprint], sort_keys=True).encode()).hexdigest()[:32]
        namespace = cert["metadata"]["namespace"]
        secret = emulator.get("v1", "Secret", spec["secretName"], namespace)
        status = cert.get("status") or {}
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
        if (secret is not None and (secret["metadata"].get("annotations") or {}).get(SPEC_HASH_ANNOTATION) == spec_hash
                and ready.get("status") == "True" and ready.get("observedGeneration") == cert["metadata"].get("generation")
                and self._secret_intact(secret)):
            return
        key = self._private_key(spec.get("privateKey") or {}, secret)
        leaf, chain_pem, ca_pem = self._sign(spec, key, material, duration)
        not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        if renew_before is None:
            percentage = spec.get("renewBeforePercentage")
            renew_before = (duration * percentage / 100.0) if percentage else duration / 3.0
        renewal = not_after - datetime.timedelta(seconds=renew_before)
        self._write_secret(emulator, cert, issuer, leaf, key, chain_pem, ca_pem, spec_hash, spec.get("privateKey") or {})
        conditions = [_condition("Ready", "True", "Ready", "Certificate is up to date and has not expired",
                                 status.get("conditions"), cert["metadata"].get("generation"))]
        self._set_certificate_status(emulator, cert, {
            "conditions": conditions, "notBefore": _utc(not_before), "notAfter": _utc(not_after),
            "renewalTime": _utc(renewal), "revision": int(status.get("revision") or 0) + 1,
        })

    @staticmethod
    def _secret_intact(secret):
        data = secret.get("data") or {}
        marker = hashlib.sha256(_unb64(data.get("tls.crt")) + _unb64(data.get("tls.key"))).hexdigest()[:16]
        return (secret["metadata"].get("annotations") or {}).get(SPEC_HASH_ANNOTATION + "-content") == marker

    @staticmethod
    def _private_key(private_key_spec, secret):
        if private_key_spec.get("rotationPolicy") == "Never" and secret is not None and (secret.get("data") or {}).get("tls.key"):
            try:
                return _load_private_key(_unb64(secret["data"]["tls.key"]))
            except ValueError:
                pass
        algorithm = private_key_spec.get("algorithm", "RSA")
        if algorithm == "ECDSA":
            curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[private_key_spec.get("size") or 256]
            return ec.generate_private_key(curve)
        if algorithm == "Ed25519":
            return ed25519.Ed25519PrivateKey.generate()
        return rsa.generate_private_key(public_exponent=65537, key_size=private_key_spec.get("size") or 2048)

    @staticmethod
    def _subject(spec):
        attributes = []
        subject = spec.get("subject") or {}
        for field, oid in _SUBJECT_FIELDS:
            for value in subject.get(field) or []:
                attributes.append(x509.NameAttribute(oid, value))
        if subject.get("serialNumber"):
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, subject["serialNumber"]))
        if spec.get("commonName"):
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, spec["commonName"]))
        return x509.Name(attributes)

    def _sign(self, spec, key, material, duration):  # pylint: disable=too-many-locals
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        subject = self._subject(spec)
        sans = [x509.DNSName(n) for n in spec.get("dnsNames") or []]
        sans += [x509.UniformResourceIdentifier(u) for u in spec.get("uris") or []]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.get("ipAddresses") or []]
        sans += [x509.RFC822Name(e) for e in spec.get("emailAddresses") or []]
        usages = spec.get("usages") or ["digital signature", "key encipherment"]
        if spec.get("isCA") and "cert sign" not in usages:
            usages = list(usages) + ["cert sign"]
        flags = {name: False for name in set(_KEY_USAGES.values())}
        for usage in usages:
            if usage in _KEY_USAGES:
                flags[_KEY_USAGES[usage]] = True
        if isinstance(key, ec.EllipticCurvePrivateKey) or isinstance(key, ed25519.Ed25519PrivateKey):
            flags["key_encipherment"] = False  # cert-manager drops it for non-RSA keys
        extended = [_EXT_USAGES[u] for u in usages if u in _EXT_USAGES]
        issuer_cert, issuer_key = (material[0], material[1]) if material else (None, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_cert.subject if issuer_cert else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(seconds=duration))
            .add_extension(x509.KeyUsage(**flags), critical=True)
            .add_extension(x509.BasicConstraints(ca=bool(spec.get("isCA")), path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if extended:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=not subject)
        if issuer_cert is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
        algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        leaf = builder.sign(issuer_key, algorithm)
        leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
        if material:
            return leaf, leaf_pem + material[2], material[3]
        return leaf, leaf_pem, leaf_pem

    def _write_secret(self, emulator, cert, issuer, leaf, key, chain_pem, ca_pem, spec_hash, private_key_spec):  # pylint: disable=too-many-arguments
        if isinstance(key, rsa.RSAPrivateKey) and private_key_spec.get("encoding", "PKCS1") == "PKCS1":
            key_format = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            key_format = serialization.PrivateFormat.PKCS8
        key_pem = key.private_bytes(serialization.Encoding.PEM, key_format, serialization.NoEncryption())
        spec = cert["spec"]
        template = spec.get("secretTemplate") or {}
        marker = hashlib.sha256(chain_pem + key_pem).hexdigest()[:16]
        annotations = dict(template.get("annotations") or {})
        annotations.update({
            "cert-manager.io/certificate-name": cert["metadata"]["name"],
            "cert-manager.io/issuer-name": issuer["metadata"]["name"],
            "cert-manager.io/issuer-kind": issuer["kind"],
            "cert-manager.io/issuer-group": GROUP,
            "cert-manager.io/common-name": spec.get("commonName", ""),
            "cert-manager.io/alt-names": ",".join(spec.get("dnsNames") or []),
            "cert-manager.io/ip-sans": ",".join(spec.get("ipAddresses") or []),
            "cert-manager.io/uri-sans": ",".join(spec.get("uris") or []),
            SPEC_HASH_ANNOTATION: spec_hash,
            SPEC_HASH_ANNOTATION + "-content": marker,
        })
        labels = dict(template.get("labels") or {})
        labels["controller.cert-manager.io/fao"] = "true"
        secret = {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": spec["secretName"], "namespace": cert["metadata"]["namespace"],
                         "labels": labels, "annotations": annotations},
            "data": {"tls.crt": _b64(chain_pem), "tls.key": _b64(key_pem), "ca.crt": _b64(ca_pem)},
        }
        existing = emulator.get("v1", "Secret", spec["secretName"], cert["metadata"]["namespace"])
        if existing is not None and existing.get("type") != "kubernetes.io/tls":
            emulator.delete("v1", "Secret", spec["secretName"], cert["metadata"]["namespace"])
        del leaf
        emulator.apply(secret, manager="cert-manager-certificates-issuing")

    # ----- istio-csr trust --------------------------------------------------------------------------
    def _trust_root(self, emulator, deployment):
        args = []
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            args += container.get("args") or []
        flags = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        root_file = flags.get("root-ca-file")
        if root_file and os.path.isfile(root_file):
            with open(root_file, "rb") as stream:
                return stream.read()
        kind = flags.get("issuer-kind", "Issuer")
        namespace = deployment["metadata"]["namespace"] if kind == "Issuer" else None
        issuer = emulator.get(CM_API, kind, flags.get("issuer-name", "istio-ca"), namespace) \
            if emulator.resource_type(CM_API, kind) else None
        if issuer is None:
            return None
        ok, _reason, _message, material = self._issuer_key_pair(emulator, issuer)
        return material[3] if ok and material else None

    def _publish_trust(self, emulator):
        deployments = emulator.list("apps/v1", "Deployment")
        istio_csr = [d for d in deployments if d["metadata"]["name"] == "cert-manager-istio-csr"]
        if not istio_csr:
            return
        root = self._trust_root(emulator, istio_csr[0])
        if root is None:
            return
        for namespace in emulator.list("v1", "Namespace"):
            emulator.apply({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "istio-ca-root-cert", "namespace": namespace["metadata"]["name"],
                             "labels": {"istio.io/config": "true"}},
                "data": {"root-cert.pem": root.decode()},
            }, manager="cert-manager-istio-csr")
