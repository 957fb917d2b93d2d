# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rotation checks: classify certificates by how much of their lifetime is left.

Mesh certificates live 1h to 24h, gateway certificates 90 days, roots years; a fixed "30 days"
means nothing across them, so thresholds are relative to each certificate's lifetime unless
given as absolute durations. Pure functions: sources hand in plain records (files read,
Kubernetes objects listed by kube.py), this module returns plain dicts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import os

from ansible_collections.certmesh.istio.plugins.module_utils import pki

STATUSES = ("ok", "renew_soon", "critical", "expired", "invalid")
_RANK = dict((status, rank) for rank, status in enumerate(STATUSES))

DEFAULT_WARN_FRACTION = 1.0 / 3
DEFAULT_CRITICAL_FRACTION = 1.0 / 10
# cert-manager's own default when a Certificate has no spec.renewBefore: 2/3 of the lifetime
# must pass before renewal, i.e. renew when one third is left.
CERT_MANAGER_DEFAULT_RENEW_FRACTION = 1.0 / 3
PEM_SUFFIXES = (".pem", ".crt", ".cer", ".cert", ".ca-bundle")


def worse(first, second):
    return first if _RANK[first] >= _RANK[second] else second


def parse_threshold(value):
    """``None`` (use the default), ``("fraction", f)`` for ``"33%"``, or ``("seconds", s)``
    for a duration such as ``7d``/``2h``. Raises ValueError with the accepted forms."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.endswith("%"):
        try:
            fraction = float(text[:-1]) / 100.0
        except ValueError:
            raise ValueError("threshold %r: expected a percentage such as 33%% or a duration "
                             "such as 7d" % (value,))
        if not 0 <= fraction <= 1:
            raise ValueError("threshold %r: a percentage must be between 0%% and 100%%" % (value,))
        return ("fraction", fraction)
    return ("seconds", pki.parse_duration(value))


def _threshold_seconds(threshold, lifetime, default_fraction):
    if threshold is None:
        return lifetime * default_fraction, "%d%% of the %s lifetime" % (
            round(default_fraction * 100), pki.format_duration(lifetime))
    kind, amount = threshold
    if kind == "fraction":
        return lifetime * amount, "%g%% of the %s lifetime" % (amount * 100, pki.format_duration(lifetime))
    return amount, pki.format_duration(amount)


def classify(not_before, not_after, at, warn_within=None, critical_within=None, renew_before=None):
    """Status of one certificate at ``at``.

    ``warn_within``/``critical_within`` come from parse_threshold (None: defaults);
    ``renew_before`` (seconds, from cert-manager) is the warning threshold when ``warn_within``
    is not given. Returns ``{status, reason, seconds_left, warn_within_seconds,
    critical_within_seconds}``.
    """
    lifetime = max((not_after - not_before).total_seconds(), 1.0)
    left = (not_after - at).total_seconds()
    if warn_within is None and renew_before is not None:
        warn, warn_text = renew_before, "renewBefore %s" % pki.format_duration(renew_before)
    else:
        warn, warn_text = _threshold_seconds(warn_within, lifetime, DEFAULT_WARN_FRACTION)
    critical, critical_text = _threshold_seconds(critical_within, lifetime, DEFAULT_CRITICAL_FRACTION)
    result = {"seconds_left": int(left), "warn_within_seconds": int(warn),
              "critical_within_seconds": int(critical)}
    if at < not_before:
        result.update(status="invalid", reason="not valid before %s (%s from now): a clock or "
                      "issuance problem" % (pki.iso(not_before), pki.format_duration((not_before - at).total_seconds())))
    elif left <= 0:
        result.update(status="expired", reason="expired %s ago (%s)" % (
            pki.format_duration(-left), pki.iso(not_after)))
    elif left <= critical:
        result.update(status="critical", reason="expires in %s, within the critical threshold (%s)"
                      % (pki.format_duration(left), critical_text))
    elif left <= warn:
        result.update(status="renew_soon", reason="expires in %s, within the warning threshold (%s)"
                      % (pki.format_duration(left), warn_text))
    else:
        result.update(status="ok", reason="expires in %s" % pki.format_duration(left))
    return result


# --------------------------------------------------------------------------------------------
# Records: one per certificate found, from any source


def record(cert, source, name, cluster=None, namespace=None, key=None, **extra):
    """A certificate found somewhere, before classification."""
    found = {"cert": cert, "error": None, "source": source, "name": name, "cluster": cluster,
             "namespace": namespace, "key": key}
    found.update(extra)
    return found


def broken(message, source, name, cluster=None, namespace=None, key=None, **extra):
    """Something that should have held a certificate but did not (status ``invalid``)."""
    found = record(None, source, name, cluster, namespace, key, **extra)
    found["error"] = message
    return found


def records_from_pem(data, source, name, origin, cluster=None, namespace=None, key=None, **extra):
    try:
        certs = pki.load_pem_certificates(data, origin, skip_other_blocks=True)
    except pki.MalformedInput as exc:
        return [broken(str(exc), source, name, cluster, namespace, key, **extra)]
    out = []
    for item in certs:
        label = key if len(certs) == 1 else "%s#%d" % (key or "certificate", item.index)
        out.append(record(item.cert, source, name, cluster, namespace, label, **extra))
    return out


def scan_paths(paths):
    """Records for files and directories (recursively). A directory contributes the files
    that hold a PEM certificate (key files beside them are skipped, and the key block of a
    combined key-and-certificate file is never parsed); a file named explicitly must hold
    certificates or it is reported ``invalid``."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for filename in sorted(files):
                    full = os.path.join(folder, filename)
                    out.extend(_scan_file(full, explicit=False))
        else:
            out.extend(_scan_file(path, explicit=True))
    return out


def _scan_file(path, explicit):
    try:
        data = pki.read_file(path)
    except pki.MalformedInput as exc:
        if explicit or path.lower().endswith(PEM_SUFFIXES):
            return [broken(str(exc), "file", os.path.basename(path), path=path)]
        return []
    if b"-----BEGIN CERTIFICATE-----" not in data and not explicit:
        if not path.lower().endswith(PEM_SUFFIXES) or b"-----BEGIN " in data:
            return []  # keys, CSRs and unrelated files in a directory are not certificates
    return records_from_pem(data, "file", os.path.basename(path), path, path=path)


def _decode(value):
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        return b""


TLS_KEYS = ("tls.crt", "ca.crt")
ISTIO_CA_KEYS = ("ca-cert.pem", "root-cert.pem", "cert-chain.pem")


def records_from_kube(cluster, secrets, certificates, configmaps):
    """Records for one cluster from plain Kubernetes objects (dicts as the API returns them).

    - TLS Secrets: every certificate of ``tls.crt``; CA certificates of ``ca.crt``. Istio's
      plugged-in CA Secrets (``cacerts``, ``istio-ca-secret``) are read too.
    - cert-manager Certificates: matched with the Secret of ``spec.secretName``; their
      ``renewBefore`` becomes the warning threshold and their status is compared with it.
    - ``istio-ca-root-cert`` ConfigMaps: the root(s) of ``root-cert.pem``, once per distinct root.
    A CA certificate repeated in many Secrets or ConfigMaps is reported once per cluster.
    """
    out = []
    managed = {}
    for certificate in certificates or []:
        meta = certificate.get("metadata") or {}
        spec = certificate.get("spec") or {}
        secret_name = spec.get("secretName")
        if secret_name:
            managed[(meta.get("namespace"), secret_name)] = certificate
    seen_cas = {}
    found_secrets = set()
    for secret in secrets or []:
        meta = secret.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        data = secret.get("data") or {}
        certificate = managed.get((namespace, name))
        found_secrets.add((namespace, name))
        extra = {}
        source = "secret"
        if certificate is not None:
            source = "certificate"
            extra["secret_name"] = name
            extra["certificate"] = certificate
            name = (certificate.get("metadata") or {}).get("name", name)
        keys = TLS_KEYS if secret.get("type") == "kubernetes.io/tls" else ISTIO_CA_KEYS
        for position, key in enumerate(keys):
            raw = _decode(data.get(key))
            if raw is None or (not raw.strip() and position > 0):
                continue
            where = "cluster %s, Secret %s/%s, key %s" % (cluster, namespace, meta.get("name"), key)
            found = records_from_pem(raw, source, name, where, cluster, namespace, key, **extra)
            for index, item in enumerate(found):
                leaf_slot = keys is TLS_KEYS and position == 0 and index == 0
                if not leaf_slot:
                    # The Certificate's spec and status describe its leaf alone: the chain
                    # behind it (tls.crt#1...) has its own lifetime, never status.notAfter.
                    item.pop("certificate", None)
                if item["cert"] is not None and not leaf_slot and pki.is_ca(item["cert"]):
                    fingerprint = pki.fingerprint_sha256(item["cert"])
                    if fingerprint in seen_cas:
                        seen_cas[fingerprint]["copies"] += 1
                        continue
                    item["copies"] = 1
                    seen_cas[fingerprint] = item
                out.append(item)
    for (namespace, secret_name), certificate in managed.items():
        if (namespace, secret_name) not in found_secrets:
            name = (certificate.get("metadata") or {}).get("name")
            out.append(broken("cluster %s: Certificate %s/%s points to Secret %s, which does not "
                              "exist (not issued yet, or issuance failing: see `kubectl describe "
                              "certificate -n %s %s`)" % (cluster, namespace, name, secret_name, namespace, name),
                              "certificate", name, cluster, namespace, None,
                              secret_name=secret_name, certificate=certificate))
    roots_seen = {}
    for configmap in configmaps or []:
        meta = configmap.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        text = (configmap.get("data") or {}).get("root-cert.pem")
        where = "cluster %s, ConfigMap %s/%s, key root-cert.pem" % (cluster, namespace, name)
        if not text:
            out.append(broken("%s: empty or missing" % where, "configmap", name, cluster, namespace,
                              "root-cert.pem"))
            continue
        for item in records_from_pem(text, "configmap", name, where, cluster, namespace, "root-cert.pem"):
            if item["cert"] is not None:
                fingerprint = pki.fingerprint_sha256(item["cert"])
                if fingerprint in roots_seen:
                    roots_seen[fingerprint]["copies"] += 1
                    continue
                item["copies"] = 1
                roots_seen[fingerprint] = item
            out.append(item)
    return out


# --------------------------------------------------------------------------------------------
# Classification of all records


def _certificate_checks(resource, cert, at):
    """Compare a cert-manager Certificate's spec and status with the certificate in its Secret:
    returns (renew_before seconds or None, worst status, reasons)."""
    spec = resource.get("spec") or {}
    status = resource.get("status") or {}
    reasons = []
    worst = "ok"
    renew_before = None
    duration = None
    for field in ("duration", "renewBefore"):
        if spec.get(field) is None:
            continue
        try:
            seconds = pki.parse_duration(spec[field])
        except ValueError as exc:
            reasons.append("spec.%s is not a duration (%s)" % (field, exc))
            worst = worse(worst, "invalid")
            continue
        if field == "duration":
            duration = seconds
        else:
            renew_before = seconds
    if duration is not None and renew_before is not None and renew_before >= duration:
        reasons.append("spec.renewBefore %s is not shorter than spec.duration %s: cert-manager would "
                       "renew continuously" % (spec["renewBefore"], spec["duration"]))
        worst = worse(worst, "invalid")
    lifetime = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    if duration is not None and lifetime < duration * 0.99:
        reasons.append("lifetime %s is shorter than spec.duration %s (the issuer capped it)"
                       % (pki.format_duration(lifetime), spec["duration"]))
    if renew_before is None and spec.get("renewBeforePercentage") is not None:
        try:
            renew_before = lifetime * float(spec["renewBeforePercentage"]) / 100.0
        except (TypeError, ValueError):
            pass
    not_after = status.get("notAfter")
    if not_after:
        try:
            recorded = pki.parse_time(not_after)
            if abs((recorded - cert.not_valid_after_utc).total_seconds()) > 1:
                reasons.append("status.notAfter %s differs from the Secret's certificate (%s): the "
                               "Secret was replaced by hand or cert-manager has not caught up"
                               % (not_after, pki.iso(cert.not_valid_after_utc)))
                worst = worse(worst, "renew_soon")
        except ValueError:
            reasons.append("status.notAfter %r is not a time" % (not_after,))
    renewal = status.get("renewalTime")
    if renewal:
        try:
            when = pki.parse_time(renewal)
            if when < at:
                reasons.append("renewal overdue since %s (%s ago): check the Certificate's "
                               "CertificateRequests and issuer"
                               % (renewal, pki.format_duration((at - when).total_seconds())))
                worst = worse(worst, "renew_soon")
        except ValueError:
            reasons.append("status.renewalTime %r is not a time" % (renewal,))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and str(condition.get("status")) == "False":
            why = condition.get("message") or condition.get("reason") or "no reason given"
            reasons.append("Certificate is not Ready: %s" % why)
            worst = worse(worst, "renew_soon")
    return renew_before, worst, reasons


def classify_records(records, at=None, warn_within=None, critical_within=None,
                     issuer_max_duration=None):
    """One output entry per record, plus the CA issuance check.

    ``warn_within``/``critical_within``: text as accepted by parse_threshold. A CA is flagged
    when it expires before a certificate it may still issue would (CA not_after earlier than
    ``at`` + the longest lifetime it issues): ``issuer_max_duration`` when given, else the
    longest lifetime among the scanned certificates it issued.
    """
    at = pki.parse_time(at)
    warn = parse_threshold(warn_within)
    critical = parse_threshold(critical_within)
    max_fixed = pki.parse_duration(issuer_max_duration) if issuer_max_duration else None
    issued_max = {}
    known = []
    for item in records:
        cert = item["cert"]
        # One facts lookup per record, kept for the entries below.
        found = pki.facts(cert) if cert is not None else None
        known.append(found)
        if found is None or cert.subject == cert.issuer:
            continue
        lifetime = (found["not_after"] - found["not_before"]).total_seconds()
        for ident in _issuer_keys(cert, found):
            if lifetime > issued_max.get(ident, 0):
                issued_max[ident] = lifetime
    entries = []
    for item, found in zip(records, known):
        entries.append(_entry(item, found, at, warn, critical, max_fixed, issued_max))
    entries.sort(key=lambda e: (e["not_after"] or "", e["cluster"] or "", e["namespace"] or "",
                                e["name"] or ""))
    return entries


def _issuer_keys(cert, found):
    """Identities of the issuer: its name, and its key identifier when the AKI is present."""
    keys = [("name", cert.issuer)]
    aki = found.get("aki")
    if aki:
        keys.append(("key", aki))
    return keys


def _subject_keys(cert, found):
    keys = [("name", cert.subject)]
    ski = found.get("ski")
    if ski:
        keys.append(("key", ski))
    return keys


def _entry(item, found, at, warn, critical, max_fixed, issued_max):
    cert = item["cert"]
    entry = {
        "cluster": item.get("cluster"),
        "source": item["source"],
        "namespace": item.get("namespace"),
        "name": item.get("name"),
        "key": item.get("key"),
        "path": item.get("path"),
        "secret_name": item.get("secret_name"),
        "copies": item.get("copies", 1),
        "subject": None, "issuer": None, "serial": None, "not_before": None, "not_after": None,
        "seconds_left": None, "is_ca": None, "fingerprint_sha256": None, "spiffe_id": None,
        "dns_names": [],
    }
    if cert is None:
        entry.update(status="invalid", reason=item["error"])
        return entry
    uris = found["sans"]["uri"]
    entry.update({
        "subject": found["subject"] or found["display"],
        "issuer": cert.issuer.rfc4514_string(),
        "serial": found["serial"],
        "not_before": pki.iso(found["not_before"]),
        "not_after": pki.iso(found["not_after"]),
        "is_ca": found["is_ca"],
        "fingerprint_sha256": found["fingerprint"],
        "spiffe_id": uris[0] if len(uris) == 1 and uris[0].lower().startswith("spiffe:") else None,
        "dns_names": list(found["sans"]["dns"]),
    })
    renew_before = None
    extra_status = "ok"
    reasons = []
    resource = item.get("certificate")
    if resource is not None:
        renew_before, extra_status, reasons = _certificate_checks(resource, cert, at)
    verdict = classify(found["not_before"], found["not_after"], at, warn, critical, renew_before)
    entry.update(verdict)
    status = verdict["status"]
    if entry["is_ca"] and status not in ("expired", "invalid"):
        longest = max_fixed
        if longest is None:
            longest = max([issued_max.get(ident, 0) for ident in _subject_keys(cert, found)] or [0]) or None
        if longest and found["not_after"] < at + _seconds(longest):
            reasons.append("the CA expires %s, before a certificate it may issue now (up to %s) "
                           "would: rotate the CA or shorten issued lifetimes"
                           % (pki.iso(found["not_after"]), pki.format_duration(longest)))
            extra_status = worse(extra_status, "renew_soon")
    if reasons:
        entry["reason"] = "; ".join([verdict["reason"]] + reasons)
        entry["status"] = worse(status, extra_status)
    return entry


def _seconds(amount):
    return datetime.timedelta(seconds=amount)


def summarize(entries):
    """Counts per status, the total and the soonest expiry."""
    counts = dict((status, 0) for status in STATUSES)
    soonest = None
    for entry in entries:
        counts[entry["status"]] += 1
        if entry["not_after"] and (soonest is None or entry["seconds_left"] < soonest["seconds_left"]):
            soonest = entry
    result = {"total": len(entries), "counts": counts, "soonest": None,
              "needs_attention": counts["renew_soon"] + counts["critical"] + counts["expired"] + counts["invalid"]}
    if soonest is not None:
        result["soonest"] = dict((key, soonest[key]) for key in (
            "cluster", "source", "namespace", "name", "subject", "not_after", "seconds_left", "status"))
    return result


def rotation_result(records, at=None, warn_within=None, critical_within=None,
                    issuer_max_duration=None):
    """``{at, certificates, summary}`` for records from any mix of sources."""
    at = pki.parse_time(at)
    entries = classify_records(records, at, warn_within, critical_within, issuer_max_duration)
    return {"at": pki.iso(at), "certificates": entries, "summary": summarize(entries)}
