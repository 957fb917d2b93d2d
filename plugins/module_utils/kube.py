# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes reads for certmesh.istio's own modules, through kubernetes.core's client so that
clusters are configured exactly as for ``kubernetes.core.k8s`` (kubeconfig, context, host,
api_key, validate_certs... and the K8S_AUTH_* environment variables).

Each function takes a client with kubernetes.core's ``K8SClient`` interface (``resource(kind,
api_version)`` and ``get(resource, **params)``), so tests can hand in a small fake.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.certmesh.istio.plugins.module_utils import expiry

CERTIFICATE_API = "cert-manager.io/v1"
ROOT_CONFIGMAP = "istio-ca-root-cert"
ISTIO_CA_SECRETS = ("cacerts", "istio-ca-secret")
PAGE_SIZE = 500


class KubeError(Exception):
    """A read failed; the message names the cluster and the object."""


def auth_keys():
    """The connection options kubernetes.core accepts (AUTH_ARG_SPEC keys)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    return tuple(AUTH_ARG_SPEC)


def _explicit_host(params):
    """True when kubernetes.core will build the configuration from these options alone,
    without loading a kubeconfig (its own rule in k8s/client.py)."""
    return bool(params.get("host")) and bool(
        params.get("api_key") or (params.get("username") and params.get("password"))
        or (params.get("client_cert") and params.get("client_key")))


CLUSTER_AUTH_KEYS = ("kubeconfig", "context", "host", "api_key", "validate_certs")


def _secret_values(params):
    """Values of the options that are secrets whatever their form (tokens, passwords)."""
    found = set()
    for options in [params] + [entry for entry in params.get("clusters") or [] if isinstance(entry, dict)]:
        for key in ("api_key", "password"):
            if isinstance(options.get(key), str) and options[key]:
                found.add(options[key])
    return found


def reveal_kubeconfig_paths(module):
    """Show kubeconfig *paths* in messages again; an inline kubeconfig (a dict) stays masked.

    kubernetes.core's AUTH_ARG_SPEC marks ``kubeconfig`` no_log because it may be an inline
    kubeconfig with tokens, and Ansible masks every value of a no_log option wherever it
    appears: every connection error read ``kubeconfig=********``. A path is not a secret (unless
    it is also the value of a secret option). Call right after AnsibleModule() is built."""
    params = module.params
    paths = [params.get("kubeconfig")]
    for key in ("clusters", "secret", "secrets"):
        entries = params.get(key)
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                paths.append(entry.get("kubeconfig"))
    secrets = _secret_values(params)
    for path in paths:
        if isinstance(path, str) and path and "\n" not in path and path not in secrets:
            module.no_log_values.discard(path)


def describe_connection(auth):
    """How a cluster is reached, for messages: the kubeconfig path and context the user set
    (an inline kubeconfig is named as such, never shown), or the API host."""
    auth = auth or {}
    parts = []
    kubeconfig = auth.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        parts.append("inline kubeconfig")
    elif kubeconfig:
        parts.append("kubeconfig %s" % kubeconfig)
    if auth.get("context"):
        parts.append("context %s" % auth["context"])
    if auth.get("host"):
        parts.append("host %s" % auth["host"])
    return ", ".join(parts) or "the default kubeconfig (K8S_AUTH_KUBECONFIG, KUBECONFIG or ~/.kube/config)"


def cluster_auth(params, cluster):
    """Connection options for one entry of a module's ``clusters`` list: the task-level
    kubernetes.core options, overridden by whatever the entry sets itself."""
    auth = dict((key, params.get(key)) for key in auth_keys() if params.get(key) is not None)
    for key in CLUSTER_AUTH_KEYS:
        if cluster.get(key) is not None:
            auth[key] = cluster[key]
    return auth


def api_client(auth, module=None):
    """A kubernetes.core K8SClient for ``auth`` (dict of kubernetes.core auth options; unset
    ones fall back to K8S_AUTH_* variables and ~/.kube/config as in kubernetes.core)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    params = dict((key, value) for key, value in (auth or {}).items() if value is not None)
    saved = None
    if _explicit_host(params):
        # kubernetes.core starts from the python client's process-wide default configuration,
        # which a previous kubeconfig-based cluster of the same task left behind together with
        # its refresh_api_key_hook. That hook reloads the other cluster's kubeconfig on the
        # first request (API discovery, while the client is built) and silently points this
        # host/api_key cluster at the other cluster. Build this one from a clean default.
        import kubernetes.client
        saved = kubernetes.client.Configuration.get_default_copy()
        kubernetes.client.Configuration.set_default(kubernetes.client.Configuration())
    try:
        client = get_api_client(**params)
    except Exception as exc:  # CoreException, ConfigException, urllib3 errors...
        raise KubeError("cannot connect with %s: %s" % (describe_connection(params), exc))
    finally:
        if saved is not None:
            kubernetes.client.Configuration.set_default(saved)
    if saved is not None:
        configuration = getattr(client, "configuration", None)
        if configuration is not None and hasattr(configuration, "refresh_api_key_hook"):
            configuration.refresh_api_key_hook = None
    return client


def _items(response):
    """Plain dicts from a list response (raw urllib3 response, ResourceInstance or dict)."""
    if hasattr(response, "data") and isinstance(response.data, (bytes, bytearray)):
        body = json.loads(response.data.decode("utf-8"))
    elif hasattr(response, "to_dict"):
        body = response.to_dict()
    else:
        body = response
    return body.get("items") or [], (body.get("metadata") or {}).get("continue")


def list_objects(client, kind, api_version, namespace=None, label_selector=None):
    """Every object of a kind in ``namespace`` (None: all namespaces), in pages."""
    resource = client.resource(kind, api_version)
    found = []
    token = None
    while True:
        params = {"namespace": namespace, "limit": PAGE_SIZE, "serialize": False}
        if label_selector:
            params["label_selector"] = label_selector
        if token:
            params["_continue"] = token
        items, token = _items(client.get(resource, **params))
        for item in items:
            item.setdefault("kind", kind)
        found.extend(items)
        if not token:
            return found


def list_served_objects(client, kind, api_version, namespace=None, label_selector=None):
    """Like list_objects, but a kind the cluster does not serve (its CRD not installed yet) is
    empty; any other failure is a KubeError naming the kind and where it was listed."""
    try:
        return list_objects(client, kind, api_version, namespace=namespace, label_selector=label_selector)
    except Exception as exc:
        if exc.__class__.__name__ == "ResourceNotFoundError":
            return []
        raise KubeError("%s in %s: %s" % (kind, namespace or "all namespaces", error_reason(exc)))


def _each_namespace(namespaces):
    return list(namespaces) if namespaces else [None]


def list_tls_secrets(client, namespaces=None, label_selector=None):
    """TLS Secrets (type kubernetes.io/tls) plus Istio's plugged-in CA Secrets (``cacerts``,
    ``istio-ca-secret``). The type is filtered here, not by field selector, which not every
    API server (or emulator) supports for Secrets."""
    found = []
    for namespace in _each_namespace(namespaces):
        for secret in list_objects(client, "Secret", "v1", namespace, label_selector):
            name = (secret.get("metadata") or {}).get("name")
            if secret.get("type") == "kubernetes.io/tls" or name in ISTIO_CA_SECRETS:
                found.append(secret)
    return found


def list_certificates(client, namespaces=None, label_selector=None):
    """cert-manager Certificates; an empty list when cert-manager's CRDs are not installed."""
    try:
        client.resource("Certificate", CERTIFICATE_API)
    except Exception as exc:  # kubernetes.dynamic ResourceNotFoundError
        if exc.__class__.__name__ in ("ResourceNotFoundError", "ResourceNotUniqueError"):
            return []
        raise
    found = []
    for namespace in _each_namespace(namespaces):
        found.extend(list_objects(client, "Certificate", CERTIFICATE_API, namespace, label_selector))
    return found


def list_root_configmaps(client, namespaces=None):
    """The ``istio-ca-root-cert`` ConfigMaps istiod copies into every namespace."""
    found = []
    for namespace in _each_namespace(namespaces):
        for configmap in list_objects(client, "ConfigMap", "v1", namespace):
            if (configmap.get("metadata") or {}).get("name") == ROOT_CONFIGMAP:
                found.append(configmap)
    return found


def read_secret(client, namespace, name):
    """One Secret as a dict; KubeError naming it when it cannot be read."""
    try:
        resource = client.resource("Secret", "v1")
        response = client.get(resource, name=name, namespace=namespace, serialize=False)
    except Exception as exc:
        raise KubeError("Secret %s/%s: %s" % (namespace, name, _reason(exc)))
    if hasattr(response, "data") and isinstance(response.data, (bytes, bytearray)):
        return json.loads(response.data.decode("utf-8"))
    return response.to_dict() if hasattr(response, "to_dict") else response


def error_reason(exc):
    """A one-line reason of a failed API call (its Status summary and HTTP code), for messages."""
    return _reason(exc)


def _reason(exc):
    status = getattr(exc, "status", None)
    summary = getattr(exc, "summary", None)
    if callable(summary):
        try:
            return "%s (HTTP %s)" % (summary(), status)
        except Exception:
            pass
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return "%s%s" % (text[:300], " (HTTP %s)" % status if status else "")


def scan_cluster(client, namespaces=None, label_selector=None):
    """``(secrets, certificates, configmaps)`` of one cluster; KubeError on a failed read."""
    try:
        secrets = list_tls_secrets(client, namespaces, label_selector)
        certificates = list_certificates(client, namespaces, label_selector)
        configmaps = list_root_configmaps(client, namespaces)
    except KubeError:
        raise
    except Exception as exc:
        raise KubeError(_reason(exc))
    return secrets, certificates, configmaps


def records_for_cluster(cluster, client, namespaces=None, label_selector=None):
    """Rotation records (see expiry.records_from_kube) of one cluster; a cluster that cannot be
    read gives one ``invalid`` record naming it, so one task can cover many clusters."""
    try:
        secrets, certificates, configmaps = scan_cluster(client, namespaces, label_selector)
    except KubeError as exc:
        return [expiry.broken("cluster %s: %s" % (cluster, exc), "cluster", cluster, cluster)]
    return expiry.records_from_kube(cluster, secrets, certificates, configmaps)


def get_object(client, kind, api_version, namespace, name):
    """One object as a dict, or None when it (or its kind) does not exist; KubeError naming
    the object for any other failure (forbidden, unreachable...)."""
    where = "%s %s%s" % (kind, "%s/" % namespace if namespace else "", name)
    try:
        resource = client.resource(kind, api_version)
    except Exception as exc:
        if exc.__class__.__name__ == "ResourceNotFoundError":
            return None
        raise KubeError("%s: %s" % (where, _reason(exc)))
    try:
        response = client.get(resource, name=name, namespace=namespace, serialize=False)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise KubeError("%s: %s" % (where, _reason(exc)))
    if hasattr(response, "data") and isinstance(response.data, (bytes, bytearray)):
        return json.loads(response.data.decode("utf-8"))
    return response.to_dict() if hasattr(response, "to_dict") else response
