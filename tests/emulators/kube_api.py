"""A strict, in-memory Kubernetes API server for the test suite (``KubeAPIEmulator``).

These machines have no cluster, no container engine and no Helm binary, so the integration
tests run the real ``kubernetes`` python client and the real ``kubernetes.core`` modules
against this emulator. It is a *test double* of kube-apiserver's REST surface, not of a
cluster: nothing runs, no pods exist, and controllers are stand-ins (see
``tests/emulators/cert_manager_ca.py``).

What it does like the real server (kube-apiserver 1.3x):

* Discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>``
  (``APIResourceList`` with verbs, ``namespaced``, ``kind``, ``shortNames`` and ``/status``
  subresources) for Namespace, Secret, ConfigMap, Service, ServiceAccount, Event, Pod,
  Deployment, DaemonSet, Validating/MutatingWebhookConfiguration, CustomResourceDefinition, Role,
  RoleBinding, ClusterRole, ClusterRoleBinding and every CRD created at run time.
  ``/openapi/v2`` answers 404 (the python client and kubernetes.core do not ask for it).
* Verbs: get, list (``labelSelector`` with ``=``/``==``/``!=``/``in``/``notin``/exists/``!``,
  ``fieldSelector`` on ``metadata.name``/``metadata.namespace``), create (``generateName``
  too), update (PUT, 409 Conflict on a stale ``resourceVersion``), patch with
  ``merge-patch+json``, ``json-patch+json``, ``strategic-merge-patch+json`` (built-in kinds
  only, 415 for custom resources like the real server; merge semantics are approximated, see
  ``kube_patch.py``) and ``apply-patch+yaml`` (server-side apply, below), delete and
  deletecollection, the ``/status`` subresource (for Deployment, Namespace, Service, CRD and
  CRDs that declare it), ``dryRun=All`` on every write.
* Metadata: ``uid``, ``resourceVersion`` (a string from one increasing counter),
  ``generation`` (bumped when anything but metadata and status changes, for kinds that have
  one), ``creationTimestamp``, ``managedFields``. A write that changes nothing is a no-op and
  keeps the ``resourceVersion``, which is what makes ``kubernetes.core.k8s`` report ``ok``.
* Graceful deletion (``kube_finalizers.py``): an object with ``metadata.finalizers`` is only
  marked (``deletionTimestamp``) until an update removes the last one; a deleted Namespace is
  ``Terminating`` while content with finalizers (or its own) remains, with the namespace
  controller's ``NamespaceContentRemaining``/``NamespaceFinalizersRemaining`` conditions, and
  refuses new content with 403; without finalizers it is gone at once with everything in it.
* Validation: names are DNS-1123 subdomains (labels for Namespace, DNS-1035 labels for
  Service), label keys/values and annotations are checked, label values must be strings (400
  like the real decoder), namespaced objects need an existing namespace (404), Secret ``data``
  must be base64 (``stringData`` is folded into ``data``), ``kubernetes.io/tls`` Secrets need
  ``tls.crt`` and ``tls.key``, Secret ``type`` is immutable, Deployments and DaemonSets need a selector that
  matches the template labels and containers with name and image, CRD names must be
  ``<plural>.<group>`` with exactly one storage version.
* Custom resources are validated against the request version's ``openAPIV3Schema``
  (``tests/support/k8s_openapi.py``) and its CEL rules: 422 ``Invalid`` with every cause in
  ``details.causes``. Unknown fields: ``fieldValidation=Strict`` gives 400 ``BadRequest``
  ("strict decoding error: unknown field ...", which is what kube-apiserver answers), ``Warn``
  or no parameter prunes them and returns a ``Warning`` header, ``Ignore`` prunes silently.
  Schema ``default`` values are applied. With the status subresource, writes to the main
  resource keep the stored status and writes to ``/status`` change only status.
* Errors are ``Status`` objects shaped like the real ones: 404 NotFound, 409 AlreadyExists /
  Conflict, 422 Invalid, 400 BadRequest, 415 UnsupportedMediaType, 401 Unauthorized (every
  request needs a known bearer token) and 403 Forbidden for the (verb, resource, namespace,
  user) rules given to ``deny()``, with the real message
  ``secrets "x" is forbidden: User "u" cannot get resource "secrets" in API group "" in the
  namespace "ns"``.
* Server-side apply (the rules are in ``kube_ssa.py``): ``fieldManager`` is required (422 in
  the server's words), creates absent objects (with the create permission), records field
  ownership per manager and operation (``Apply``; ``Update`` for create/PUT/other patches, named
  after the User-Agent without ``fieldManager``) as ``managedFields`` in the real ``fieldsV1``
  key format, merges associative lists by their list-map keys, lets managers share fields set
  to the same value, removes fields a manager stops applying when nobody else owns them, and
  answers 409 Conflict in the server's wording with one ``FieldManagerConflict`` cause per field
  when another manager owns a field with a different value, unless ``force=true``.
* Serves HTTPS with a CA made at start (the kubeconfig carries ``certificate-authority-data``)
  or plain HTTP (``tls=False``).

Known gaps (what the real server does and this one does not):

* CEL rules (``x-kubernetes-validations``) are evaluated with ``cel-python`` (when installed)
  plus the Kubernetes URL and string functions the upstream CRDs call; transition rules
  (``oldSelf``), ``messageExpression`` and cost limits are not, and a rule cel-python cannot
  run is skipped rather than failed. Admission webhooks do not exist (cert-manager's webhook
  would reject ``spec.duration: banana``; the emulator accepts it).
* Built-in kinds have no full schema: only the checks listed above, plus the defaults
  ``Deployment.spec.replicas``, Service ``type``/``clusterIP``/port ``protocol`` and
  ``targetPort``, and the Namespace ``kubernetes.io/metadata.name`` label. Unknown fields
  in built-in kinds are kept, not pruned.
* Server-side apply does not convert managed fields between API versions, does not upgrade
  client-side-apply ownership (``last-applied-configuration``) and does not refuse duplicate
  keys in associative lists.
* No watch (405), no conversion webhooks (objects of a multi-version CRD are stored once and
  served with the requested ``apiVersion``), no ownerReference garbage collection,
  no pagination (``limit``/``continue`` are ignored), no Table output.
* Deployments are reported available, and DaemonSets ready on every one of the cluster's
  ``NODES`` nodes, as soon as they are written (a stand-in for the deployment and daemon set
  controllers); no Pods, ReplicaSets or Nodes are made.

Start it in-process (``KubeAPIEmulator().start()``) or as a process for molecule::

    python -m tests.emulators.kube_api --port 0 --kubeconfig out.yaml --state-dir DIR
"""

import argparse
import base64
import copy
import datetime
import functools
import hashlib
import http.server
import ipaddress
import json
import os
import pathlib
import re
import secrets as _secrets
import signal
import ssl
import sys
import tempfile
import threading
import urllib.parse
import uuid

import yaml

from tests.emulators import fast_yaml, kube_patch, kube_ssa
from tests.emulators.kube_finalizers import GracefulDeletion
from tests.support import k8s_openapi

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
    "emulator": "certmesh tests/emulators/kube_api.py",
}

# Nodes of the emulated cluster (DaemonSets report a ready pod on each).
NODES = 2
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(r"^%s(\.%s)*$" % (_DNS1123_LABEL, _DNS1123_LABEL))
_DNS1123_LABEL_RE = re.compile(r"^%s$" % _DNS1123_LABEL)
_DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


class ResourceType:
    """One REST resource (``secrets``, ``certificates.cert-manager.io``) as discovery shows it."""

    def __init__(self, group, versions, plural, kind, namespaced, short_names=(), verbs=None,
                 singular=None, status=False, generation=False, schemas=None, custom=False,
                 categories=()):
        self.group = group
        self.versions = list(versions)
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.verbs = list(verbs or ALL_VERBS)
        self.singular = singular or kind.lower()
        self.status = status
        self.generation = generation
        self.schemas = schemas or {}
        self.custom = custom
        self.categories = list(categories)

    @property
    def group_resource(self):
        """``secrets`` or ``certificates.cert-manager.io``: how the server names it in messages."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    @property
    def qualified_kind(self):
        """``Secret`` or ``Certificate.cert-manager.io``: how 422 messages name the kind."""
        return "%s.%s" % (self.kind, self.group) if self.group else self.kind

    def api_version(self, version):
        """Return ``group/version`` (``v1`` for the core group)."""
        return "%s/%s" % (self.group, version) if self.group else version

    def discovery(self):
        """Return the APIResource entries (the resource and its status subresource)."""
        entry = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                 "kind": self.kind, "verbs": self.verbs}
        if self.short_names:
            entry["shortNames"] = self.short_names
        if self.categories:
            entry["categories"] = self.categories
        entries = [entry]
        if self.status:
            entries.append({"name": "%s/status" % self.plural, "singularName": "",
                            "namespaced": self.namespaced, "kind": self.kind, "verbs": SUB_VERBS})
        return entries


def _builtin_types():
    core = [
        ResourceType("", ["v1"], "namespaces", "Namespace", False, ["ns"],
                     verbs=["create", "delete", "get", "list", "patch", "update", "watch"], status=True),
        ResourceType("", ["v1"], "secrets", "Secret", True),
        ResourceType("", ["v1"], "configmaps", "ConfigMap", True, ["cm"]),
        ResourceType("", ["v1"], "services", "Service", True, ["svc"], status=True, categories=["all"]),
        ResourceType("", ["v1"], "serviceaccounts", "ServiceAccount", True, ["sa"]),
        ResourceType("", ["v1"], "events", "Event", True, ["ev"]),
        ResourceType("", ["v1"], "pods", "Pod", True, ["po"], status=True, categories=["all"]),
        ResourceType("apps", ["v1"], "deployments", "Deployment", True, ["deploy"], status=True,
                     generation=True, categories=["all"]),
        ResourceType("apps", ["v1"], "daemonsets", "DaemonSet", True, ["ds"], status=True,
                     generation=True, categories=["all"]),
        ResourceType("admissionregistration.k8s.io", ["v1"], "validatingwebhookconfigurations",
                     "ValidatingWebhookConfiguration", False, generation=True),
        ResourceType("admissionregistration.k8s.io", ["v1"], "mutatingwebhookconfigurations",
                     "MutatingWebhookConfiguration", False, generation=True),
        ResourceType("apiextensions.k8s.io", ["v1"], "customresourcedefinitions", "CustomResourceDefinition",
                     False, ["crd", "crds"], status=True, generation=True),
        ResourceType("rbac.authorization.k8s.io", ["v1"], "roles", "Role", True),
        ResourceType("rbac.authorization.k8s.io", ["v1"], "rolebindings", "RoleBinding", True),
        ResourceType("rbac.authorization.k8s.io", ["v1"], "clusterroles", "ClusterRole", False),
        ResourceType("rbac.authorization.k8s.io", ["v1"], "clusterrolebindings", "ClusterRoleBinding", False),
    ]
    return core


class ApiError(Exception):
    """An error answer: ``status`` is the ``Status`` body, ``code`` its HTTP status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "code": code,
        }
        if details is None:
            del self.status["details"]


def _details(rtype, name=None):
    details = {}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    return details


def not_found(rtype, name):
    """404 for a named object, like ``secrets "x" not found``."""
    return ApiError(404, "NotFound", '%s "%s" not found' % (rtype.group_resource, name), _details(rtype, name))


def invalid(rtype, name, causes):
    """422 Invalid listing every cause (``field``, ``reason``, ``message``)."""
    parts = ["%s: %s" % (c["field"], c["message"]) if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[%s]" % ", ".join(parts)
    details = {"name": name or "", "kind": rtype.kind, "causes": causes}
    if rtype.group:
        details = {"name": name or "", "group": rtype.group, "kind": rtype.kind, "causes": causes}
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (rtype.qualified_kind, name or "", summary), details)


def bad_request(message):
    """400 BadRequest without details, as the decoder and option parsers answer."""
    return ApiError(400, "BadRequest", message)


def _cause(field, reason, message):
    return {"reason": reason, "message": message, "field": field}


def _json_kind(value):
    """Go's name for a JSON value's type in decoding errors (``number``, ``bool``, ``object`` ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array"}.get(type(value), "string")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


_APPLY_MERGE_SKIP = ("apiVersion", "kind")
_FIELD_MANAGER_MAX_LENGTH = 128


def _spec_part(obj, has_status):
    """What ``generation`` tracks: everything but metadata (and status with a status subresource)."""
    return {k: v for k, v in obj.items() if k != "metadata" and not (has_status and k == "status")}


def _make_tls(host):
    """Create a CA and a serving certificate for ``host``; return (ca_pem, cert_pem, key_pem)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-api-emulator-ca")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc")]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca_cert.public_bytes(pem), cert.public_bytes(pem), key_pem


class DenyRule:
    """A 403 rule: every field left as ``None`` (or ``"*"``) matches anything."""

    def __init__(self, verb=None, resource=None, namespace=None, user=None, name=None):
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.user = user
        self.name = name

    def matches(self, verb, resource, namespace, user, name):
        """Return whether this rule forbids the request."""
        wanted = ((self.verb, verb), (self.resource, resource), (self.namespace, namespace),
                  (self.user, user), (self.name, name))
        return all(rule in (None, "*") or rule == actual for rule, actual in wanted)


def upstream_dir():
    """Folder of the upstream CRDs and chart schemas (``CERTMESH_UPSTREAM_DIR`` or ``../shared/upstream``)."""
    configured = os.environ.get("CERTMESH_UPSTREAM_DIR")
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(__file__).resolve().parents[3] / "shared" / "upstream"


@functools.lru_cache(maxsize=None)
def _load_yaml_documents(path):
    with open(path, encoding="utf-8") as stream:
        return tuple(doc for doc in fast_yaml.safe_load_all(stream) if doc)


def upstream_crds(which=("cert-manager", "istio")):
    """Return (deep copies of) the upstream CRD documents of the named projects."""
    docs = []
    for project in which:
        for crd_file in sorted((upstream_dir() / project / "crds").glob("*.yaml")):
            docs.extend(copy.deepcopy(d) for d in _load_yaml_documents(str(crd_file))
                        if d.get("kind") == "CustomResourceDefinition")
    if not docs:
        raise FileNotFoundError("no upstream CRDs under %s; set CERTMESH_UPSTREAM_DIR" % upstream_dir())
    return docs


@functools.lru_cache(maxsize=256)
def _validator_for(schema_json):
    return k8s_openapi.StructuralValidator(json.loads(schema_json))


class KubeAPIEmulator(GracefulDeletion):  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """An in-memory kube-apiserver; see the module docstring for what it does and does not do.

    ``tokens`` maps bearer tokens to user names (a token for ``admin`` is made when omitted);
    ``controllers`` are objects with ``observe(emulator, event_type, obj)`` called after each
    committed change (``ADDED``, ``MODIFIED``, ``DELETED``), and optionally
    ``admit(emulator, operation, obj, old)`` called before a create or update is stored (a
    validating webhook: raise ApiError to refuse it).
    """

    def __init__(self, host="127.0.0.1", port=0, tls=True, tokens=None, controllers=None, state_dir=None):
        self.host = host
        self.port = port
        self.tls = tls
        self.tokens = dict(tokens) if tokens else {"emulator-admin-" + _secrets.token_hex(8): "admin"}
        self.controllers = list(controllers or [])
        self.state_dir = pathlib.Path(state_dir) if state_dir else None
        self.deny_rules = []
        self.requests = []
        self.ca_pem = None
        self._lock = threading.RLock()
        self._controller_lock = threading.RLock()
        self._local = threading.local()
        self._types = {}
        self._objects = {}
        self._managed = {}
        self.apply_log = None  # a list to record every apply configuration received: (manager, object)
        self._rv = 0
        self._server = None
        self._thread = None
        self._tmp = None
        self._save_timer = None
        for rtype in _builtin_types():
            self._register(rtype)
        if self.state_dir and (self.state_dir / "state.json").exists():
            self._load_state()
        else:
            for name in DEFAULT_NAMESPACES:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # ----- lifecycle -------------------------------------------------------------------------
    @property
    def url(self):
        """Base URL of the running server, e.g. ``https://127.0.0.1:40123``."""
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    @property
    def token(self):
        """A bearer token for the ``admin`` user (the first configured token)."""
        return next(iter(self.tokens))

    def start(self):
        """Start serving in a daemon thread; return self."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = http.server.ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        if self.tls:
            ca_pem, cert_pem, key_pem = _make_tls(self.host)
            self.ca_pem = ca_pem.decode()
            self._tmp = tempfile.mkdtemp(prefix="kube-api-emulator-")
            cert_file = os.path.join(self._tmp, "tls.crt")
            key_file = os.path.join(self._tmp, "tls.key")
            with open(cert_file, "wb") as stream:
                stream.write(cert_pem)
            with open(key_file, "wb") as stream:
                stream.write(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="kube-api-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and save the state when a state folder is set."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._save_timer is not None:
            self._save_timer.cancel()
        if self.state_dir:
            self.save_state()
        if self._tmp:
            for name in os.listdir(self._tmp):
                os.unlink(os.path.join(self._tmp, name))
            os.rmdir(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def kubeconfig(self, cluster="emulator", context=None, user=None, token=None, namespace=None):
        """Return a kubeconfig dict for this server (``context`` defaults to the cluster name)."""
        context = context or cluster
        user = user or "%s-admin" % cluster
        cluster_entry = {"server": self.url}
        if self.tls:
            cluster_entry["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        context_entry = {"cluster": cluster, "user": user}
        if namespace:
            context_entry["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": cluster_entry}],
            "contexts": [{"name": context, "context": context_entry}],
            "users": [{"name": user, "user": {"token": token or self.token}}],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(self, path, cluster="emulator", context=None, user=None, token=None, namespace=None):
        """Write a kubeconfig file for this server and return its path."""
        config = self.kubeconfig(cluster, context, user, token, namespace)
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        os.chmod(partial, 0o600)
        os.replace(partial, path)  # whoever waits for the file never reads half of it
        return str(path)

    def add_token(self, token, user):
        """Accept ``token`` as the bearer token of ``user``."""
        self.tokens[token] = user

    def deny(self, verb=None, resource=None, namespace=None, user=None, name=None):
        """Answer 403 Forbidden to matching requests (``resource`` like ``secrets`` or ``certificates/status``)."""
        rule = DenyRule(verb, resource, namespace, user, name)
        self.deny_rules.append(rule)
        return rule

    # ----- type registry ---------------------------------------------------------------------
    def _register(self, rtype):
        for version in rtype.versions:
            self._types[(rtype.group, version, rtype.plural)] = rtype
        self._objects.setdefault((rtype.group, rtype.plural), {})

    def _unregister(self, group, plural):
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]
        removed = self._objects.pop((group, plural), {})
        for (namespace, name) in removed:
            self._managed.pop((group, plural, namespace, name), None)

    def resource_type(self, api_version, kind):
        """Return the ResourceType serving ``kind`` in ``api_version``, or None."""
        group, _sep, version = api_version.rpartition("/")
        for (g, v, _plural), rtype in self._types.items():
            if g == group and v == version and rtype.kind == kind:
                return rtype
        return None

    def _groups(self):
        groups = {}
        for (group, version, _plural), rtype in sorted(self._types.items()):
            versions = groups.setdefault(group, [])
            if version not in versions:
                versions.append(version)
            if rtype.versions and rtype.versions[0] in versions:  # preferred version first
                versions.remove(rtype.versions[0])
                versions.insert(0, rtype.versions[0])
        return groups

    # ----- HTTP entry point --------------------------------------------------------------------
    def handle(self, method, raw_path, headers, body, user=None):
        """Answer one request: return ``(code, extra_headers, body_dict)``; ``user`` skips authentication."""
        parsed = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        path = parsed.path.rstrip("/") or "/"
        self.requests.append((method, path, query))
        self._local.warnings = []
        try:
            user = user or self._authenticate(headers)
            result = self._route(method, path, query, headers, body, user)
            code, payload = result
            extra = [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in self._local.warnings]
            self._run_controllers()
            return code, extra, payload
        except ApiError as error:
            self._local.events = []
            return error.code, [], error.status

    def _authenticate(self, headers):
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in self.tokens:
            return self.tokens[auth[7:].strip()]
        raise ApiError(401, "Unauthorized", "Unauthorized", None)

    def _route(self, method, path, query, headers, body, user):
        discovery = self._discovery(path)
        if discovery is not None:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
            return 200, discovery
        rtype, version, namespace, name, sub = self._parse_resource_path(path)
        if sub not in (None, "status") or (sub == "status" and not rtype.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        verb = self._verb(method, name, query)
        self._authorize(user, verb, rtype, namespace, name, sub)
        dry_run = self._dry_run(query)
        if verb in ("get",):
            return 200, self.get_object(rtype, version, namespace, name, sub)
        if verb == "list":
            return 200, self._list(rtype, version, namespace, query)
        if verb == "watch":
            raise ApiError(405, "MethodNotAllowed", "watch is not supported by the emulator", {})
        payload = self._decode_body(body, headers, rtype, method)
        patch_kind = PATCH_TYPES.get(headers.get("Content-Type", "").split(";")[0].strip()) if verb == "patch" else None
        self._check_write_options(verb, patch_kind, query)
        # Without fieldManager the server names the writer after its User-Agent (up to the first "/").
        manager = query.get("fieldManager") or (headers.get("User-Agent") or "unknown").split("/")[0][:128] or "unknown"
        field_validation = query.get("fieldValidation", "Warn")
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise bad_request('fieldValidation must be one of "Ignore", "Warn" or "Strict", got "%s"' % field_validation)
        options = {"dry_run": dry_run, "manager": manager, "field_validation": field_validation, "user": user}
        if verb == "create":
            return 201, self._create(rtype, version, namespace, payload, options)
        if verb == "update":
            return 200, self._update(rtype, version, namespace, name, payload, sub, options)
        if verb == "patch":
            return 200, self._patch(rtype, version, namespace, name, payload, patch_kind, sub, query, options)
        if verb == "delete":
            return 200, self._delete(rtype, version, namespace, name, dry_run)
        if verb == "deletecollection":
            return 200, self._delete_collection(rtype, version, namespace, query, dry_run)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    @staticmethod
    def _check_write_options(verb, patch_kind, query):
        """CreateOptions/UpdateOptions/PatchOptions validation: 422 in the server's words."""
        if verb not in ("create", "update", "patch"):
            return
        errors = []
        manager = query.get("fieldManager", "")
        if verb == "patch" and patch_kind == "apply" and not manager:
            errors.append(("fieldManager", "FieldValueRequired", "Required value: is required for apply patch"))
        if verb == "patch" and patch_kind not in (None, "apply") and "force" in query:
            errors.append(("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"))
        if len(manager.encode()) > _FIELD_MANAGER_MAX_LENGTH:
            errors.append(("fieldManager", "FieldValueTooLong",
                           "Too long: may not be more than %d bytes" % _FIELD_MANAGER_MAX_LENGTH))
        for index, char in enumerate(manager):
            if not char.isprintable():
                errors.append(("fieldManager", "FieldValueInvalid", 'Invalid value: %s: invalid character %s (at position %d)'
                               % (json.dumps(manager), "U+%04X" % ord(char), index)))
                break
        if errors:
            kind = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}[verb]
            raise invalid_options(kind, errors)

    @staticmethod
    def _verb(method, name, query):
        if method == "GET":
            if query.get("watch") in ("true", "1"):
                return "watch"
            return "get" if name else "list"
        if method == "POST" and not name:
            return "create"
        if method == "PUT" and name:
            return "update"
        if method == "PATCH" and name:
            return "patch"
        if method == "DELETE":
            return "delete" if name else "deletecollection"
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    @staticmethod
    def _dry_run(query):
        value = query.get("dryRun")
        if value in (None, ""):
            return False
        if value != "All":
            raise bad_request('Invalid dry run value: "%s" is not a valid dry-run value, only "All" is allowed' % value)
        return True

    def _authorize(self, user, verb, rtype, namespace, name, sub):
        resource = rtype.plural + ("/" + sub if sub else "")
        if user.startswith("system:"):
            return
        for rule in self.deny_rules:
            if rule.matches(verb, resource, namespace, user, name):
                scope = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
                subject = '%s "%s"' % (rtype.group_resource, name) if name else rtype.group_resource
                message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
                    subject, user, verb, resource, rtype.group, scope)
                raise ApiError(403, "Forbidden", message, _details(rtype, name))

    def _discovery(self, path):
        if path == "/version":
            return dict(KUBERNETES_VERSION)
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "%s:%d" % (self.host, self.port)}]}
        if path == "/apis":
            with self._lock:
                groups = self._groups()
            entries = []
            for group, versions in sorted(groups.items()):
                if not group:
                    continue
                listed = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
                entries.append({"name": group, "versions": listed, "preferredVersion": listed[0]})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": entries}
        match = re.match(r"^/apis/([^/]+)$", path)
        if match:
            with self._lock:
                versions = self._groups().get(match.group(1))
            if not versions:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            listed = [{"groupVersion": "%s/%s" % (match.group(1), v), "version": v} for v in versions]
            return {"kind": "APIGroup", "apiVersion": "v1", "name": match.group(1), "versions": listed,
                    "preferredVersion": listed[0]}
        match = re.match(r"^/api/(v1)$|^/apis/([^/]+)/([^/]+)$", path)
        if match:
            group, version = ("", "v1") if match.group(1) else (match.group(2), match.group(3))
            with self._lock:
                rtypes = [t for (g, v, _plural), t in sorted(self._types.items()) if g == group and v == version]
            if not rtypes:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            resources = [entry for t in rtypes for entry in t.discovery()]
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": rtypes[0].api_version(version),
                    "resources": resources}
        if path in ("/healthz", "/readyz", "/livez"):
            return "ok"
        return None

    def _parse_resource_path(self, path):
        match = re.match(r"^/api/(v1)/(.*)$|^/apis/([^/]+)/([^/]+)/(.*)$", path)
        if not match:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if match.group(1):
            group, version, rest = "", "v1", match.group(2)
        else:
            group, version, rest = match.group(3), match.group(4), match.group(5)
        parts = [urllib.parse.unquote(p) for p in rest.split("/")]
        namespace = None
        with self._lock:
            if (len(parts) >= 3 and parts[0] == "namespaces"
                    and (group, version, parts[2]) in self._types
                    and self._types[(group, version, parts[2])].namespaced):
                namespace, parts = parts[1], parts[2:]
            rtype = self._types.get((group, version, parts[0]))
        if rtype is None or len(parts) > 3 or (namespace is None and rtype.namespaced and len(parts) > 1):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        return rtype, version, namespace, name, sub

    def _decode_body(self, body, headers, rtype, method):
        if method == "DELETE" or not body:
            return None
        content_type = headers.get("Content-Type", "application/json").split(";")[0].strip()
        try:
            if content_type == "application/apply-patch+yaml":
                try:  # JSON is YAML, and much faster to parse
                    return json.loads(body.decode("utf-8"))
                except ValueError:
                    return fast_yaml.safe_load(body.decode("utf-8"))
            return json.loads(body.decode("utf-8"))
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request("error decoding %s body for %s: %s" % (content_type, rtype.kind, error)) from error

    # ----- reads --------------------------------------------------------------------------------
    def _present(self, rtype, version, obj):
        shown = copy.deepcopy(obj)
        shown["apiVersion"] = rtype.api_version(version)
        shown["kind"] = rtype.kind
        return shown

    def get_object(self, rtype, version, namespace, name, sub=None):  # pylint: disable=unused-argument
        """Return the stored object (raises ApiError 404)."""
        with self._lock:
            obj = self._objects.get((rtype.group, rtype.plural), {}).get((namespace, name))
            if obj is None:
                raise not_found(rtype, name)
            return self._present(rtype, version, obj)

    def _list(self, rtype, version, namespace, query):
        try:
            selector = kube_patch.parse_label_selector(query.get("labelSelector", ""))
        except ValueError as error:
            raise bad_request("unable to parse requirement: %s" % error) from error
        supported = ["metadata.name", "metadata.namespace"] + (["type"] if rtype.kind == "Secret" else [])
        try:
            fields = kube_patch.parse_field_selector(query.get("fieldSelector", ""), supported)
        except ValueError as error:
            raise bad_request(str(error)) from error
        with self._lock:
            items = []
            stored = self._objects.get((rtype.group, rtype.plural), {})
            for (ns, _name), obj in sorted(stored.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
                if namespace and ns != namespace:
                    continue
                if not kube_patch.label_selector_matches(selector, obj["metadata"].get("labels")):
                    continue
                if any((kube_patch.field_value(obj, f) == v) == negate for f, negate, v in fields):
                    continue
                shown = self._present(rtype, version, obj)
                if not rtype.custom:  # typed lists of built-in kinds carry no per-item kind/apiVersion
                    shown.pop("apiVersion")
                    shown.pop("kind")
                items.append(shown)
            return {"kind": "%sList" % rtype.kind, "apiVersion": rtype.api_version(version),
                    "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    # ----- validation -------------------------------------------------------------------------
    def _check_shape(self, rtype, version, obj, namespace, name=None):
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        expected = rtype.api_version(version)
        if obj.get("kind") not in (None, rtype.kind) or obj.get("apiVersion") not in (None, expected):
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (obj.get("apiVersion"), expected) if obj.get("apiVersion") not in (None, expected)
                              else "%s in version \"%s\" cannot be handled as a %s: kind %s does not match"
                              % (rtype.kind, version, rtype.kind, obj.get("kind")))
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal into Go struct field '
                              "%s.metadata of type v1.ObjectMeta" % (rtype.kind, version, rtype.kind, rtype.kind))
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is None:
                continue
            bad = not isinstance(value, dict) or [k for k, v in value.items() if not isinstance(v, str)]
            if bad:
                raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into Go '
                                  "struct field ObjectMeta.metadata.%s of type string"
                                  % (rtype.kind, version, rtype.kind, "object" if not isinstance(value, dict)
                                     else "number", key))
        obj["apiVersion"] = expected
        obj["kind"] = rtype.kind
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") not in (None, name):
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (meta.get("name"), name))
        if name is not None:
            meta["name"] = name

    @staticmethod
    def _name_causes(rtype, meta):
        causes = []
        name = meta.get("name")
        if not name:
            return [_cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]
        if rtype.kind == "Namespace" and (len(name) > 63 or not _DNS1123_LABEL_RE.match(name)):
            causes.append(_cause("metadata.name", "FieldValueInvalid",
                                 'Invalid value: "%s": a lowercase RFC 1123 label must consist of lower case alphanumeric '
                                 "characters or '-', and must start and end with an alphanumeric character (e.g. "
                                 "'my-name',  or '123-abc', regex used for validation is '%s')" % (name, _DNS1123_LABEL)))
        elif rtype.kind == "Service" and (len(name) > 63 or not _DNS1035_LABEL_RE.match(name)):
            causes.append(_cause("metadata.name", "FieldValueInvalid",
                                 'Invalid value: "%s": a DNS-1035 label must consist of lower case alphanumeric characters '
                                 "or '-', start with an alphabetic character, and end with an alphanumeric character "
                                 "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                                 "'[a-z]([-a-z0-9]*[a-z0-9])?')" % name))
        elif len(name) > 253 or not _DNS1123_SUBDOMAIN_RE.match(name):
            causes.append(_cause("metadata.name", "FieldValueInvalid",
                                 'Invalid value: "%s": a lowercase RFC 1123 subdomain must consist of lower case '
                                 "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                                 "character (e.g. 'example.com', regex used for validation is '%s(\\.%s)*')"
                                 % (name, _DNS1123_LABEL, _DNS1123_LABEL)))
        for key, value in (meta.get("labels") or {}).items():
            prefix, _sep, short = key.rpartition("/")
            if not short or len(short) > 63 or not _QUALIFIED_NAME_RE.match(short) or (
                    prefix and not _DNS1123_SUBDOMAIN_RE.match(prefix)):
                causes.append(_cause("metadata.labels", "FieldValueInvalid",
                                     'Invalid value: "%s": name part must consist of alphanumeric characters, \'-\', '
                                     "'_' or '.', and must start and end with an alphanumeric character" % key))
            if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
                causes.append(_cause("metadata.labels", "FieldValueInvalid",
                                     'Invalid value: "%s": a valid label must be an empty string or consist of '
                                     "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                     "alphanumeric character" % value))
        annotations = meta.get("annotations") or {}
        if sum(len(k) + len(v) for k, v in annotations.items()) > 256 * 1024:
            causes.append(_cause("metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes"))
        return causes

    def _builtin_causes(self, rtype, obj, old):  # pylint: disable=too-many-branches
        causes = []
        kind = rtype.kind
        if kind == "Secret":
            data = obj.get("data") or {}
            if not isinstance(data, dict):
                raise bad_request("Secret in version \"v1\" cannot be handled as a Secret: data must be a map")
            for key, value in data.items():
                if not _CONFIG_KEY_RE.match(key):
                    causes.append(_cause("data[%s]" % key, "FieldValueInvalid",
                                         'Invalid value: "%s": a valid config key must consist of alphanumeric '
                                         "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                         "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')" % key))
                try:
                    base64.b64decode(value if isinstance(value, str) else "!", validate=True)
                except (ValueError, TypeError) as error:
                    raise bad_request('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
                                      "input byte 0 (data[%s])" % key) from error
            secret_type = obj.get("type") or "Opaque"
            if secret_type == "kubernetes.io/tls":
                for key in ("tls.crt", "tls.key"):
                    if key not in data:
                        causes.append(_cause("data[%s]" % key, "FieldValueRequired", "Required value"))
            if old is not None and (old.get("type") or "Opaque") != secret_type:
                causes.append(_cause("type", "FieldValueInvalid",
                                     'Invalid value: "%s": field is immutable' % secret_type))
        elif kind == "ConfigMap":
            for field in ("data", "binaryData"):
                for key, value in (obj.get(field) or {}).items():
                    if not isinstance(value, str):
                        raise bad_request('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                                          "unmarshal %s into Go struct field ConfigMap.%s of type string"
                                          % (_json_kind(value), field))
                    if not _CONFIG_KEY_RE.match(key):
                        causes.append(_cause("%s[%s]" % (field, key), "FieldValueInvalid",
                                             'Invalid value: "%s": a valid config key must consist of alphanumeric '
                                             "characters, '-', '_' or '.'" % key))
        elif kind in ("Deployment", "DaemonSet"):
            spec = obj.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels")
            template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not spec.get("selector"):
                causes.append(_cause("spec.selector", "FieldValueRequired", "Required value"))
            elif selector and any(template_labels.get(k) != v for k, v in selector.items()):
                causes.append(_cause("spec.template.metadata.labels", "FieldValueInvalid",
                                     "Invalid value: %s: `selector` does not match template `labels`"
                                     % json.dumps(template_labels)))
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
            if not containers:
                causes.append(_cause("spec.template.spec.containers", "FieldValueRequired", "Required value"))
            for index, container in enumerate(containers):
                for key in ("name", "image"):
                    if not container.get(key):
                        causes.append(_cause("spec.template.spec.containers[%d].%s" % (index, key),
                                             "FieldValueRequired", "Required value"))
            if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
                causes.append(_cause("spec.selector", "FieldValueInvalid",
                                     "Invalid value: %s: field is immutable" % json.dumps(spec.get("selector"))))
        elif kind == "Service":
            for index, port in enumerate((obj.get("spec") or {}).get("ports") or []):
                if not isinstance(port.get("port"), int) or not 0 < port["port"] < 65536:
                    causes.append(_cause("spec.ports[%d].port" % index, "FieldValueInvalid",
                                         "Invalid value: %s: must be between 1 and 65535, inclusive"
                                         % json.dumps(port.get("port"))))
        elif kind == "CustomResourceDefinition":
            causes.extend(self._crd_causes(obj))
        return causes

    @staticmethod
    def _crd_causes(obj):
        causes = []
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        for field in ("plural", "kind"):
            if not names.get(field):
                causes.append(_cause("spec.names.%s" % field, "FieldValueRequired", "Required value"))
        if not spec.get("group"):
            causes.append(_cause("spec.group", "FieldValueRequired", "Required value"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(_cause("spec.scope", "FieldValueNotSupported",
                                 'Unsupported value: "%s": supported values: "Cluster", "Namespaced"' % spec.get("scope")))
        expected = "%s.%s" % (names.get("plural"), spec.get("group"))
        if obj["metadata"].get("name") != expected:
            causes.append(_cause("metadata.name", "FieldValueInvalid",
                                 'Invalid value: "%s": must be spec.names.plural+"."+spec.group' % obj["metadata"].get("name")))
        versions = spec.get("versions") or []
        if not versions:
            causes.append(_cause("spec.versions", "FieldValueRequired", "Required value"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(_cause("spec.versions", "FieldValueInvalid",
                                 "Invalid value: %s: must have exactly one version marked as storage version"
                                 % json.dumps([v.get("name") for v in versions])))
        for index, version in enumerate(versions):
            if not (version.get("schema") or {}).get("openAPIV3Schema"):
                causes.append(_cause("spec.versions[%d].schema.openAPIV3Schema" % index, "FieldValueRequired",
                                     "Required value: schemas are required"))
        return causes

    def _custom_validate(self, rtype, version, obj, options):
        schema = rtype.schemas.get(version)
        if not schema:
            return obj
        unknown = k8s_openapi.unknown_fields(schema, obj)
        meta_unknown = [k for k in obj["metadata"] if k not in _OBJECT_META_FIELDS]
        unknown += ["metadata.%s" % k for k in meta_unknown]
        if unknown and options["field_validation"] == "Strict":
            detail = ", ".join('unknown field "%s"' % u for u in unknown)
            raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                              % (rtype.kind, version, rtype.kind, detail))
        if unknown:
            obj = k8s_openapi.prune_unknown_fields(schema, obj)[0]
            for key in meta_unknown:
                obj["metadata"].pop(key, None)
            if options["field_validation"] == "Warn":
                self._local.warnings.extend('unknown field "%s"' % u for u in unknown)
        obj = k8s_openapi.apply_defaults(schema, obj)
        validator = _validator_for(json.dumps(schema, sort_keys=True))
        checked = {k: v for k, v in obj.items() if k != "metadata"}
        causes = validator.causes(checked) + k8s_openapi.cel_causes(schema, checked)
        if causes:
            raise invalid(rtype, obj["metadata"].get("name"), causes)
        return obj

    def _prepare(self, rtype, version, obj, old, options):
        """Validate, default and fold ``obj``; return the object to store (without server metadata)."""
        if rtype.kind == "Secret" and "stringData" in obj:
            string_data = obj.pop("stringData") or {}
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                if not isinstance(value, str):
                    raise bad_request('Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal %s '
                                      "into Go struct field Secret.stringData of type string" % _json_kind(value))
                data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data
        causes = self._name_causes(rtype, obj["metadata"])
        if causes:
            raise invalid(rtype, obj["metadata"].get("name"), causes)
        if rtype.custom:
            obj = self._custom_validate(rtype, version, obj, options)
        else:
            causes = self._builtin_causes(rtype, obj, old)
            if causes:
                raise invalid(rtype, obj["metadata"].get("name"), causes)
            self._builtin_defaults(rtype, obj, old)
        return obj

    def _builtin_defaults(self, rtype, obj, old):
        kind = rtype.kind
        if kind == "Secret":
            obj.setdefault("type", "Opaque")
        elif kind == "Namespace":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        elif kind == "Deployment":
            obj.setdefault("spec", {}).setdefault("replicas", 1)
        elif kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName" and "clusterIP" not in spec:
                old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
                digest = hashlib.sha256(("%s/%s" % (obj["metadata"].get("namespace"), obj["metadata"]["name"])).encode()).digest()
                spec["clusterIP"] = old_ip or "10.96.%d.%d" % (digest[0], digest[1] or 1)
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))

    # ----- writes -------------------------------------------------------------------------------
    def _require_namespace(self, rtype, namespace):
        if rtype.namespaced and (None, namespace) not in self._objects[("", "namespaces")]:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % namespace, {"name": namespace, "kind": "namespaces"})

    def _create(self, rtype, version, namespace, obj, options, applied=None):
        self._check_shape(rtype, version, obj, namespace)
        meta = obj["metadata"]
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + _secrets.token_hex(3)[:5]
            self._require_namespace(rtype, namespace)
            self._refuse_if_terminating(rtype, namespace, meta.get("name"))
            if rtype.status:
                obj.pop("status", None)
            obj = self._prepare(rtype, version, obj, None, options)
            key = (namespace if rtype.namespaced else None, obj["metadata"]["name"])
            store = self._objects[(rtype.group, rtype.plural)]
            if key in store:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (rtype.group_resource, key[1]),
                               _details(rtype, key[1]))
            obj["metadata"] = {k: v for k, v in obj["metadata"].items()
                               if k not in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                                            "deletionTimestamp", "selfLink")}
            obj["metadata"]["uid"] = str(uuid.uuid4())
            obj["metadata"]["creationTimestamp"] = _now()
            if rtype.generation or rtype.custom:
                obj["metadata"]["generation"] = 1
            managed = {}
            if applied is None:  # a create is an Update: the creator owns all it set, defaults included
                owned, _removed = kube_ssa.changed_members({}, obj, self._shape(rtype, version))
                owned = self._ownable(rtype, owned)
                operation = "Update"
            else:  # create-on-apply: the applier owns what it applied, defaults are nobody's
                owned, operation = applied, "Apply"
            self._own(managed, options["manager"], operation, rtype.api_version(version), owned)
            return self._commit(rtype, version, key, None, obj, managed, options["dry_run"])

    @staticmethod
    def _shape(rtype, version):
        return kube_ssa.shape_for(rtype.schemas.get(version) if rtype.custom else None)

    @staticmethod
    def _ownable(rtype, paths, sub=None):
        """Paths a write may own: not the ones everyone owns; status only through /status when it exists."""
        paths = set(paths) - kube_ssa.IGNORED
        if sub == "status":
            return {p for p in paths if p[0] == "f:status"}
        if rtype.status:
            return {p for p in paths if p[0] != "f:status"}
        return paths

    @staticmethod
    def _own(managed, manager, operation, api_version, paths):
        """Record ``paths`` for ``manager``: an Apply replaces its set, an Update adds to it."""
        entry = managed.setdefault((manager, operation), {"apiVersion": api_version, "time": _now(), "fields": set()})
        entry["fields"] = set(paths) if operation == "Apply" else entry["fields"] | set(paths)
        entry["apiVersion"] = api_version
        entry["time"] = _now()
        for entry_key in [k for k, e in managed.items() if not e["fields"]]:
            del managed[entry_key]

    def _commit(self, rtype, version, key, old, obj, managed, dry_run):  # pylint: disable=too-many-arguments
        """Store ``obj`` (or only return it under dryRun); a no-op write keeps the old object."""
        self._admit(rtype, version, old, obj)
        if rtype.kind == "Namespace":
            obj.setdefault("status", {})["phase"] = "Terminating" if obj["metadata"].get("deletionTimestamp") else "Active"
        if rtype.kind == "Deployment":
            self._deployment_status(obj)
        if rtype.kind == "DaemonSet":
            self._daemonset_status(obj)
        if rtype.kind == "CustomResourceDefinition":
            self._crd_status(obj)
        obj["metadata"]["managedFields"] = [
            {"manager": m, "operation": op, "apiVersion": e["apiVersion"], "time": e["time"],
             "fieldsType": "FieldsV1", "fieldsV1": kube_ssa.fields_v1(e["fields"])}
            for (m, op), e in sorted(managed.items())
        ]
        if old is not None:
            if _without_volatile(old) == _without_volatile(obj):
                return self._present(rtype, version, old)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if dry_run:
            if old is None:  # a dry-run create answers without a resourceVersion, like the real server
                obj["metadata"].pop("resourceVersion", None)
            return self._present(rtype, version, obj)
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[(rtype.group, rtype.plural)][key] = obj
        self._managed[(rtype.group, rtype.plural) + key] = managed
        if rtype.kind == "CustomResourceDefinition":
            self._register_crd(obj)
        self._queue_event("ADDED" if old is None else "MODIFIED", rtype, obj)
        self._schedule_save()
        shown = self._present(rtype, version, obj)
        if old is not None:
            self._after_write(rtype, key, obj)
        return shown

    @staticmethod
    def _deployment_status(obj):
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        status = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": 'ReplicaSet "%s" has successfully progressed.' % obj["metadata"]["name"]},
            ],
        }
        if not replicas:
            for key in ("readyReplicas", "availableReplicas", "updatedReplicas"):
                status.pop(key)
        old = obj.get("status") or {}
        for condition in status["conditions"]:
            previous = next((c for c in old.get("conditions", []) if c.get("type") == condition["type"]), {})
            stamp = previous.get("lastTransitionTime") or _now()
            condition["lastTransitionTime"] = stamp
            condition["lastUpdateTime"] = previous.get("lastUpdateTime") or stamp
        obj["status"] = status

    @staticmethod
    def _daemonset_status(obj):
        """Every node runs an up-to-date, ready pod: the emulated cluster has NODES nodes."""
        obj["status"] = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "currentNumberScheduled": NODES, "desiredNumberScheduled": NODES, "numberMisscheduled": 0,
            "numberReady": NODES, "numberAvailable": NODES, "updatedNumberScheduled": NODES,
        }

    @staticmethod
    def _crd_status(obj):
        spec = obj["spec"]
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        old = obj.get("status") or {}
        stamp = next((c.get("lastTransitionTime") for c in old.get("conditions", [])), None) or _now()
        stored = list(dict.fromkeys((old.get("storedVersions") or []) + [storage]))
        obj["status"] = {
            "acceptedNames": spec["names"],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
                 "lastTransitionTime": stamp},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": stamp},
            ],
            "storedVersions": stored,
        }

    def _register_crd(self, crd):
        spec = crd["spec"]
        names = spec["names"]
        served = [v for v in spec["versions"] if v.get("served", True)]
        storage = [v for v in served if v.get("storage")]
        ordered = storage + [v for v in served if not v.get("storage")]
        rtype = ResourceType(
            spec["group"], [v["name"] for v in ordered], names["plural"], names["kind"],
            spec["scope"] == "Namespaced", names.get("shortNames") or (), singular=names.get("singular"),
            status=any("status" in (v.get("subresources") or {}) for v in served), generation=True,
            schemas={v["name"]: v["schema"]["openAPIV3Schema"] for v in served}, custom=True,
            categories=names.get("categories") or (),
        )
        for key in [k for k in self._types if k[0] == rtype.group and k[2] == rtype.plural]:
            del self._types[key]
        self._register(rtype)

    def _update(self, rtype, version, namespace, name, obj, sub, options):
        self._check_shape(rtype, version, obj, namespace, name)
        with self._lock:
            self._require_namespace(rtype, namespace)
            key = (namespace if rtype.namespaced else None, name)
            old = self._objects[(rtype.group, rtype.plural)].get(key)
            if old is None:
                raise not_found(rtype, name)
            wanted_rv = obj["metadata"].get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": the object has been "
                               "modified; please apply your changes to the latest version and try again"
                               % (rtype.group_resource, name), _details(rtype, name))
            if not wanted_rv and rtype.custom:
                raise invalid(rtype, name, [_cause("metadata.resourceVersion", "FieldValueInvalid",
                                                   "Invalid value: 0x0: must be specified for an update")])
            return self._write(rtype, version, key, old, obj, sub, options, "Update")

    def _write(self, rtype, version, key, old, new, sub, options, operation, applied_paths=None):  # pylint: disable=too-many-locals
        """Shared tail of update/patch/apply: status handling, validation, generation, ownership."""
        new = copy.deepcopy(new)
        if sub == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status")
            if merged["status"] is None:
                merged.pop("status")
            new = merged
        elif rtype.status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
        new["metadata"]["name"] = old["metadata"]["name"]
        if rtype.namespaced:
            new["metadata"]["namespace"] = old["metadata"]["namespace"]
        new["metadata"].pop("managedFields", None)
        new = self._prepare(rtype, version, new, old, options)
        if "generation" in old["metadata"]:
            if _spec_part(old, rtype.status) != _spec_part(new, rtype.status):
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        managed = copy.deepcopy(self._managed.get((rtype.group, rtype.plural) + key, {}))
        shape = self._shape(rtype, version)
        changed, removed = kube_ssa.changed_members(old, new, shape)
        changed = self._ownable(rtype, changed, sub)
        mine = (options["manager"], operation)
        for entry_key, entry in managed.items():  # what this write changed is nobody else's any more
            entry["fields"] -= removed
            if entry_key != mine:
                entry["fields"] -= changed
        if applied_paths is not None:
            self._own(managed, options["manager"], "Apply", rtype.api_version(version), applied_paths)
        elif changed or mine in managed:
            self._own(managed, options["manager"], operation, rtype.api_version(version), changed)
        for entry in managed.values():  # fields that disappeared are owned by nobody
            entry["fields"] = {p for p in entry["fields"] if kube_ssa.value_at(new, p) is not kube_ssa.MISSING}
        for entry_key in [k for k, e in managed.items() if not e["fields"]]:
            del managed[entry_key]
        return self._commit(rtype, version, key, old, new, managed, options["dry_run"])

    def _patch(self, rtype, version, namespace, name, patch, kind, sub, query, options):  # pylint: disable=too-many-arguments
        if kind is None:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                           "media types include: application/json-patch+json, application/merge-patch+json, "
                           "application/apply-patch+yaml", {})
        if kind == "strategic" and rtype.custom:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                           "media types include: application/json-patch+json, application/merge-patch+json, "
                           "application/apply-patch+yaml", {})
        with self._lock:
            self._require_namespace(rtype, namespace)
            key = (namespace if rtype.namespaced else None, name)
            old = self._objects[(rtype.group, rtype.plural)].get(key)
            if kind == "apply":
                return self._apply(rtype, version, namespace, name, key, old, patch, sub, query, options)
            if old is None:
                raise not_found(rtype, name)
            current = self._present(rtype, version, old)
            try:
                if kind == "json":
                    new = kube_patch.json_patch(current, patch)
                elif kind == "merge":
                    new = kube_patch.merge_patch(current, patch)
                else:
                    new = kube_patch.strategic_merge_patch(current, patch)
            except kube_patch.PatchError as error:
                raise ApiError(422, "Invalid", str(error), {}) from error
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise bad_request("the patch does not produce an object")
            wanted_rv = new["metadata"].get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": the object has been "
                               "modified; please apply your changes to the latest version and try again"
                               % (rtype.group_resource, name), _details(rtype, name))
            self._check_shape(rtype, version, new, namespace, name)
            return self._write(rtype, version, key, old, new, sub, options, "Update")

    def _apply(self, rtype, version, namespace, name, key, old, config, sub, query, options):  # pylint: disable=too-many-arguments,too-many-locals
        """Server-side apply: merge by the schema, prune what the applier dropped, refuse conflicts."""
        if not isinstance(config, dict) or not config.get("apiVersion") or not config.get("kind"):
            raise bad_request("invalid object type: apply configurations need apiVersion and kind")
        force = str(query.get("force", "")).lower() in ("true", "1")
        self._check_shape(rtype, version, config, namespace, name)
        config["metadata"].pop("managedFields", None)
        shape = self._shape(rtype, version)
        applied = self._ownable(rtype, kube_ssa.field_set(config, shape), sub)
        manager = options["manager"]
        if self.apply_log is not None and not options["dry_run"]:
            self.apply_log.append((manager, copy.deepcopy(config)))
        if old is None:
            if sub:
                raise not_found(rtype, name)
            self._require_namespace(rtype, namespace)
            # An apply that creates needs the create permission too (the apiserver's withAuthorization).
            self._authorize(options["user"], "create", rtype, namespace, name, None)
            return self._create(rtype, version, namespace, config, options, applied=applied)
        managed = self._managed.get((rtype.group, rtype.plural) + key, {})
        live = self._present(rtype, version, old)
        merged = kube_ssa.merge(live, {k: v for k, v in config.items() if k not in _APPLY_MERGE_SKIP}, shape)
        previous = managed.get((manager, "Apply"), {}).get("fields", set())
        others = set()
        for entry_key, entry in managed.items():
            if entry_key != (manager, "Apply"):
                others |= entry["fields"]
        kept = applied | others
        kept_prefixes = {p[:i] for p in kept for i in range(1, len(p))}
        dropped = {p for p in previous - kept if p not in kept_prefixes}  # what the applier stopped applying
        for path in sorted(dropped, key=len):
            if not any(path[:i] in dropped for i in range(1, len(path))):  # its parent goes anyway
                kube_ssa.remove_path(merged, path)
        changed, _removed = kube_ssa.changed_members(live, merged, shape)
        changed = self._ownable(rtype, changed, sub)
        conflicts = []
        for (other, operation), entry in sorted(managed.items()):
            if (other, operation) == (manager, "Apply"):
                continue
            label = kube_ssa.manager_label(other, operation, entry["apiVersion"])
            conflicts.extend((label, path) for path in sorted(entry["fields"] & changed))
        if conflicts and not force:
            causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % label,
                       "field": kube_ssa.path_string(path)} for label, path in conflicts]
            raise ApiError(409, "Conflict", kube_ssa.conflict_message(conflicts), {"causes": causes})
        return self._write(rtype, version, key, old, merged, sub, options, "Apply", applied_paths=applied)

    def _delete(self, rtype, version, namespace, name, dry_run):
        with self._lock:
            key = (namespace if rtype.namespaced else None, name)
            store = self._objects[(rtype.group, rtype.plural)]
            if key not in store:
                raise not_found(rtype, name)
            obj = store[key]
            if dry_run:
                return self._delete_answer(rtype, version, obj)
            if not self._graceful_delete(rtype, key, obj) and rtype.kind != "Namespace":
                return self._present(rtype, version, obj)  # finalizers hold it: 200 with the object
            return self._delete_answer(rtype, version, obj)

    def _delete_answer(self, rtype, version, obj):
        if rtype.kind in ("Namespace", "CustomResourceDefinition"):
            shown = self._present(rtype, version, obj)
            shown["metadata"]["deletionTimestamp"] = _now()
            if rtype.kind == "Namespace":
                shown["status"] = {"phase": "Terminating"}
            return shown
        details = _details(rtype, obj["metadata"]["name"])
        details["uid"] = obj["metadata"]["uid"]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _remove(self, rtype, key):
        obj = self._objects[(rtype.group, rtype.plural)].pop(key)
        self._managed.pop((rtype.group, rtype.plural) + key, None)
        self._rv += 1
        self._queue_event("DELETED", rtype, obj)
        if rtype.kind == "Namespace":
            for (group, plural), store in list(self._objects.items()):
                holder = next((t for t in self._types.values() if t.group == group and t.plural == plural), None)
                for obj_key in [k for k in store if k[0] == key[1]]:
                    self._remove(holder, obj_key)
        if rtype.kind == "CustomResourceDefinition":
            spec = obj["spec"]
            holder = next((t for t in self._types.values()
                           if t.group == spec["group"] and t.plural == spec["names"]["plural"]), None)
            if holder is not None:
                for obj_key in list(self._objects.get((holder.group, holder.plural), {})):
                    self._remove(holder, obj_key)
            self._unregister(spec["group"], spec["names"]["plural"])
        self._schedule_save()

    def _delete_collection(self, rtype, version, namespace, query, dry_run):
        listed = self._list(rtype, version, namespace, query)
        with self._lock:
            for item in listed["items"]:
                key = (namespace if rtype.namespaced else None, item["metadata"]["name"])
                if not dry_run and key in self._objects[(rtype.group, rtype.plural)]:
                    self._graceful_delete(rtype, key, self._objects[(rtype.group, rtype.plural)][key])
        return listed

    # ----- controllers ----------------------------------------------------------------------------
    def _admit(self, rtype, version, old, obj):
        """Validating admission: controllers with ``admit(emulator, operation, obj, old)`` may raise ApiError.

        Called after schema validation and before storing, for dry runs too, as the API server
        calls webhooks that declare no side effects.
        """
        admitters = [c.admit for c in self.controllers if callable(getattr(c, "admit", None))]
        if not admitters:
            return
        operation = "CREATE" if old is None else "UPDATE"
        # A shallow view (admitters only read): deep-copying every written object, CRDs of
        # hundreds of KiB included, would cost more than the admission itself.
        presented = dict(obj, apiVersion=rtype.api_version(version), kind=rtype.kind)
        for admit in admitters:
            admit(self, operation, presented, old)

    def _queue_event(self, event_type, rtype, obj):
        if not self.controllers:
            return
        if not hasattr(self._local, "events"):
            self._local.events = []
        self._local.events.append((event_type, self._present(rtype, rtype.versions[0], obj)))

    def _run_controllers(self):
        events = getattr(self._local, "events", None)
        if not events or getattr(self._local, "in_controllers", False):
            return
        self._local.in_controllers = True
        try:
            with self._controller_lock:
                for _round in range(1000):  # a controller loop that never settles is a bug in the stand-in
                    if not self._local.events:
                        break
                    event_type, obj = self._local.events.pop(0)
                    for controller in self.controllers:
                        controller.observe(self, event_type, obj)
        finally:
            self._local.in_controllers = False
            self._local.events = []

    # ----- in-process API (controllers, fixtures) ---------------------------------------------------
    def request(self, method, path, body=None, content_type="application/json", user="system:admin"):
        """Call the API in-process as ``user``; ``system:*`` users pass every deny rule, like controllers."""
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type, "User-Agent": "%s/emulator" % user.replace("system:", "")}
        code, _headers, payload = self.handle(method, path, headers, raw, user=user)
        if code >= 400:
            raise ApiError(code, payload.get("reason", ""), payload.get("message", ""), payload.get("details"))
        return payload

    def path_for(self, api_version, kind, namespace=None, name=None, subresource=None):
        """Return the REST path of a kind (and optionally an object) in ``api_version``."""
        with self._lock:
            rtype = self.resource_type(api_version, kind)
        if rtype is None:
            raise ApiError(404, "NotFound", 'no matches for kind "%s" in version "%s"' % (kind, api_version), {})
        base = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
        if rtype.namespaced and namespace:
            base += "/namespaces/%s" % namespace
        base += "/" + rtype.plural
        if name:
            base += "/" + name
        if subresource:
            base += "/" + subresource
        return base

    def create(self, obj):
        """Create ``obj`` in-process and return the stored object."""
        meta = obj.get("metadata", {})
        return self.request("POST", self.path_for(obj["apiVersion"], obj["kind"], meta.get("namespace")), obj)

    def apply(self, obj, manager="emulator", force=True, subresource=None):
        """Server-side apply ``obj`` in-process (``force`` defaults to true, as controllers do)."""
        meta = obj.get("metadata", {})
        path = self.path_for(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"], subresource)
        path += "?fieldManager=%s&force=%s" % (manager, "true" if force else "false")
        return self.request("PATCH", path, obj, "application/apply-patch+yaml")

    def get(self, api_version, kind, name, namespace=None):
        """Return an object or None when it does not exist."""
        try:
            return self.request("GET", self.path_for(api_version, kind, namespace, name))
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def stored(self, api_version, kind):
        """Copies of the stored objects of a kind, read without a request: for admission code,
        which runs inside a request and must not start another one."""
        with self._lock:
            rtype = self.resource_type(api_version, kind)
            if rtype is None:
                return []
            version = api_version.rpartition("/")[2]
            return [self._present(rtype, version, obj) for obj in self._objects[(rtype.group, rtype.plural)].values()]

    def list(self, api_version, kind, namespace=None, label_selector=None):
        """Return the items of a kind (all namespaces unless ``namespace``)."""
        path = self.path_for(api_version, kind, namespace)
        if label_selector:
            path += "?labelSelector=" + urllib.parse.quote(label_selector)
        items = self.request("GET", path)["items"]
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def delete(self, api_version, kind, name, namespace=None):
        """Delete an object in-process."""
        return self.request("DELETE", self.path_for(api_version, kind, namespace, name))

    def apply_crds(self, documents=None):
        """Create the given CRDs (default: every upstream cert-manager and Istio CRD)."""
        for crd in documents if documents is not None else upstream_crds():
            self.apply(crd, manager="emulator-crds")

    # ----- persistence ----------------------------------------------------------------------------
    def _schedule_save(self):
        if not self.state_dir or self._save_timer is not None and self._save_timer.is_alive():
            return
        self._save_timer = threading.Timer(0.5, self.save_state)
        self._save_timer.daemon = True
        self._save_timer.start()

    def save_state(self):
        """Write every object to ``<state_dir>/state.json``."""
        if not self.state_dir:
            return
        with self._lock:
            snapshot = {
                "resourceVersion": self._rv,
                "tokens": {t: u for t, u in self.tokens.items() if not u.startswith("system:")},
                "objects": [{"group": g, "plural": p, "object": o}
                            for (g, p), store in self._objects.items() for o in store.values()],
            }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(tmp, self.state_dir / "state.json")

    def _load_state(self):
        snapshot = json.loads((self.state_dir / "state.json").read_text(encoding="utf-8"))
        entries = snapshot["objects"]
        for entry in entries:  # CRDs first so their kinds exist
            if entry["plural"] == "customresourcedefinitions":
                self._register_crd(entry["object"])
        for entry in entries:
            obj = entry["object"]
            meta = obj["metadata"]
            key = (meta.get("namespace"), meta["name"])
            self._objects.setdefault((entry["group"], entry["plural"]), {})[key] = obj
            managed = {}
            for field_entry in meta.get("managedFields", []):
                managed[(field_entry["manager"], field_entry["operation"])] = {
                    "apiVersion": field_entry["apiVersion"], "time": field_entry["time"],
                    "fields": kube_ssa.paths_from_fields_v1(field_entry.get("fieldsV1", {}))}
            self._managed[(entry["group"], entry["plural"]) + key] = managed
        self._rv = snapshot["resourceVersion"]
        for token, user in snapshot.get("tokens", {}).items():
            self.tokens.setdefault(token, user)


_OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields",
}


def invalid_options(kind, errors):
    """422 for invalid request options (``PatchOptions`` ...): ``errors`` are (field, reason, message)."""
    parts = ["%s: %s" % (field, message) for field, _reason, message in errors]
    summary = parts[0] if len(parts) == 1 else "[%s]" % ", ".join(parts)
    return ApiError(422, "Invalid", '%s.meta.k8s.io "" is invalid: %s' % (kind, summary),
                    {"group": "meta.k8s.io", "kind": kind,
                     "causes": [{"reason": reason, "message": message, "field": field} for field, reason, message in errors]})


def _without_volatile(obj):
    stripped = copy.deepcopy(obj)
    meta = stripped.get("metadata", {})
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields", []):
        entry.pop("time", None)
    return stripped


class _Handler(http.server.BaseHTTPRequestHandler):
    """Turn HTTP requests into ``KubeAPIEmulator.handle`` calls."""

    emulator = None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; Nagle would add 40 ms each
    server_version = "kube-api-emulator"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if os.environ.get("KUBE_API_EMULATOR_LOG"):
            sys.stderr.write("kube-api-emulator: %s\n" % (format % args))

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        code, extra, payload = self.emulator.handle(self.command, self.path, self.headers, body)
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server naming


def main(argv=None):
    """Run an emulator until SIGTERM/SIGINT (for molecule scenarios and manual use)."""
    parser = argparse.ArgumentParser(prog="python -m tests.emulators.kube_api", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    parser.add_argument("--cluster", default="emulator", help="cluster name in the kubeconfig")
    parser.add_argument("--context", help="context name in the kubeconfig (default: the cluster name)")
    parser.add_argument("--token", help="bearer token to accept (default: a random one)")
    parser.add_argument("--state-dir", help="keep objects in <dir>/state.json across restarts; url and pid go there too")
    parser.add_argument("--plain-http", action="store_true", help="serve HTTP instead of HTTPS")
    parser.add_argument("--no-upstream-crds", action="store_true", help="start without the cert-manager and Istio CRDs")
    parser.add_argument("--upstream-crds", action="append", default=[], metavar="PROJECT",
                        help="also serve the CRDs of this upstream folder (gateway-api, trust-manager; repeatable)")
    parser.add_argument("--no-cert-manager-ca", action="store_true",
                        help="do not run the cert-manager CA issuer, istio-csr trust and trust-manager stand-ins")
    args = parser.parse_args(argv)

    if args.state_dir:  # the url file doubles as the readiness signal: never leave a stale one
        (pathlib.Path(args.state_dir) / "url").unlink(missing_ok=True)
    controllers = []
    if not args.no_cert_manager_ca:
        from tests.emulators.cert_manager_ca import CertManagerCAStandIn  # pylint: disable=import-outside-toplevel
        controllers.append(CertManagerCAStandIn())
        from tests.emulators.trust_manager import TrustManagerStandIn  # pylint: disable=import-outside-toplevel
        controllers.append(TrustManagerStandIn())  # idle until a trust-manager Deployment exists
    tokens = {args.token: "admin"} if args.token else None
    emulator = KubeAPIEmulator(args.host, args.port, tls=not args.plain_http, tokens=tokens,
                               controllers=controllers, state_dir=args.state_dir)
    if not args.no_upstream_crds and emulator.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                                  "certificates.cert-manager.io") is None:
        emulator.apply_crds()
    if args.upstream_crds:
        emulator.apply_crds(upstream_crds(tuple(args.upstream_crds)))
    emulator.start()
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig, cluster=args.cluster, context=args.context)
    if args.state_dir:
        state = pathlib.Path(args.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        (state / "url").write_text(emulator.url + "\n", encoding="utf-8")
        (state / "pid").write_text("%d\n" % os.getpid(), encoding="utf-8")
    print("KUBE_API_URL=%s" % emulator.url, flush=True)
    if args.kubeconfig:
        print("KUBECONFIG=%s" % os.path.abspath(args.kubeconfig), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
