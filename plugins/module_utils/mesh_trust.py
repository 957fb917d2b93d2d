# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's trust, checked cluster by cluster and across clusters.

``snapshot()`` reads what the checks need from one cluster (through kube.py, so clusters are
configured as for kubernetes.core); every other function is pure and works on plain dicts, so
verify.yml, rotate.yml and diagnose.yml ask the same questions and unit tests need no cluster.

Each check gives one result ``{cluster, check, ok, object, message, cause, details}``: ``object``
names the Kubernetes object (``Kind namespace/name``) and ``cause`` the likely cause, in the
words of the troubleshooting runbook.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from ansible_collections.certmesh.istio.plugins.module_utils import kube
from ansible_collections.certmesh.istio.plugins.module_utils import pki

CHECKS = ("issuer_ready", "istio_csr_serving", "istiod_external_ca", "certificate_chains",
          "gateway_credentials", "root_configmaps", "strict_mtls", "trust_bundle")
MESH_CHECKS = ("one_trust_domain", "one_root")
ROOT_KEY = "root-cert.pem"
DEFAULT_SETTINGS = {
    "issuer": {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    "cert_manager_namespace": "cert-manager",
    "istio_namespace": "istio-system",
    "istio_csr_name": "cert-manager-istio-csr",
    "ca_secret_name": "istio-ca-key-pair",
    "root_ca_secret_name": "istio-root-ca",
    "label_selector": "app.kubernetes.io/managed-by=certmesh.istio",
    "strict_mtls": True,
    "events": False,
    # Name of the trust-manager Bundle publishing the mesh roots (None: trust-manager is off).
    "trust_bundle_name": None,
    "trust_bundle_key": "ca.pem",
}
TRUST_BUNDLE_API_VERSION = "trust.cert-manager.io/v1alpha1"


def result(cluster, check, ok, obj=None, message="", cause="", details=None):
    """One check result."""
    return {"cluster": cluster, "check": check, "ok": bool(ok), "object": obj or "",
            "message": message, "cause": "" if ok else cause, "details": details or {}}


def settings_with_defaults(settings):
    merged = dict(DEFAULT_SETTINGS)
    merged.update(dict((key, value) for key, value in (settings or {}).items() if value is not None))
    return merged


def _decode(value):
    if not value:
        return ""
    try:
        return base64.b64decode(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""


def _condition(obj, kind):
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def _name(kind, namespace, name):
    return "%s %s%s" % (kind, "%s/" % namespace if namespace else "", name)


def fingerprints(pem_text, origin="bundle"):
    """SHA-256 fingerprints of the certificates of a PEM bundle, in order; [] when unreadable."""
    if not pem_text or not pem_text.strip():
        return []
    try:
        return [pki.fingerprint_sha256(item.cert) for item in pki.load_certificates(pem_text, origin)]
    except pki.MalformedInput:
        return []


def purpose_of(spec):
    """What a cert-manager Certificate is for: CA, SPIFFE identity (workload), or host (gateway)."""
    if spec.get("isCA"):
        return "ca"
    if any(str(uri).startswith("spiffe://") for uri in spec.get("uris") or []):
        return "workload"
    return "gateway"


# --------------------------------------------------------------------------------------------
# Reading a cluster


def _safe_list(client, kind, api_version, namespace=None, label_selector=None):
    try:
        return kube.list_objects(client, kind, api_version, namespace, label_selector)
    except Exception as exc:  # kind not installed: kubernetes.dynamic ResourceNotFoundError
        if exc.__class__.__name__ in ("ResourceNotFoundError", "ResourceNotUniqueError"):
            return []
        raise kube.KubeError("%s: %s" % (kind, kube._reason(exc)))  # pylint: disable=protected-access


def snapshot(client, settings):
    """Everything the checks read from one cluster, as plain dicts; KubeError naming the object
    when a read fails."""
    settings = settings_with_defaults(settings)
    issuer = settings["issuer"]
    cm_ns, istio_ns = settings["cert_manager_namespace"], settings["istio_namespace"]
    issuer_ns = istio_ns if issuer.get("kind") == "Issuer" else None
    snap = {
        "issuer": kube.get_object(client, issuer.get("kind", "ClusterIssuer"),
                                  "%s/v1" % issuer.get("group", "cert-manager.io"), issuer_ns, issuer["name"]),
        "istio_csr_deployment": kube.get_object(client, "Deployment", "apps/v1", cm_ns, settings["istio_csr_name"]),
        "istio_csr_service": kube.get_object(client, "Service", "v1", cm_ns, settings["istio_csr_name"]),
        "root_ca_secret": kube.get_object(client, "Secret", "v1", cm_ns, settings["root_ca_secret_name"]),
        "istiod_self_signed_secret": kube.get_object(client, "Secret", "v1", istio_ns, "istio-ca-secret"),
        "istiod_deployments": [d for d in _safe_list(client, "Deployment", "apps/v1", istio_ns)
                               if (d.get("metadata") or {}).get("name", "").startswith("istiod")],
        "istio_configmaps": [c for c in _safe_list(client, "ConfigMap", "v1", istio_ns)
                             if (c.get("metadata") or {}).get("name", "") == "istio"
                             or (c.get("metadata") or {}).get("name", "").startswith("istio-")
                             and "mesh" in (c.get("data") or {})],
        "certificates": _safe_list(client, "Certificate", "cert-manager.io/v1", None, settings["label_selector"]),
        "namespaces": [(n.get("metadata") or {}).get("name") for n in _safe_list(client, "Namespace", "v1")],
        "root_configmaps": [c for c in _safe_list(client, "ConfigMap", "v1")
                            if (c.get("metadata") or {}).get("name") == kube.ROOT_CONFIGMAP],
        "peer_authentications": _safe_list(client, "PeerAuthentication", "security.istio.io/v1", istio_ns),
        "gateways": (_safe_list(client, "Gateway", "networking.istio.io/v1")
                     + _safe_list(client, "Gateway", GATEWAY_API_VERSION)),
        "secrets": {},
        "events": [],
    }
    for certificate in snap["certificates"]:
        meta, spec = certificate.get("metadata") or {}, certificate.get("spec") or {}
        if spec.get("secretName"):
            key = "%s/%s" % (meta.get("namespace"), spec["secretName"])
            snap["secrets"][key] = kube.get_object(client, "Secret", "v1", meta.get("namespace"), spec["secretName"])
    for gateway in snap["gateways"]:
        for namespace, name in _credential_names(gateway):
            key = "%s/%s" % (namespace, name)
            if key not in snap["secrets"]:
                snap["secrets"][key] = kube.get_object(client, "Secret", "v1", namespace, name)
    if settings["trust_bundle_name"]:
        snap.update(trust_bundle_snapshot(client, settings))
    if settings["events"]:
        snap["events"] = [e for e in _safe_list(client, "Event", "v1")
                          if (e.get("type") == "Warning" or (e.get("involvedObject") or {}).get("kind") in (
                              "Certificate", "CertificateRequest", "Issuer", "ClusterIssuer"))]
    return snap


def trust_bundle_snapshot(client, settings):
    """The trust-manager Bundle and the ConfigMap it writes where istio-csr reads its root."""
    name = settings["trust_bundle_name"]
    return {
        "trust_bundle": kube.get_object(client, "Bundle", TRUST_BUNDLE_API_VERSION, None, name),
        "trust_bundle_configmap": kube.get_object(client, "ConfigMap", "v1", settings["cert_manager_namespace"], name),
    }


# --------------------------------------------------------------------------------------------
# One cluster


def check_issuer(cluster, snap, settings):
    issuer = settings["issuer"]
    obj = _name(issuer.get("kind", "ClusterIssuer"), settings["istio_namespace"] if issuer.get("kind") == "Issuer" else None,
                issuer["name"])
    found = snap.get("issuer")
    if found is None:
        return result(cluster, "issuer_ready", False, obj, "%s does not exist" % obj,
                      "the mesh CA was never installed here: run playbooks/site.yml for cluster %s" % cluster)
    ready = _condition(found, "Ready")
    if ready.get("status") == "True":
        return result(cluster, "issuer_ready", True, obj, "%s is Ready" % obj)
    reason = ready.get("reason") or "no Ready condition yet"
    cause = "cert-manager has not reconciled the issuer yet (is cert-manager running?)"
    if reason == "ErrGetKeyPair":
        cause = ("the CA Secret %s/%s is missing: re-run the mesh_ca role (site.yml)"
                 % (settings["cert_manager_namespace"], settings["ca_secret_name"]))
    elif reason == "ErrInvalidKeyPair":
        cause = ("the CA Secret %s/%s holds no CA certificate with its matching key: re-run mesh_ca, "
                 "or check a brought CA" % (settings["cert_manager_namespace"], settings["ca_secret_name"]))
    return result(cluster, "issuer_ready", False, obj, "%s is not Ready: %s: %s" % (obj, reason, ready.get("message", "")),
                  cause, {"conditions": (found.get("status") or {}).get("conditions") or []})


def check_istio_csr(cluster, snap, settings):
    obj = _name("Deployment", settings["cert_manager_namespace"], settings["istio_csr_name"])
    deployment = snap.get("istio_csr_deployment")
    if deployment is None:
        return result(cluster, "istio_csr_serving", False, obj, "%s does not exist" % obj,
                      "istio-csr is not installed: run playbooks/site.yml (role istio_csr)")
    available = _condition(deployment, "Available")
    if available.get("status") != "True":
        return result(cluster, "istio_csr_serving", False, obj, "%s is not Available (%s)" % (obj, available.get("reason", "no condition")),
                      "istio-csr pods are not ready: see the Deployment's events and the pod logs "
                      "(a missing pinned root Secret %s is the usual cause)" % settings["root_ca_secret_name"],
                      {"conditions": (deployment.get("status") or {}).get("conditions") or []})
    service = snap.get("istio_csr_service")
    if service is None:
        svc = _name("Service", settings["cert_manager_namespace"], settings["istio_csr_name"])
        return result(cluster, "istio_csr_serving", False, svc, "%s does not exist" % svc,
                      "proxies cannot reach istio-csr (Istio's caAddress): re-install the istio-csr chart")
    if snap.get("root_ca_secret") is None:
        secret = _name("Secret", settings["cert_manager_namespace"], settings["root_ca_secret_name"])
        return result(cluster, "istio_csr_serving", False, secret, "%s (istio-csr's pinned root) does not exist" % secret,
                      "re-run the mesh_ca role: istio-csr cannot start without its pinned root")
    return result(cluster, "istio_csr_serving", True, obj, "%s is Available behind its Service" % obj)


def _istiod_env(deployment):
    env = {}
    for container in (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
        for item in container.get("env") or []:
            env[item.get("name")] = item.get("value")
    return env


def check_istiod(cluster, snap, settings):
    istio_ns = settings["istio_namespace"]
    deployments = snap.get("istiod_deployments") or []
    if not deployments:
        obj = _name("Deployment", istio_ns, "istiod")
        return result(cluster, "istiod_external_ca", False, obj, "no istiod Deployment in %s" % istio_ns,
                      "Istio is not installed: run playbooks/site.yml (role istio)")
    csr_host = "%s.%s.svc" % (settings["istio_csr_name"], settings["cert_manager_namespace"])
    for deployment in deployments:
        obj = _name("Deployment", istio_ns, deployment["metadata"]["name"])
        env = _istiod_env(deployment)
        if str(env.get("ENABLE_CA_SERVER", "true")).lower() != "false":
            return result(cluster, "istiod_external_ca", False, obj, "%s runs its own CA server (ENABLE_CA_SERVER is not false)" % obj,
                          "istiod was installed without the external-CA values: re-run the istio role")
        if csr_host not in str(env.get("CA_ADDRESS", "")):
            return result(cluster, "istiod_external_ca", False, obj, "%s sends proxies to CA_ADDRESS %r, not istio-csr (%s)"
                          % (obj, env.get("CA_ADDRESS"), csr_host),
                          "global.caAddress must point at istio-csr: re-run the istio role")
    if snap.get("istiod_self_signed_secret") is not None:
        obj = _name("Secret", istio_ns, "istio-ca-secret")
        return result(cluster, "istiod_external_ca", False, obj, "%s exists: istiod created a self-signed CA" % obj,
                      "istiod once ran with its built-in CA; delete the Secret after checking no workload still "
                      "uses a certificate from it")
    return result(cluster, "istiod_external_ca", True, _name("Deployment", istio_ns, deployments[0]["metadata"]["name"]),
                  "istiod takes certificates from istio-csr (%s), no self-signed istiod CA" % csr_host)


def check_certificates(cluster, snap, store, trust_domain, at=None):
    """One result per managed Certificate: Ready, issued, and its chain valid against the roots."""
    out = []
    for certificate in snap.get("certificates") or []:
        meta, spec = certificate.get("metadata") or {}, certificate.get("spec") or {}
        obj = _name("Certificate", meta.get("namespace"), meta.get("name"))
        ready = _condition(certificate, "Ready")
        details = {"conditions": (certificate.get("status") or {}).get("conditions") or [],
                   "secret": "%s/%s" % (meta.get("namespace"), spec.get("secretName"))}
        secret = (snap.get("secrets") or {}).get(details["secret"])
        if secret is None:
            out.append(result(cluster, "certificate_chains", False, obj,
                              "%s: its Secret %s was never issued (Ready=%s, %s)" % (
                                  obj, details["secret"], ready.get("status", "unknown"), ready.get("message", "")),
                              "certificate not issued: the issuer is not Ready or refuses the request; see "
                              "the Certificate's conditions and events", details))
            continue
        pem = _decode((secret.get("data") or {}).get("tls.crt"))
        purpose = purpose_of(spec)
        checked = chain.check(pem, store, purpose=purpose, trust_domain=trust_domain if purpose == "workload" else None,
                              dns_names=list(spec.get("dnsNames") or []) if purpose == "gateway" else None,
                              at=at, origin="cluster %s, Secret %s" % (cluster, details["secret"]))
        details["problems"] = checked["problems"]
        details["purpose"] = purpose
        if checked["chain"]:
            details["leaf"] = {k: checked["chain"][0].get(k) for k in ("subject", "issuer", "not_after", "serial")
                               if k in checked["chain"][0]}
        if checked["valid"]:
            out.append(result(cluster, "certificate_chains", True, obj,
                              "%s (%s) chains to the mesh root" % (obj, purpose), details=details))
            continue
        codes = sorted(set(p["code"] for p in checked["problems"]))
        cause = "the certificate does not chain to the mesh root: issued by another CA, or the root was rotated"
        if "expired" in codes:
            cause = "the certificate has expired: cert-manager did not renew it (issuer not Ready, or the Secret was replaced by hand)"
        elif "untrusted" not in codes and codes:
            cause = "the certificate breaks a mesh rule (%s)" % ", ".join(codes)
        out.append(result(cluster, "certificate_chains", False, obj, "%s (%s): %s" % (
            obj, purpose, "; ".join(p["message"] for p in checked["problems"])), cause, details))
    return out


GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"


def _istio_credentials(gateway):
    """``{(namespace, credentialName): [hosts]}`` of an Istio Gateway's TLS servers (the Secret
    sits beside the Gateway; hosts without namespace prefix)."""
    found = {}
    namespace = (gateway.get("metadata") or {}).get("namespace")
    for server in (gateway.get("spec") or {}).get("servers") or []:
        name = (server.get("tls") or {}).get("credentialName")
        if name:
            hosts = found.setdefault((namespace, name), [])
            hosts += [h.split("/", 1)[-1] for h in server.get("hosts") or [] if "*" not in h.split("/", 1)[-1]]
    return found


def _gateway_api_credentials(gateway):
    """``{(namespace, Secret name): [hostnames]}`` of a Gateway API Gateway's TLS listeners.

    A certificateRef may name a Secret in another namespace (allowed by a ReferenceGrant there);
    references to other kinds than core Secrets are not ours to check."""
    found = {}
    namespace = (gateway.get("metadata") or {}).get("namespace")
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        for ref in (listener.get("tls") or {}).get("certificateRefs") or []:
            if ref.get("group", "") != "" or ref.get("kind", "Secret") != "Secret" or not ref.get("name"):
                continue
            hosts = found.setdefault((ref.get("namespace") or namespace, ref["name"]), [])
            hostname = listener.get("hostname")
            if hostname and "*" not in hostname and hostname not in hosts:
                hosts.append(hostname)
    return found


def _credentials(gateway):
    if gateway.get("apiVersion") == GATEWAY_API_VERSION:
        return _gateway_api_credentials(gateway)
    return _istio_credentials(gateway)


def _credential_names(gateway):
    return list(_credentials(gateway))


def check_gateway_credentials(cluster, snap, store, at=None):
    """Every Gateway's tls.credentialName Secret exists beside it and holds a valid chain for its hosts."""
    out = []
    for gateway in snap.get("gateways") or []:
        meta = gateway.get("metadata") or {}
        where = "Gateway %s/%s" % (meta.get("namespace"), meta.get("name"))
        field = "certificateRef" if gateway.get("apiVersion") == GATEWAY_API_VERSION else "credentialName"
        for (namespace, name), hosts in sorted(_credentials(gateway).items()):
            obj = _name("Secret", namespace, name)
            secret = (snap.get("secrets") or {}).get("%s/%s" % (namespace, name))
            if secret is None:
                out.append(result(cluster, "gateway_credentials", False, obj,
                                  "%s: %s %s has no Secret in %s" % (where, field, name, namespace),
                                  "the gateway certificate was never issued, or its Certificate writes another "
                                  "secretName or namespace (it must sit in the gateway's namespace, or in the one "
                                  "its certificateRef names)"))
                continue
            pem = _decode((secret.get("data") or {}).get("tls.crt"))
            checked = chain.check(pem, store, purpose="gateway", dns_names=hosts or None,
                                  at=at, origin="cluster %s, Secret %s/%s" % (cluster, namespace, name))
            if checked["valid"]:
                out.append(result(cluster, "gateway_credentials", True, obj, "%s serves a valid certificate" % where))
            else:
                out.append(result(cluster, "gateway_credentials", False, obj, "%s serves %s: %s" % (
                    where, obj, "; ".join(p["message"] for p in checked["problems"])),
                    "the gateway presents a certificate that is expired, for other hosts, or from another CA",
                    {"problems": checked["problems"]}))
    return out


def attach_events(results, events):
    """Give each failed result the events of its object (diagnosis)."""
    for item in results:
        if item["ok"] or not item["object"]:
            continue
        kind, _sep, where = item["object"].partition(" ")
        namespace, _sep, name = where.rpartition("/")
        related = []
        for event in events or []:
            involved = event.get("involvedObject") or {}
            if involved.get("kind") == kind and involved.get("name") == name and (involved.get("namespace") or "") == namespace:
                related.append({"type": event.get("type"), "reason": event.get("reason"), "message": event.get("message"),
                                "count": event.get("count"), "last": event.get("lastTimestamp") or event.get("eventTime")})
        item["details"]["events"] = related
    return results


def bundle_status(configmaps, expected, namespaces=None):
    """Compare every ``istio-ca-root-cert`` ConfigMap with the expected root fingerprints.

    Returns ``{namespace: {"ok", "missing", "unexpected", "present"}}``; a namespace of
    ``namespaces`` without the ConfigMap is reported with ``present`` False.
    """
    expected = list(expected)
    status = {}
    for configmap in configmaps or []:
        namespace = (configmap.get("metadata") or {}).get("namespace")
        found = fingerprints((configmap.get("data") or {}).get(ROOT_KEY, ""), "ConfigMap %s" % namespace)
        missing = [fp for fp in expected if fp not in found]
        unexpected = [fp for fp in found if fp not in expected]
        status[namespace] = {"ok": not missing and not unexpected and bool(found), "missing": missing,
                             "unexpected": unexpected, "present": True, "found": found}
    for namespace in namespaces or []:
        if namespace not in status:
            status[namespace] = {"ok": False, "missing": expected, "unexpected": [], "present": False, "found": []}
    return status


def check_root_configmaps(cluster, snap, expected):
    out = []
    status = bundle_status(snap.get("root_configmaps"), expected, snap.get("namespaces"))
    for namespace in sorted(status):
        item = status[namespace]
        obj = _name("ConfigMap", namespace, kube.ROOT_CONFIGMAP)
        if item["ok"]:
            out.append(result(cluster, "root_configmaps", True, obj, "%s carries the mesh root(s)" % obj))
            continue
        if not item["present"]:
            message = "%s is missing" % obj
            cause = "istio-csr has not published the root here yet (is istio-csr running and watching this namespace?)"
        else:
            message = "%s: %s%s" % (obj, "missing root(s) %s" % ", ".join(item["missing"]) if item["missing"] else "",
                                    "%sunexpected certificate(s) %s" % ("; " if item["missing"] else "",
                                                                        ", ".join(item["unexpected"]))
                                    if item["unexpected"] else "")
            cause = ("proxies in namespace %s trust another root than the mesh root: the ConfigMap was edited by hand, "
                     "or istio-csr pins another root file (Secret %s)" % (namespace, "istio-root-ca"))
        out.append(result(cluster, "root_configmaps", False, obj, message, cause, dict(item)))
    return out


def _root_set_problem(found, expected):
    missing = [f for f in expected if f not in found]
    unexpected = [f for f in found if f not in expected]
    parts = []
    if missing:
        parts.append("missing root(s) %s" % ", ".join(missing))
    if unexpected:
        parts.append("unexpected certificate(s) %s" % ", ".join(unexpected))
    return "; ".join(parts)


def check_trust_bundle(cluster, snap, expected, settings):
    """The trust-manager Bundle lists exactly the trusted roots (the rotation state's, during a
    rotation), and its ConfigMap beside istio-csr carries the same: that is the root istio-csr pins."""
    settings = settings_with_defaults(settings)
    name = settings["trust_bundle_name"]
    if not name:
        return []
    obj = _name("Bundle", None, name)
    bundle = snap.get("trust_bundle")
    if bundle is None:
        return [result(cluster, "trust_bundle", False, obj, "%s does not exist" % obj,
                       "trust-manager is on (certmesh_trust_manager_enabled) but the Bundle was never applied, or "
                       "the trust-manager CRD is missing: run playbooks/site.yml --tags trust_manager")]
    published = []
    for source in (bundle.get("spec") or {}).get("sources") or []:
        published += fingerprints(source.get("inLine") or "", "Bundle %s" % name)
    problem_text = _root_set_problem(published, expected)
    if problem_text:
        return [result(cluster, "trust_bundle", False, obj, "%s: %s" % (obj, problem_text),
                       "the Bundle publishes other roots than the mesh trusts at this point (of a rotation): "
                       "re-run the rotation phase, or playbooks/site.yml --tags trust_manager",
                       {"published": published, "expected": list(expected)})]
    key = settings["trust_bundle_key"]
    target = _name("ConfigMap", settings["cert_manager_namespace"], name)
    configmap = snap.get("trust_bundle_configmap")
    if configmap is None:
        return [result(cluster, "trust_bundle", False, target, "%s is missing" % target,
                       "trust-manager has not written the Bundle's ConfigMap yet (is trust-manager running?); "
                       "istio-csr cannot read its pinned root without it")]
    written = fingerprints((configmap.get("data") or {}).get(key) or "", "ConfigMap %s" % name)
    problem_text = _root_set_problem(written, expected)
    if problem_text:
        return [result(cluster, "trust_bundle", False, target, "%s key %s: %s" % (target, key, problem_text),
                       "trust-manager has not synced the Bundle yet, or the ConfigMap was edited by hand",
                       {"written": written, "expected": list(expected)})]
    return [result(cluster, "trust_bundle", True, obj, "%s and %s carry the trusted root(s)" % (obj, target))]


def check_strict_mtls(cluster, snap, settings):
    istio_ns = settings["istio_namespace"]
    if not settings["strict_mtls"]:
        return result(cluster, "strict_mtls", True, "", "strict mTLS not required for this cluster")
    for policy in snap.get("peer_authentications") or []:
        spec = policy.get("spec") or {}
        if not spec.get("selector") and ((spec.get("mtls") or {}).get("mode") == "STRICT"):
            return result(cluster, "strict_mtls", True, _name("PeerAuthentication", istio_ns, policy["metadata"]["name"]),
                          "mesh-wide PeerAuthentication is STRICT")
    obj = _name("PeerAuthentication", istio_ns, "mesh-wide")
    return result(cluster, "strict_mtls", False, obj, "no mesh-wide STRICT PeerAuthentication in %s" % istio_ns,
                  "plaintext traffic is still accepted: run the mesh_policy role (mesh_policy_mtls_mode: STRICT)")


def observed_trust_domains(snap):
    """Trust domains the cluster's components are configured with (istio-csr args, Istio meshConfig)."""
    import yaml  # PyYAML ships with Ansible

    found = set()
    deployment = snap.get("istio_csr_deployment") or {}
    for container in (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
        for arg in container.get("args") or []:
            if arg.startswith("--trust-domain="):
                found.add(arg.split("=", 1)[1])
    for configmap in snap.get("istio_configmaps") or []:
        try:
            mesh = yaml.safe_load((configmap.get("data") or {}).get("mesh") or "") or {}
        except yaml.YAMLError:
            continue
        if isinstance(mesh, dict):
            found.add(mesh.get("trustDomain") or "cluster.local")
    return sorted(found)


def cluster_checks(cluster, snap, store, expected_roots, trust_domain, settings, at=None):
    """Every check of one cluster: a list of results (see ``result``)."""
    settings = settings_with_defaults(settings)
    out = [check_issuer(cluster, snap, settings), check_istio_csr(cluster, snap, settings),
           check_istiod(cluster, snap, settings)]
    out.extend(check_certificates(cluster, snap, store, trust_domain, at))
    out.extend(check_gateway_credentials(cluster, snap, store, at))
    out.extend(check_root_configmaps(cluster, snap, expected_roots))
    out.append(check_strict_mtls(cluster, snap, settings))
    out.extend(check_trust_bundle(cluster, snap, expected_roots, settings))
    return out


def cluster_summary(cluster, snap, trust_domain):
    roots = set()
    for configmap in snap.get("root_configmaps") or []:
        roots.update(fingerprints((configmap.get("data") or {}).get(ROOT_KEY, "")))
    return {"cluster": cluster, "trust_domain": trust_domain, "observed_trust_domains": observed_trust_domains(snap),
            "published_roots": sorted(roots)}


def mesh_checks(summaries, expected_roots):
    """Across clusters: one trust domain, one root (the expected set, published everywhere)."""
    domains = {}
    for summary in summaries:
        for domain in set([summary["trust_domain"]] + list(summary.get("observed_trust_domains") or [])):
            if domain:
                domains.setdefault(domain, []).append(summary["cluster"])
    out = []
    if len(domains) <= 1:
        out.append(result("mesh", "one_trust_domain", True, "", "every cluster uses trust domain %s"
                          % (next(iter(domains)) if domains else "(none)")))
    else:
        out.append(result("mesh", "one_trust_domain", False, "", "clusters disagree on the trust domain: %s" % "; ".join(
            "%s: %s" % (domain, ", ".join(sorted(set(clusters)))) for domain, clusters in sorted(domains.items())),
            "set certmesh_trust_domain once for the whole mesh (group_vars of the environment)",
            {"trust_domains": dict((d, sorted(set(c))) for d, c in domains.items())}))
    expected = sorted(expected_roots)
    differing = [s["cluster"] for s in summaries if sorted(s["published_roots"]) != expected]
    if not differing:
        out.append(result("mesh", "one_root", True, "", "every cluster publishes the same mesh root(s)",
                          details={"roots": expected}))
    else:
        out.append(result("mesh", "one_root", False, "", "cluster(s) %s publish other roots than the mesh root(s) %s" % (
            ", ".join(differing), ", ".join(expected)),
            "a cluster has its own CA or a stale root: every cluster's intermediate must chain to the one mesh root",
            {"published": dict((s["cluster"], s["published_roots"]) for s in summaries), "expected": expected}))
    return out


def summarize(results):
    failed = [r for r in results if not r["ok"]]
    clusters = sorted(set(r["cluster"] for r in results if r["cluster"] != "mesh"))
    failing_clusters = sorted(set(r["cluster"] for r in failed))
    return {"checks": len(results), "failed": len(failed), "clusters": clusters,
            "failing_clusters": failing_clusters, "ok": not failed}


def failure_lines(results):
    """One line per failed check: cluster, object, message, likely cause."""
    lines = []
    for item in results:
        if item["ok"]:
            continue
        prefix = "%s: " % item["object"] if item["object"] and item["object"] not in item["message"] else ""
        cause = " (likely cause: %s)" % item["cause"] if item["cause"] else ""
        lines.append("cluster %s: %s%s%s" % (item["cluster"], prefix, item["message"], cause))
    return lines


# --------------------------------------------------------------------------------------------
# Reports (AWX artefacts, CI)


def to_junit(results, suite="certmesh.istio.mesh_trust_check"):
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(1 for r in results if not r["ok"])
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites name=%s tests="%d" failures="%d">' % (quoteattr(suite), len(results), failures),
             '  <testsuite name=%s tests="%d" failures="%d" errors="0" skipped="0">' % (quoteattr(suite), len(results), failures)]
    for item in results:
        name = "%s %s" % (item["check"], item["object"]) if item["object"] else item["check"]
        lines.append('    <testcase classname=%s name=%s time="0">' % (quoteattr(item["cluster"]), quoteattr(name)))
        if not item["ok"]:
            text = escape("%s\nlikely cause: %s" % (item["message"], item["cause"]))
            lines.append("      <failure message=%s>%s</failure>" % (quoteattr(item["message"][:300]), text))
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def to_markdown(results, title="Mesh trust check"):
    summary = summarize(results)
    lines = ["# %s" % title, "",
             "%d checks, %d failed; clusters: %s%s" % (summary["checks"], summary["failed"], ", ".join(summary["clusters"]),
                                                       "; failing: %s" % ", ".join(summary["failing_clusters"])
                                                       if summary["failing_clusters"] else ""), "",
             "| Cluster | Check | Result | Object | Message | Likely cause |", "| --- | --- | --- | --- | --- | --- |"]
    for item in sorted(results, key=lambda r: (r["ok"], r["cluster"], r["check"])):
        cells = [item["cluster"], item["check"], "ok" if item["ok"] else "**FAILED**", item["object"], item["message"], item["cause"]]
        lines.append("| %s |" % " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells))
    return "\n".join(lines) + "\n"


def write_report(results, extra, dest, basename="mesh-trust"):
    """Write ``<basename>.json``, ``.junit.xml`` and ``.md`` under ``dest``; return the paths."""
    import json
    import os

    if not os.path.isdir(dest):
        os.makedirs(dest)
    body = dict(extra or {})
    body.update(results=results, summary=summarize(results))
    files = {}
    for key, suffix, text in (("json", ".json", json.dumps(body, indent=2, sort_keys=True, default=str) + "\n"),
                              ("junit", ".junit.xml", to_junit(results)),
                              ("markdown", ".md", to_markdown(results))):
        path = os.path.join(dest, basename + suffix)
        with open(path, "w") as stream:
            stream.write(text)
        files[key] = path
    return files


# --------------------------------------------------------------------------------------------
# Renewal (what `cmctl renew` does)


def renewal_candidates(results):
    """Failed chain checks of issued Certificates that do not lead to the trusted roots: after a
    CA switch cert-manager keeps them until they are due, so they must be renewed explicitly."""
    found = []
    for item in results:
        if item["check"] != "certificate_chains" or item["ok"] or not item["object"].startswith("Certificate "):
            continue
        if any(p.get("code") == "untrusted" for p in item["details"].get("problems") or []):
            found.append(item)
    return found


def renewal_status(conditions, at):
    """The Certificate status conditions with ``Issuing=True`` (reason ManuallyTriggered), as
    ``cmctl renew`` sets them; cert-manager then issues a new certificate at once."""
    kept = [c for c in conditions or [] if c.get("type") != "Issuing"]
    kept.append({"type": "Issuing", "status": "True", "reason": "ManuallyTriggered", "lastTransitionTime": at,
                 "message": "Certificate re-issuance manually triggered by certmesh.istio (CA rotation)"})
    return {"status": {"conditions": kept}}


def trigger_renewal(client, item, at):
    """Patch one Certificate's status to trigger its re-issuance; KubeError naming it on failure."""
    namespace, _sep, name = item["object"].split(" ", 1)[1].rpartition("/")
    body = renewal_status(item["details"].get("conditions"), at)
    try:
        resource = client.resource("Certificate", "cert-manager.io/v1")
        client.client.patch(resource=resource.status, body=body, name=name, namespace=namespace,
                            content_type="application/merge-patch+json")
    except Exception as exc:
        raise kube.KubeError("%s: cannot trigger its renewal: %s" % (item["object"], kube._reason(exc)))  # pylint: disable=protected-access
