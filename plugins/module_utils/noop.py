# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a re-run can leave alone, decided on the control node without a module call.

A no-op re-run of site.yml used to cost as much as the first converge: about twenty module
calls per cluster only to hear the CA files are in place, one ``kubernetes.core.k8s`` call per
object, one ``kubernetes.core.helm`` call (five helm processes) per unchanged release. These
functions let the roles skip that work, and only when they are sure:

* ``ca_files_drift``: every reason the mesh CA modules (community.crypto) could still have
  work to do on the CA files; an empty list means they would all report ``ok``. Anything
  unexpected reads as drift, so the modules run and decide as before.
* ``helm_releases_to_apply``: the desired releases whose deployed revision (from Helm's own
  release Secrets) differs in chart, version or values, or that are not ``deployed``: the same
  test kubernetes.core.helm makes before it upgrades, so skipping the others changes nothing.
* ``apply_results``: the per-object results of one ``kubernetes.core.k8s`` call with a list of
  definitions and ``continue_on_error``, in the shape of a loop's results (``item``, ``msg``),
  so one refusal report serves both.

Parsers never raise: unreadable input reads as drift (CA files) or as a release to apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import gzip
import hashlib
import json
import os
import stat

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - the collection requires cryptography
    x509 = None

_KEY_USAGE = {"key_cert_sign": True, "crl_sign": True, "digital_signature": True, "content_commitment": False,
              "key_encipherment": False, "data_encipherment": False, "key_agreement": False}


def _mode_problem(path, kind, mode):
    try:
        info = os.lstat(path)
    except OSError:
        return "%s is missing" % path
    if stat.S_ISLNK(info.st_mode):
        return "%s is a symlink" % path
    if kind == "dir" and not stat.S_ISDIR(info.st_mode) or kind == "file" and not stat.S_ISREG(info.st_mode):
        return "%s is not a %s" % (path, "folder" if kind == "dir" else "file")
    if stat.S_IMODE(info.st_mode) != mode:
        return "%s has mode %04o, not %04o" % (path, stat.S_IMODE(info.st_mode), mode)
    return None


def _read(path):
    with open(path, "rb") as stream:
        return stream.read()


def _public(key):
    key = key.public_key() if hasattr(key, "private_bytes") else key
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_problem(key, spec):
    if spec.get("key_type", "RSA") == "RSA":
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != int(spec.get("key_size", 4096)):
            return "is not an RSA key of %s bits" % spec.get("key_size", 4096)
    elif not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != spec.get("key_curve", "secp384r1"):
        return "is not an ECC key on %s" % spec.get("key_curve", "secp384r1")
    return None


def _name(certificate, oid):
    values = certificate.subject.get_attributes_for_oid(oid)
    return values[0].value if len(values) == 1 else None


def _not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _certificate_problems(label, certificate, key, common_name, spec, path_length, issuer, name_constraints):
    problems = []
    if _public(certificate.public_key()) != _public(key):
        problems.append("%s is not the certificate of its key" % label)
    if _name(certificate, NameOID.COMMON_NAME) != common_name or \
            _name(certificate, NameOID.ORGANIZATION_NAME) != spec.get("organization"):
        problems.append("%s has another subject than CN=%s, O=%s" % (label, common_name, spec.get("organization")))
    if certificate.issuer != issuer.subject:
        problems.append("%s is not issued by the mesh root" % label)
    else:
        try:
            certificate.verify_directly_issued_by(issuer)
        except Exception:  # pylint: disable=broad-except
            problems.append("%s is not signed by the mesh root" % label)
    if _not_after(certificate) <= datetime.datetime.now(datetime.timezone.utc):
        problems.append("%s has expired" % label)
    extensions = dict((ext.oid.dotted_string, ext) for ext in certificate.extensions)
    constraints = extensions.get(x509.ExtensionOID.BASIC_CONSTRAINTS.dotted_string)
    if constraints is None or not constraints.critical or not constraints.value.ca \
            or constraints.value.path_length != path_length:
        problems.append("%s has other basic constraints" % label)
    usage = extensions.get(x509.ExtensionOID.KEY_USAGE.dotted_string)
    if usage is None or not usage.critical or any(getattr(usage.value, name) != wanted
                                                  for name, wanted in _KEY_USAGE.items()):
        problems.append("%s has another key usage" % label)
    if x509.ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string not in extensions:
        problems.append("%s has no subject key identifier" % label)
    permitted = extensions.get(x509.ExtensionOID.NAME_CONSTRAINTS.dotted_string)
    if name_constraints:
        values = sorted("URI:" + name.value for name in (permitted.value.permitted_subtrees or [])
                        if isinstance(name, x509.UniformResourceIdentifier)) if permitted else []
        if not permitted or not permitted.critical or values != sorted(name_constraints) \
                or permitted.value.excluded_subtrees:
            problems.append("%s has other name constraints than %s" % (label, ", ".join(name_constraints)))
    elif permitted is not None:
        problems.append("%s has name constraints" % label)
    return problems


def _copy_problem(path, content):
    problem = _mode_problem(path, "file", 0o644)
    if problem:
        return problem
    if _read(path) != content:
        return "%s differs from what would be written" % path
    return None


def ca_files_drift(spec):
    """Why the CA modules could still change something; ``[]`` when every CA file is in place.

    ``spec``: ``root_dir``, ``intermediate_dir``, ``cluster_pki_dir``, ``key_type``, ``key_size``,
    ``key_curve``, ``organization``, ``root_common_name``, ``intermediate_common_name``,
    ``name_constraints`` (list of ``URI:<trust domain>``, empty for none) and
    ``publish_intermediate`` (the certificate is copied beside the cluster's CA files).
    Key files are read here and never returned.
    """
    try:
        return _ca_files_drift(spec)
    except Exception as error:  # pylint: disable=broad-except
        return ["the CA files could not be checked (%s)" % type(error).__name__]


def _ca_files_drift(spec):
    if x509 is None:
        return ["the cryptography library is missing"]
    root_dir, intermediate_dir, cluster_dir = spec["root_dir"], spec["intermediate_dir"], spec["cluster_pki_dir"]
    problems = [problem for problem in (
        [_mode_problem(folder, "dir", 0o700) for folder in (root_dir, cluster_dir, intermediate_dir)]
        + [_mode_problem(os.path.join(root_dir, "root-ca.key"), "file", 0o600),
           _mode_problem(os.path.join(intermediate_dir, "intermediate-ca.key"), "file", 0o600),
           _mode_problem(os.path.join(root_dir, "root-ca.crt"), "file", 0o644),
           _mode_problem(os.path.join(intermediate_dir, "intermediate-ca.crt"), "file", 0o644)]) if problem]
    if problems:
        return problems
    keys = {}
    for label, path in (("root", os.path.join(root_dir, "root-ca.key")),
                        ("intermediate", os.path.join(intermediate_dir, "intermediate-ca.key"))):
        # Without RSA's private-number consistency check (it costs more than all the rest):
        # the key must still parse, be of the configured type and match its certificate.
        keys[label] = serialization.load_pem_private_key(_read(path), password=None,
                                                         unsafe_skip_rsa_key_validation=True)
        problem = _key_problem(keys[label], spec)
        if problem:
            problems.append("the %s key %s" % (label, problem))
    if problems:
        return problems
    root_pem = _read(os.path.join(root_dir, "root-ca.crt"))
    intermediate_pem = _read(os.path.join(intermediate_dir, "intermediate-ca.crt"))
    root = x509.load_pem_x509_certificate(root_pem)
    intermediate = x509.load_pem_x509_certificate(intermediate_pem)
    problems += _certificate_problems("the mesh root", root, keys["root"], spec.get("root_common_name"), spec,
                                      None, root, [])
    problems += _certificate_problems("the intermediate CA", intermediate, keys["intermediate"],
                                      spec.get("intermediate_common_name"), spec, 0, root,
                                      list(spec.get("name_constraints") or []))
    # What the copy tasks would write (the chain is two file lookups, which strip trailing blanks).
    chain = (intermediate_pem.decode("utf-8").rstrip() + "\n" + root_pem.decode("utf-8").rstrip() + "\n").encode("utf-8")
    copies = [(os.path.join(cluster_dir, "root-ca.crt"), root_pem), (os.path.join(cluster_dir, "ca-chain.crt"), chain)]
    if spec.get("publish_intermediate"):
        copies.append((os.path.join(cluster_dir, "intermediate-ca.crt"), intermediate_pem))
    problems += [problem for problem in (_copy_problem(path, content) for path, content in copies) if problem]
    return problems


def _release_record(secret):
    try:
        return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))
    except Exception:  # pylint: disable=broad-except
        return None


def release_summaries(secrets):
    """The newest revision of each Helm release among ``secrets`` (Helm's release Secrets, type
    ``helm.sh/release.v1``), reduced to what decides an upgrade, keyed ``<namespace>/<name>``:
    ``revision``, ``status``, ``chart``, ``chart_version`` and ``values_sha256``. The values
    themselves are left out: they may hold secrets, and a digest is all a comparison needs."""
    newest = {}
    for secret in secrets or []:
        if not isinstance(secret, dict) or secret.get("type") != "helm.sh/release.v1":
            continue
        record = _release_record(secret)
        if not isinstance(record, dict):
            continue
        key = "%s/%s" % (record.get("namespace"), record.get("name"))
        revision = _revision(record)
        if key not in newest or revision > newest[key]["revision"]:
            chart = (record.get("chart") or {}).get("metadata") or {}
            newest[key] = {"revision": revision, "status": (record.get("info") or {}).get("status"),
                           "chart": chart.get("name"), "chart_version": str(chart.get("version")),
                           "values_sha256": values_digest(record.get("config") or {})}
    return newest


def _revision(record):
    try:
        return int(record.get("version") or 0)
    except (TypeError, ValueError):
        return 0


def values_digest(values):
    """SHA-256 of chart values as canonical JSON; None for values JSON cannot hold (never equal)."""
    try:
        text = json.dumps(_plain(values), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def helm_releases_to_apply(releases, secrets):
    """The desired ``releases`` that a ``helm upgrade --install`` could still change.

    ``secrets``: Helm's release Secrets (type ``helm.sh/release.v1``) of the releases'
    namespaces, as k8s_info lists them, or their summaries (``release_summaries``, as
    mesh_preflight's ``observed.helm_releases`` returns them). A release is left out only when
    its newest revision is ``deployed`` with the same chart name, chart version and
    user-supplied values (``helm get values``): what kubernetes.core.helm compares before it
    upgrades. A release without a pinned version is always applied.
    """
    summaries = secrets if isinstance(secrets, dict) else release_summaries(secrets)
    pending = []
    for release in releases or []:
        summary = summaries.get("%s/%s" % (release.get("namespace"), release.get("name")))
        if not _release_unchanged(release, summary):
            pending.append(release)
    return pending


def _release_unchanged(release, summary):
    if not isinstance(summary, dict) or not release.get("version"):
        return False
    chart_name = str(release.get("chart", "")).rstrip("/").rsplit("/", 1)[-1]
    digest = values_digest(release.get("values") or {})
    return (summary.get("status") == "deployed"
            and summary.get("chart") == chart_name
            and str(summary.get("chart_version")) == str(release["version"])
            and digest is not None and summary.get("values_sha256") == digest)


def _plain(value):
    """Ansible's text and mapping types compared as JSON compares them."""
    return json.loads(json.dumps(value))


def apply_results(registered, objects):
    """Loop-shaped results (``item``, and ``msg`` for a refused object) of one k8s call over ``objects``."""
    registered = registered if isinstance(registered, dict) else {}
    objects = list(objects or [])
    if registered.get("skipped"):
        return []
    nested = (registered.get("result") or {}).get("results") if isinstance(registered.get("result"), dict) else None
    if isinstance(nested, list) and len(objects) > 1:
        results = nested
    elif "result" in registered or "error" in registered:
        results = [registered]
    else:  # the call failed before the first object (no client, bad kubeconfig)
        return [{"item": obj, "msg": registered.get("msg", "the apply failed"), "failed": True} for obj in objects[:1]]
    shaped = []
    for obj, result in zip(objects, results):
        result = result if isinstance(result, dict) else {}
        if "error" in result:
            error = result["error"] if isinstance(result["error"], dict) else {"msg": str(result["error"])}
            entry = dict(error, item=obj, failed=True)
            entry.setdefault("msg", "the apply failed")
        else:
            entry = {"item": obj, "result": result.get("result", {}), "changed": bool(result.get("changed"))}
        shaped.append(entry)
    return shaped
