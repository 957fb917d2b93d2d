"""Stand-in for cert-manager's validating admission webhook (``webhook.cert-manager.io``), test tier only.

The CRD schemas catch wrong types and unknown fields; cert-manager's webhook catches the rest
of what a real cluster refuses, and a test emulator that let those objects in would pass roles
that fail on a real cluster. This stand-in implements the checks certmesh.istio's objects can
meet, with the same field paths and wording as cert-manager v1.21
(``internal/apis/certmanager/validation``), and answers like the API server does when a webhook
denies a request:

* 403 ``Forbidden``, ``admission webhook "webhook.cert-manager.io" denied the request: <errors>``
  (one error as is, several as ``[a, b]``), for a spec that decodes but breaks a rule;
* 400 ``BadRequest`` with the same prefix when the object cannot be decoded (``duration: banana``).

It acts only while a ``ValidatingWebhookConfiguration`` holds a webhook named
``webhook.cert-manager.io`` whose rules cover the ``cert-manager.io`` group, as after cert-manager's
chart is installed; before that, objects pass unchecked as on a real cluster. It runs on
create and update (dry-run included: the webhook declares no side effects).

Certificate: ``secretName`` (required, DNS subdomain), ``issuerRef.name`` (required) and
``issuerRef.kind`` (Issuer or ClusterIssuer in the cert-manager.io group), at least one of
commonName/dnsNames/uris/emailAddresses/ipAddresses/otherNames, commonName at most 64 bytes, IP
addresses, private key size per algorithm, ``duration`` at least 1h, ``renewBefore`` at least 5m
and below the duration, renewBefore and renewBeforePercentage not both, revisionHistoryLimit at
least 1, no ``cert-manager.io/*`` secretTemplate annotations.
Issuer and ClusterIssuer: exactly one issuer type; ``ca.secretName``; ``vault.server``,
``vault.path`` (no ``..`` segment) and one auth method, with ``kubernetes.role`` and one of
``secretRef``/``serviceAccountRef``; ACME ``server`` and ``privateKeySecretRef.name``.
Not implemented: ACME solver details, Venafi, CertificateRequest identity and approval checks.
"""

import ipaddress
import re

from tests.emulators.cert_manager_ca import parse_go_duration
from tests.emulators.kube_api import ApiError

WEBHOOK_NAME = "webhook.cert-manager.io"
GROUP = "cert-manager.io"
MINIMUM_DURATION = 3600          # cmapi.MinimumCertificateDuration
MINIMUM_RENEW_BEFORE = 300       # cmapi.MinimumRenewBefore
DEFAULT_DURATION = 90 * 24 * 3600
ISSUER_TYPES = ("acme", "ca", "selfSigned", "vault", "venafi")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def denied(code, text):
    """The API server's answer when the webhook refuses: 403 for broken rules, 400 for undecodable input."""
    reason = "Forbidden" if code == 403 else "BadRequest"
    return ApiError(code, reason, 'admission webhook "%s" denied the request: %s' % (WEBHOOK_NAME, text))


def go_duration(seconds):
    """Go's ``time.Duration.String()`` for whole seconds: 3600 -> ``1h0m0s``, 1800 -> ``30m0s``."""
    return Stringer(_go_duration(seconds))


def _go_duration(seconds):
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%s%dh%dm%ds" % (sign, hours, minutes, secs)
    if minutes:
        return "%s%dm%ds" % (sign, minutes, secs)
    return "%s%ds" % (sign, secs)


# field.Error texts, as k8s.io/apimachinery prints them
def required(path, detail=""):
    return "%s: Required value%s" % (path, ": " + detail if detail else "")


class Stringer(str):
    """A value Go prints with its String() method, unquoted (a time.Duration)."""


def invalid(path, value, detail):
    shown = '"%s"' % value if isinstance(value, str) and not isinstance(value, Stringer) else value
    return "%s: Invalid value: %s: %s" % (path, shown, detail)


def forbidden(path, detail):
    return "%s: Forbidden: %s" % (path, detail)


def not_supported(path, value, supported):
    return "%s: Unsupported value: %s: supported values: %s" % (path, value, ", ".join('"%s"' % s for s in supported))


class CertManagerWebhookStandIn:
    """Admission stand-in: ``admit(emulator, operation, obj, old)`` raises the API server's ApiError."""

    def active(self, emulator):
        """True while cert-manager's ValidatingWebhookConfiguration covers the cert-manager.io group."""
        for config in emulator.stored("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"):
            for webhook in config.get("webhooks") or []:
                if webhook.get("name") != WEBHOOK_NAME:
                    continue
                for rule in webhook.get("rules") or []:
                    if GROUP in (rule.get("apiGroups") or []) or "*" in (rule.get("apiGroups") or []):
                        return True
        return False

    def admit(self, emulator, operation, obj, old=None):  # pylint: disable=unused-argument
        """Refuse ``obj`` the way the webhook would; return quietly when it is allowed."""
        api_version = obj.get("apiVersion") or ""
        if api_version != GROUP + "/v1" or obj.get("kind") not in ("Certificate", "Issuer", "ClusterIssuer"):
            return
        if not self.active(emulator):
            return
        spec = obj.get("spec") or {}
        errors = certificate_errors(spec) if obj["kind"] == "Certificate" else issuer_errors(spec)
        if errors:
            raise denied(403, errors[0] if len(errors) == 1 else "[%s]" % ", ".join(errors))


def _duration(spec, name):
    """Seconds of a duration field, None when unset; a 400 answer when it does not decode."""
    if spec.get(name) in (None, ""):
        return None
    try:
        return parse_go_duration(str(spec[name]))
    except ValueError as error:
        raise denied(400, 'time: invalid duration "%s"' % spec[name]) from error


def certificate_errors(spec):  # pylint: disable=too-many-branches
    """Every rule of ValidateCertificateSpec that certmesh.istio's Certificates can meet."""
    errors = []
    secret = spec.get("secretName") or ""
    if not secret:
        errors.append(required("spec.secretName", "must be specified"))
    elif len(secret) > 253 or not _DNS_SUBDOMAIN.match(secret):
        errors.append(invalid("spec.secretName", secret, "a lowercase RFC 1123 subdomain must consist of lower case "
                              "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"))
    issuer_ref = spec.get("issuerRef") or {}
    if not issuer_ref.get("name"):
        errors.append(required("spec.issuerRef.name", "must be specified"))
    group, kind = issuer_ref.get("group") or "", issuer_ref.get("kind") or ""
    if group in ("", GROUP) and kind not in ("", "Issuer", "ClusterIssuer"):
        hint = "" if group else " (did you forget to set spec.issuerRef.kind.group?)"
        errors.append(invalid("spec.issuerRef.kind", kind, "must be one of Issuer or ClusterIssuer" + hint))
    common_name = spec.get("commonName") or ""
    if not (common_name or spec.get("dnsNames") or spec.get("uris") or spec.get("emailAddresses")
            or spec.get("ipAddresses") or spec.get("otherNames")):
        errors.append(invalid("spec", "", "at least one of commonName (from the commonName field or from a "
                              "literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"))
    if len(common_name) > 64:
        errors.append("spec.commonName: Too long: may not be more than 64 bytes")
    for index, address in enumerate(spec.get("ipAddresses") or []):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            errors.append(invalid("spec.ipAddresses[%d]" % index, address, "invalid IP address"))
    key = spec.get("privateKey") or {}
    algorithm, size = key.get("algorithm") or "", key.get("size") or 0
    if algorithm in ("", "RSA") and size and not 2048 <= size <= 8192:
        errors.append(invalid("spec.privateKey.size", size, "must be between 2048 and 8192 for rsa keyAlgorithm"))
    elif algorithm == "ECDSA" and size and size not in (256, 384, 521):
        errors.append(not_supported("spec.privateKey.size", size, ["256", "384", "521"]))
    errors.extend(_duration_errors(spec))
    limit = spec.get("revisionHistoryLimit")
    if limit is not None and limit < 1:
        errors.append(invalid("spec.revisionHistoryLimit", limit, "must not be less than 1"))
    for annotation in ((spec.get("secretTemplate") or {}).get("annotations") or {}):
        if annotation.startswith("cert-manager.io/") and annotation != "cert-manager.io/allow-direct-injection":
            errors.append(invalid("spec.secretTemplate.annotations", annotation, "cert-manager.io/* annotations are not allowed"))
    return errors


def _duration_errors(spec):
    """ValidateDuration: a lifetime of at least an hour, renewal at least 5 minutes before its end."""
    duration, renew_before = _duration(spec, "duration"), _duration(spec, "renewBefore")
    percentage = spec.get("renewBeforePercentage")
    if duration is None and renew_before is None:
        return []
    effective = DEFAULT_DURATION if duration is None else duration
    errors = []
    if effective < MINIMUM_DURATION:
        errors.append(invalid("spec.duration", go_duration(effective), "certificate duration must be greater than %s"
                              % go_duration(MINIMUM_DURATION)))
    if renew_before is not None and percentage is not None:
        detail = "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"
        errors.append(invalid("spec.renewBefore", go_duration(renew_before), detail))
        errors.append(invalid("spec.renewBeforePercentage", percentage, detail))
    if renew_before is not None and renew_before < MINIMUM_RENEW_BEFORE:
        errors.append(invalid("spec.renewBefore", go_duration(renew_before), "certificate renewBefore must be greater "
                              "than %s" % go_duration(MINIMUM_RENEW_BEFORE)))
    if renew_before is not None and renew_before >= effective:
        errors.append(invalid("spec.renewBefore", go_duration(renew_before), "certificate duration %s must be greater "
                              "than renewBefore %s" % (go_duration(effective), go_duration(renew_before))))
    return errors


def issuer_errors(spec):
    """ValidateIssuerConfig for the issuer types certmesh.istio creates (CA, Vault, self-signed, ACME)."""
    errors = []
    present = [t for t in ISSUER_TYPES if spec.get(t) is not None]
    if not present:
        return [required("spec", "at least one issuer must be configured")]
    for extra in present[1:]:
        errors.append(forbidden("spec.%s" % extra, "may not specify more than one issuer type"))
    kind = present[0]
    config = spec[kind] or {}
    if kind == "ca" and not config.get("secretName"):
        errors.append(required("spec.ca.secretName"))
    elif kind == "vault":
        errors.extend(_vault_errors(config))
    elif kind == "acme":
        if not (config.get("privateKeySecretRef") or {}).get("name"):
            errors.append(required("spec.acme.privateKeySecretRef.name", "private key secret name is a required field"))
        if not config.get("server"):
            errors.append(required("spec.acme.server", "acme server URL is a required field"))
    return errors


def _vault_errors(config):
    errors = []
    if not config.get("server"):
        errors.append(required("spec.vault.server"))
    path = config.get("path") or ""
    if not path:
        errors.append(required("spec.vault.path"))
    elif ".." in path.split("/"):
        errors.append(invalid("spec.vault.path", path, "must not contain '..' path segments"))
    auth = config.get("auth") or {}
    methods = [m for m in ("tokenSecretRef", "appRole", "clientCertificate", "kubernetes", "aws") if auth.get(m) is not None]
    if not methods:
        errors.append(required("spec.vault.auth", "please supply one of: appRole, kubernetes, tokenSecretRef, "
                               "clientCertificate, aws"))
    kubernetes = auth.get("kubernetes")
    if kubernetes is not None:
        if not kubernetes.get("role"):
            errors.append(required("spec.vault.auth.kubernetes.role"))
        chosen = []  # as cert-manager counts them: a secretRef with a name, any serviceAccountRef
        if (kubernetes.get("secretRef") or {}).get("name"):
            chosen.append("secretRef")
        if kubernetes.get("serviceAccountRef") is not None:
            chosen.append("serviceAccountRef")
        if not chosen:
            errors.append(required("spec.vault.auth.kubernetes", "please supply one of: secretRef, serviceAccountRef"))
        elif len(chosen) > 1:
            errors.append(forbidden("spec.vault.auth.kubernetes", "please supply one of: secretRef, serviceAccountRef"))
        if kubernetes.get("serviceAccountRef") is not None and not kubernetes["serviceAccountRef"].get("name"):
            errors.append(required("spec.vault.auth.kubernetes.serviceAccountRef.name"))
    return errors
