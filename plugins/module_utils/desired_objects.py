# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired Kubernetes objects and Helm values of each role, built as data.

Private to the collection. Roles used to write YAML text from Jinja templates and parse it back,
so a value holding a newline and a colon (a trust domain, a namespace, a Secret name) added or
replaced keys of the object, or broke the run half-way with a YAML error. Here every user value
is placed into a fixed structure as one scalar: no value can change an object's shape, whatever
characters it holds. The roles call these builders through the ``desired_objects`` and
``helm_values`` filters; the render sink and kubernetes.core receive the same data.

Builders take keyword arguments named after what they mean in the mesh, never role variables,
so they stay pure and testable; key order follows the upstream documentation (order is read by
people in rendered files).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

MANAGED_BY = {"app.kubernetes.io/managed-by": "certmesh.istio"}
DEFAULT_ISSUER_GROUP = "cert-manager.io"


def _labels(**extra):
    labels = dict(MANAGED_BY)
    labels.update(extra)
    return labels


def _b64(text):
    """Base64 of text as UTF-8, the way Kubernetes Secret ``data`` holds it."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _pem_with_newline(pem):
    # Ansible's file lookup strips the trailing newline; PEM consumers expect one.
    return pem + "\n"


def _integer(value):
    """A number given as text on the command line (``-e size=384``) is the number it spells."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _issuer_ref(issuer):
    return {
        "name": issuer["name"],
        "kind": issuer["kind"],
        "group": issuer.get("group", DEFAULT_ISSUER_GROUP),
    }


# cert_manager ---------------------------------------------------------------------------------

def cert_manager_values(install_crds):
    """Helm values of the cert-manager chart."""
    return {
        # Keep CRDs on uninstall: deleting them would delete every Certificate and issuer.
        "crds": {"enabled": bool(install_crds), "keep": True},
    }


# mesh_ca --------------------------------------------------------------------------------------

def mesh_ca_secret_objects(ca_secret_name, namespace, cluster_name, ca_chain_pem, ca_key_b64, root_pem):
    """The key-bearing CA Secret of one cluster (cert-manager's CA issuer reads it).

    tls.crt carries intermediate + root so cert-manager's CA issuer reports the mesh root as
    ca.crt. ``ca_key_b64`` is the key file as slurp returns it (already base64).
    """
    return [{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ca_secret_name,
            "namespace": namespace,
            "labels": _labels(**{"certmesh.io/cluster": cluster_name}),
        },
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": _b64(_pem_with_newline(ca_chain_pem)),
            "tls.key": ca_key_b64,
            "ca.crt": _b64(_pem_with_newline(root_pem)),
        },
    }]


def mesh_ca_objects(root_ca_secret_name, cert_manager_namespace, trusted_root_pems, issuer, ca_secret_name,
                    issuer_namespace):
    """The pinned root bundle Secret and the CA issuer of one cluster.

    istio-csr pins its trust to this root (app.tls.rootCAFile), never to what the issuer returns.
    During a root rotation the bundle also carries the other root, so istio-csr publishes both.
    """
    bundle = "".join(_pem_with_newline(pem) for pem in trusted_root_pems)
    metadata = {"name": issuer["name"]}
    if issuer["kind"] == "Issuer":
        metadata["namespace"] = issuer_namespace
    metadata["labels"] = _labels()
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": root_ca_secret_name, "namespace": cert_manager_namespace, "labels": _labels()},
            "type": "Opaque",
            "data": {"ca.pem": _b64(bundle)},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": issuer["kind"],
            "metadata": metadata,
            "spec": {"ca": {"secretName": ca_secret_name}},
        },
    ]


# istio_csr ------------------------------------------------------------------------------------

def istio_csr_objects(certificate_namespace):
    """istio-csr creates its CertificateRequests and root-cert ConfigMaps here before Istio exists."""
    return [{
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": certificate_namespace, "labels": _labels()},
    }]


def istio_csr_values(certificate_namespace, issuer, trust_domain, root_ca_mount_path, service,
                     cert_manager_namespace, serving_certificate_duration, cluster_id,
                     max_certificate_duration, istio_revisions, istio_namespace, root_ca_secret_name):
    """Helm values of the cert-manager-istio-csr chart."""
    issuer_values = {"enabled": True}
    issuer_values.update(_issuer_ref(issuer))
    return {
        "app": {
            "certmanager": {"namespace": certificate_namespace, "issuer": issuer_values},
            "tls": {
                "trustDomain": trust_domain,
                # Pin trust to the mesh root from a Secret, never to whatever the issuer returns.
                "rootCAFile": "%s/ca.pem" % root_ca_mount_path,
                "certificateDNSNames": ["%s.%s.svc" % (service, cert_manager_namespace)],
                "certificateDuration": serving_certificate_duration,
            },
            "server": {"clusterID": cluster_id, "maxCertificateDuration": max_certificate_duration},
            "istio": {"revisions": list(istio_revisions), "namespace": istio_namespace},
            "controller": {"leaderElectionNamespace": istio_namespace},
        },
        "volumes": [{"name": "root-ca", "secret": {"secretName": root_ca_secret_name}}],
        "volumeMounts": [{"name": "root-ca", "mountPath": root_ca_mount_path, "readOnly": True}],
    }


# istio ----------------------------------------------------------------------------------------

def istiod_values(ca_address, mesh_id, cluster_name, network, revision, trust_domain):
    """Helm values of the istiod chart: proxies request certificates from istio-csr, not istiod."""
    values = {
        "global": {
            "caAddress": ca_address,
            "meshID": mesh_id,
            "multiCluster": {"clusterName": cluster_name},
            "network": network,
        },
    }
    if revision:
        values["revision"] = revision
    # istiod's own CA server stays off: istio-csr is the only CA endpoint of the mesh.
    values["pilot"] = {"env": {"ENABLE_CA_SERVER": "false"}}
    values["meshConfig"] = {"trustDomain": trust_domain}
    return values


# istio, ambient mode --------------------------------------------------------------------------

# Istio's ztunnel chart names its DaemonSet and ServiceAccount "ztunnel" (unless resourceName is
# set, which this collection never does); istio-cni's DaemonSet is "istio-cni-node".
ZTUNNEL_NAME = "ztunnel"
ISTIO_CNI_NAME = "istio-cni-node"
AMBIENT_LABEL = {"istio.io/dataplane-mode": "ambient"}


def istiod_ambient_values():
    """What Istio's ambient profile adds to istiod's values (manifests/helm-profiles/profile-ambient.yaml).

    The chart's ``profile`` value is not used: it picks files inside the chart that this
    collection cannot validate; the same keys, spelled out, are checked against values.yaml.
    """
    return {
        "pilot": {"env": {"PILOT_ENABLE_AMBIENT": "true"}},
        "meshConfig": {"defaultConfig": {"proxyMetadata": {"ISTIO_META_ENABLE_HBONE": "true"}}},
    }


def istio_cni_values(revision):
    """Helm values of the istio-cni chart: the node agent that redirects ambient pods to ztunnel."""
    values = {"ambient": {"enabled": True}}
    if revision:
        values["revision"] = revision
    return values


def ztunnel_values(ca_address, cluster_name, network, revision, istio_namespace):
    """Helm values of the ztunnel chart: ztunnel asks istio-csr for workload certificates, as sidecars do."""
    values = {
        "caAddress": ca_address,
        "multiCluster": {"clusterName": cluster_name},
        "network": network,
        "istioNamespace": istio_namespace,
    }
    if revision:
        values["revision"] = revision
    return values


def istio_csr_ambient_values(istio_namespace):
    """istio-csr values for ambient: ztunnel requests certificates for the pods of its node with
    its own token (node authentication), which istio-csr allows only for the accounts listed."""
    return {"app": {"server": {"caTrustedNodeAccounts": "%s/%s" % (istio_namespace, ZTUNNEL_NAME)}}}


def ambient_namespace_objects(namespaces):
    """The namespaces whose pods join the ambient mesh: labelled istio.io/dataplane-mode=ambient."""
    return [{
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": _labels(**AMBIENT_LABEL)},
    } for namespace in _unique(namespaces)]


# gateway_certs --------------------------------------------------------------------------------

def _gateway_secret_name(host):
    return host["secret_name"] if "secret_name" in host else "%s-tls" % host["name"]


def _gateway_certificates(namespace, hosts, default_issuer, duration, renew_before, private_key_algorithm,
                          private_key_size):
    """One cert-manager Certificate per ingress host, whichever Gateway API serves it."""
    objects = []
    for host in hosts:
        objects.append({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": host["name"], "namespace": namespace, "labels": _labels()},
            "spec": {
                "secretName": _gateway_secret_name(host),
                "dnsNames": host["dns_names"],
                "duration": host.get("duration", duration),
                "renewBefore": host.get("renew_before", renew_before),
                "usages": ["server auth", "digital signature", "key encipherment"],
                # A fresh key at every renewal, so a leaked key expires with its certificate.
                "privateKey": {
                    "rotationPolicy": "Always",
                    "algorithm": private_key_algorithm,
                    "size": _integer(private_key_size),
                },
                "issuerRef": _issuer_ref(host.get("issuer", default_issuer)),
            },
        })
    return objects


def gateway_certs_objects(namespace, hosts, default_issuer, duration, renew_before, private_key_algorithm,
                          private_key_size, gateway_name, gateway_selector, https_redirect):
    """One Certificate per ingress host and the Istio (networking.istio.io) Gateway that serves them."""
    objects = _gateway_certificates(namespace, hosts, default_issuer, duration, renew_before,
                                    private_key_algorithm, private_key_size)
    servers = [{
        "port": {"number": 443, "name": "https-%s" % host["name"], "protocol": "HTTPS"},
        "hosts": host["dns_names"],
        "tls": {"mode": "SIMPLE", "credentialName": _gateway_secret_name(host)},
    } for host in hosts]
    if https_redirect:
        servers.append({
            "port": {"number": 80, "name": "http", "protocol": "HTTP"},
            "hosts": _unique(_flatten(host["dns_names"] for host in hosts)),
            "tls": {"httpsRedirect": True},
        })
    objects.append({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": gateway_name, "namespace": namespace, "labels": _labels()},
        "spec": {"selector": gateway_selector, "servers": servers},
    })
    return objects


GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = GATEWAY_API_GROUP + "/v1"


def _listener_name(host, index, count):
    # Listener names are SectionNames (DNS labels); one listener per hostname, as the spec has
    # a single hostname per listener. A host name may hold dots, a SectionName may not.
    name = "https-%s" % host["name"].replace(".", "-")
    return name if count == 1 else "%s-%d" % (name, index)


def gateway_api_objects(namespace, gateway_namespace, hosts, default_issuer, duration, renew_before,
                        private_key_algorithm, private_key_size, gateway_name, gateway_class, allowed_routes,
                        https_redirect):
    """The Certificates, a Kubernetes Gateway API Gateway serving them, and what it needs.

    The Certificates stay explicit (not cert-manager's ``cert-manager.io/issuer`` annotation on
    the Gateway): the annotation needs cert-manager's gateway-shim, off by default
    (``config.enableGatewayAPI``), derives one Certificate per listener with none of the
    lifetime, key and per-host issuer settings, and would make the same hosts behave
    differently under ``gateway_certs_api: istio``. The Secrets live in ``namespace``; when the
    Gateway sits in another one, a ReferenceGrant there allows exactly those Secrets to it.
    """
    objects = _gateway_certificates(namespace, hosts, default_issuer, duration, renew_before,
                                    private_key_algorithm, private_key_size)
    cross_namespace = gateway_namespace != namespace
    listeners = []
    for host in hosts:
        dns_names = list(host["dns_names"])
        certificate_ref = {"group": "", "kind": "Secret", "name": _gateway_secret_name(host)}
        if cross_namespace:
            certificate_ref["namespace"] = namespace
        for index, dns_name in enumerate(dns_names):
            listeners.append({
                "name": _listener_name(host, index, len(dns_names)),
                "hostname": dns_name,
                "port": 443,
                "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [dict(certificate_ref)]},
                "allowedRoutes": {"namespaces": {"from": allowed_routes}},
            })
    if https_redirect:
        listeners.append({
            "name": "http",
            "port": 80,
            "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        })
    if cross_namespace:
        objects.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": gateway_namespace, "labels": _labels()},
        })
    objects.append({
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "Gateway",
        "metadata": {"name": gateway_name, "namespace": gateway_namespace, "labels": _labels()},
        "spec": {"gatewayClassName": gateway_class, "listeners": listeners},
    })
    if https_redirect:
        # Gateway API has no httpsRedirect flag: an HTTPRoute on the plain listener redirects.
        objects.append({
            "apiVersion": GATEWAY_API_VERSION,
            "kind": "HTTPRoute",
            "metadata": {"name": "%s-https-redirect" % gateway_name, "namespace": gateway_namespace,
                         "labels": _labels()},
            "spec": {
                "parentRefs": [{"group": GATEWAY_API_GROUP, "kind": "Gateway", "name": gateway_name,
                                "sectionName": "http"}],
                "hostnames": _unique(_flatten(host["dns_names"] for host in hosts)),
                "rules": [{"filters": [{
                    "type": "RequestRedirect",
                    "requestRedirect": {"scheme": "https", "statusCode": 301},
                }]}],
            },
        })
    if cross_namespace:
        objects.append({
            "apiVersion": GATEWAY_API_VERSION,
            "kind": "ReferenceGrant",
            "metadata": {"name": "%s-%s-tls" % (gateway_namespace, gateway_name), "namespace": namespace,
                         "labels": _labels()},
            "spec": {
                "from": [{"group": GATEWAY_API_GROUP, "kind": "Gateway", "namespace": gateway_namespace}],
                "to": [{"group": "", "kind": "Secret", "name": name}
                       for name in _unique(_gateway_secret_name(host) for host in hosts)],
            },
        })
    return objects


# trust_manager --------------------------------------------------------------------------------

TRUST_BUNDLE_API_VERSION = "trust.cert-manager.io/v1alpha1"


def trust_manager_values(trust_namespace, install_crds):
    """Helm values of the trust-manager chart."""
    return {
        # Keep the Bundle CRD on uninstall: deleting it deletes the mesh trust bundle everywhere.
        "crds": {"enabled": bool(install_crds), "keep": True},
        # The mesh trusts its own roots only: no public CA package in the bundle.
        "defaultPackage": {"enabled": False},
        "app": {"trust": {"namespace": trust_namespace}},
    }


def trust_manager_objects(bundle_name, trusted_root_pems, target_key):
    """The cluster-scoped Bundle publishing the mesh roots as a ConfigMap in every namespace.

    One inLine source per root, in the order given (current root first): during a root
    rotation the bundle carries old and new root, after retire only the new one. The roots are
    inline rather than read from the pinned root Secret so that the Bundle itself says what is
    trusted, and verify can compare it with the rotation state.
    """
    return [{
        "apiVersion": TRUST_BUNDLE_API_VERSION,
        "kind": "Bundle",
        "metadata": {"name": bundle_name, "labels": _labels()},
        "spec": {
            "sources": [{"inLine": _pem_with_newline(pem.strip())} for pem in _unique(trusted_root_pems)],
            "target": {"configMap": {"key": target_key}},
        },
    }]


def istio_csr_trust_bundle_values(bundle_name, target_key, root_ca_mount_path):
    """istio-csr values that pin its root to the trust-manager Bundle's ConfigMap (not the Secret)."""
    return {
        "app": {"tls": {"rootCAFile": "%s/%s" % (root_ca_mount_path, target_key)}},
        "volumes": [{"name": "root-ca", "configMap": {"name": bundle_name}}],
    }


# mesh_policy ----------------------------------------------------------------------------------

def _principal(trust_domain, source):
    """Istio principals are SPIFFE IDs without "spiffe://"; "*" only as prefix or suffix."""
    if source["namespace"] == "*":
        return "%s/*" % trust_domain
    if source.get("service_account", "*") == "*":
        return "%s/ns/%s/*" % (trust_domain, source["namespace"])
    return "%s/ns/%s/sa/%s" % (trust_domain, source["namespace"], source["service_account"])


def mesh_policy_objects(mtls_mode, mtls_namespaces, istio_namespace, authorization_policies, trust_domain):
    """PeerAuthentication per namespace (or one mesh-wide) and the AuthorizationPolicy allow-lists."""
    objects = [{
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {
            "name": "default" if mtls_namespaces else "mesh-wide",
            "namespace": namespace,
            "labels": _labels(),
        },
        "spec": {"mtls": {"mode": mtls_mode}},
    } for namespace in (mtls_namespaces or [istio_namespace])]
    for policy in authorization_policies:
        spec = {}
        if "selector" in policy:
            spec["selector"] = {"matchLabels": policy["selector"]}
        spec["action"] = "ALLOW"
        rule = {"from": [{"source": {"principals": [_principal(trust_domain, s) for s in policy["allow_from"]]}}]}
        if "ports" in policy:
            rule["to"] = [{"operation": {"ports": [str(port) for port in policy["ports"]]}}]
        spec["rules"] = [rule]
        objects.append({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": policy["name"], "namespace": policy["namespace"], "labels": _labels()},
            "spec": spec,
        })
    return objects


# vault_pki ------------------------------------------------------------------------------------

def vault_pki_objects(service_account, cert_manager_namespace, cert_manager_service_account, token_secret,
                      issuer_name, server, issuer_path, vault_namespace, ca_bundle, kubernetes_auth_role,
                      kubernetes_auth_mount):
    """cert-manager's vault ClusterIssuer and the service account it authenticates as.

    With short-lived tokens (cert-manager >= 1.12, serviceAccountRef) the cert-manager controller
    asks the TokenRequest API for them, which needs the Role and RoleBinding (cert-manager docs,
    "Secretless Authentication with a Service Account"); the audience of such a token is
    vault://<ClusterIssuer name>. With ``token_secret`` a long-lived token Secret, filled in by
    Kubernetes' token controller, replaces them; it holds no key material of ours.
    """
    objects = [{
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": service_account, "namespace": cert_manager_namespace, "labels": _labels()},
    }]
    token_secret_name = "%s-token" % service_account
    token_creator = "%s-token-creator" % service_account
    if token_secret:
        objects.append({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": token_secret_name,
                "namespace": cert_manager_namespace,
                "labels": _labels(),
                "annotations": {"kubernetes.io/service-account.name": service_account},
            },
        })
        kubernetes_auth_ref = {"secretRef": {"name": token_secret_name, "key": "token"}}
    else:
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": token_creator, "namespace": cert_manager_namespace, "labels": _labels()},
            "rules": [{
                "apiGroups": [""],
                "resources": ["serviceaccounts/token"],
                "resourceNames": [service_account],
                "verbs": ["create"],
            }],
        })
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": token_creator, "namespace": cert_manager_namespace, "labels": _labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": token_creator},
            "subjects": [{
                "kind": "ServiceAccount",
                "name": cert_manager_service_account,
                "namespace": cert_manager_namespace,
            }],
        })
        kubernetes_auth_ref = {"serviceAccountRef": {"name": service_account}}
    vault = {"server": server, "path": issuer_path}
    if vault_namespace:
        vault["namespace"] = vault_namespace
    if ca_bundle:
        vault["caBundle"] = _b64(_pem_with_newline(ca_bundle.strip()))
    kubernetes = {"role": kubernetes_auth_role, "mountPath": "/v1/auth/%s" % kubernetes_auth_mount.strip("/")}
    kubernetes.update(kubernetes_auth_ref)
    vault["auth"] = {"kubernetes": kubernetes}
    objects.append({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": issuer_name, "labels": _labels()},
        "spec": {"vault": vault},
    })
    return objects


OBJECT_BUILDERS = {
    "gateway_api": gateway_api_objects,
    "gateway_certs": gateway_certs_objects,
    "istio_csr": istio_csr_objects,
    "mesh_ca": mesh_ca_objects,
    "mesh_ca_secret": mesh_ca_secret_objects,
    "ambient_namespaces": ambient_namespace_objects,
    "mesh_policy": mesh_policy_objects,
    "trust_manager": trust_manager_objects,
    "vault_pki": vault_pki_objects,
}

VALUES_BUILDERS = {
    "cert_manager": cert_manager_values,
    "istio_csr": istio_csr_values,
    "istiod": istiod_values,
    "istiod_ambient": istiod_ambient_values,
    "istio_cni": istio_cni_values,
    "ztunnel": ztunnel_values,
    "istio_csr_ambient": istio_csr_ambient_values,
    "istio_csr_trust_bundle": istio_csr_trust_bundle_values,
    "trust_manager": trust_manager_values,
}
