"""A stand-in ``helm`` (Helm 3 command line) for the test tier; ``tests/emulators/bin/helm`` runs it.

Tests put ``tests/emulators/bin`` on ``PATH`` only when no real ``helm`` is there. It talks
to whatever cluster the kubeconfig names (``KUBECONFIG``, ``--kubeconfig``, ``HELM_KUBECONTEXT``
/ ``--kube-context``, ``HELM_KUBETOKEN``, ``HELM_KUBEAPISERVER``, ``HELM_NAMESPACE`` /
``--namespace``), normally a ``KubeAPIEmulator``, through the Kubernetes API.

Commands, with the flags ``kubernetes.core.helm``, ``helm_info`` and ``helm_repository`` use:
``version``, ``plugin list`` (no plugins), ``repo add|list|update|remove``, ``show chart``
(``--version``, ``--repo``), ``dependency update`` (no-op), ``list`` (``--output``,
``--filter``, ``--all``, ``-A``), ``get values`` (``--output``, ``-a``), ``get manifest|notes
|hooks``, ``install`` / ``upgrade [-i]`` (``--version``, ``--repo``, ``-f``/``--values``,
``--set``/``--set-string``/``--set-json``, ``--create-namespace``, ``--wait``, ``--atomic``,
``--timeout``, ``--reset-values``, ``--reuse-values``, ``--skip-crds``,
``--skip-schema-validation``, ``--take-ownership``, ``--history-max``; ``--force``,
``--no-hooks``, ``--post-renderer`` are accepted and ignored) and ``uninstall``
(``--keep-history``, ``--wait``).

Like Helm 3 it:

* knows the charts ``cert-manager``, ``cert-manager-istio-csr`` and ``trust-manager`` (repository
  https://charts.jetstack.io, versions v1.21.1, v0.17.0 and v0.24.0) and ``base``, ``istiod``,
  ``cni``, ``ztunnel``, ``gateway`` (https://istio-release.storage.googleapis.com/charts, 1.30.3), by
  ``repo/chart``, ``--repo URL chart`` or ``oci://.../chart``; any other chart or version fails
  with Helm's "not found" error;
* merges ``-f`` files and ``--set`` values over the chart's default ``values.yaml`` (from
  ``../shared/upstream``) and validates the result against the chart's ``values.schema.json``
  (JSON Schema draft 7), failing with "values don't meet the specifications of the schema(s)";
  of the Istio charts only ``gateway`` has a schema (unknown keys refused); the others accept
  any values, as Helm does for a chart without one;
* stores each revision as a Secret ``sh.helm.release.v1.<release>.v<revision>`` of type
  ``helm.sh/release.v1`` in the release namespace, labelled ``owner=helm``, ``name``,
  ``status``, ``version``; ``data.release`` is base64 of gzip of a JSON release record
  (name, namespace, version, info, chart metadata, config, manifest) - the real record has the
  same fields plus templates;
* refuses to adopt existing objects without its ownership annotations
  (``meta.helm.sh/release-name``/``-namespace``) unless ``--take-ownership``, and keeps objects
  annotated ``helm.sh/resource-policy: keep`` on uninstall (cert-manager's CRDs).

What a chart "renders" is a small, fixed set of objects - the ones later steps wait for:

* cert-manager: with ``crds.enabled`` (or ``installCRDs``) the six upstream CRDs; Deployments
  ``cert-manager``, ``cert-manager-webhook``, ``cert-manager-cainjector`` (ready), Services
  ``cert-manager`` (metrics, labelled ``app.kubernetes.io/component: controller``; only with
  ``prometheus.enabled``, the default) and ``cert-manager-webhook``, their ServiceAccounts and
  the webhook configurations ``cert-manager-webhook``;
* cert-manager-istio-csr: Deployment and Service ``cert-manager-istio-csr`` (port from
  ``service.port``, 443), the metrics Service ``cert-manager-istio-csr-metrics`` (port
  ``metrics``, labelled ``app: cert-manager-istio-csr``; with ``app.metrics.service.enabled``,
  the default), ServiceAccount, and with ``app.tls.istiodCertificateEnable`` the
  Certificate ``istiod`` in ``app.certmanager.namespace``; the Deployment args carry the
  issuer and ``--root-ca-file`` so the CA stand-in publishes ``istio-ca-root-cert``, and its pod
  the ``volumes`` and ``volumeMounts`` values (as the chart adds them), so a stand-in can read
  the root file from the mounted Secret or ConfigMap;
* trust-manager: with ``crds.enabled`` (the default) the upstream Bundle CRD; Deployment,
  Service (webhook) and ServiceAccount ``trust-manager``, the Deployment args carrying
  ``--trust-namespace`` from ``app.trust.namespace``;
* base: the upstream Istio CRDs; istiod: Deployment ``istiod`` (``istiod-<revision>``), its
  Service and ServiceAccount, ConfigMap ``istio`` whose ``mesh`` key is ``meshConfig`` from the
  values (YAML), env from ``pilot.env`` and ``CA_ADDRESS`` from ``global.caAddress``;
  cni: DaemonSet ``istio-cni-node`` and ServiceAccount ``istio-cni``; ztunnel: DaemonSet and
  ServiceAccount ``ztunnel``, env ``CA_ADDRESS`` from ``caAddress`` (default istiod),
  ``CLUSTER_ID`` from ``multiCluster.clusterName``;
  gateway: Deployment, Service and ServiceAccount named after the release (or ``name``).

No templates are rendered, no hooks run, ``--wait`` does not wait (objects are created ready),
``--atomic`` never has to roll back, and ``helm diff``/``template``/``rollback``/``test`` are
not implemented (they fail with a clear error).
"""

import base64
import copy
import datetime
import gzip
import json
import os
import pathlib
import re
import shlex
import sys

import yaml

from tests.emulators import fast_yaml

# jsonschema and the emulator module (for the upstream files) are imported where a chart is
# installed: list/get, called far more often, should start as fast as a Go binary allows.

HELM_VERSION = 'version.BuildInfo{Version:"v3.19.0", GitCommit:"standin", GitTreeState:"clean", GoVersion:"go1.24.0"}'
JETSTACK = "https://charts.jetstack.io"
ISTIO = "https://istio-release.storage.googleapis.com/charts"
CHARTS = {
    "cert-manager": {"repo": JETSTACK, "version": "v1.21.1", "upstream": "cert-manager",
                     "description": "A Helm chart for cert-manager"},
    "cert-manager-istio-csr": {"repo": JETSTACK, "version": "v0.17.0", "upstream": "istio-csr",
                               "description": "istio-csr enables the use of cert-manager for issuing certificates in Istio service meshes"},
    "trust-manager": {"repo": JETSTACK, "version": "v0.24.0", "upstream": "trust-manager",
                      "description": "trust-manager is the easiest way to manage TLS trust bundles in Kubernetes and OpenShift clusters"},
    "base": {"repo": ISTIO, "version": "1.30.3", "upstream": None, "description": "Helm chart for deploying Istio cluster resources and CRDs"},
    "istiod": {"repo": ISTIO, "version": "1.30.3", "upstream": None, "description": "Helm chart for istio control plane"},
    "cni": {"repo": ISTIO, "version": "1.30.3", "upstream": None,
            "description": "Helm chart for istio-cni components"},
    "ztunnel": {"repo": ISTIO, "version": "1.30.3", "upstream": None,
                "description": "Helm chart for istio ztunnel components"},
    # The one Istio chart with a values.schema.json: its values are validated like Helm does.
    "gateway": {"repo": ISTIO, "version": "1.30.3", "upstream": "istio-1.30.3/charts/gateway",
                "description": "Helm chart for deploying Istio gateways"},
}
VALUE_FLAGS = {
    "--version", "--repo", "--timeout", "-f", "--values", "--set", "--set-string", "--set-json", "--set-file",
    "--namespace", "-n", "--kube-context", "--kubeconfig", "--output", "-o", "--filter", "--post-renderer",
    "--history-max", "--max", "--description", "--username", "--password", "--ca-file", "--cert-file", "--key-file",
    "--kube-token", "--kube-apiserver", "--kube-ca-file", "--reuse-values", "--reset-values", "--wait-for-jobs",
}
FLAG_ALIASES = {"-f": "--values", "-n": "--namespace", "-o": "--output", "-a": "--all", "-i": "--install",
                "-A": "--all-namespaces"}


class HelmError(Exception):
    """A failure printed as ``Error: <message>`` with exit code 1, like helm."""


def parse_args(argv):
    """Split helm arguments into positionals and a dict of flags (repeatable ones as lists)."""
    positionals, flags = [], {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("-") and arg != "-":
            name, has_value, value = arg.partition("=")
            name = FLAG_ALIASES.get(name, name)
            if not has_value and (name in VALUE_FLAGS or FLAG_ALIASES.get(name) in VALUE_FLAGS):
                index += 1
                if index >= len(argv):
                    raise HelmError("flag needs an argument: %s" % name)
                value = argv[index]
            elif not has_value:
                value = "true"
            flags.setdefault(name, []).append(value)
        else:
            positionals.append(arg)
        index += 1
    return positionals, flags


def _flag(flags, name, default=None):
    values = flags.get(name)
    return values[-1] if values else default


def _true(flags, name):
    return str(_flag(flags, name, "false")).lower() in ("true", "1")


def deep_merge(base, override):
    """Merge ``override`` into ``base`` the way Helm coalesces values (``null`` deletes)."""
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _typed(text, as_string=False):
    if as_string:
        return text
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def _set_path(values, dotted, value):
    parts = re.split(r"(?<!\\)\.", dotted)
    node = values
    for part in parts[:-1]:
        part = part.replace("\\.", ".")
        node = node.setdefault(part, {})
    node[parts[-1].replace("\\.", ".")] = value


def user_values(flags):
    """Values given on the command line: ``-f`` files, then ``--set*`` in order."""
    values = {}
    for path in flags.get("--values", []):
        try:
            with open(path, encoding="utf-8") as stream:
                loaded = fast_yaml.safe_load(stream) or {}
        except OSError as error:
            raise HelmError("open %s: no such file or directory" % path) from error
        values = deep_merge(values, loaded)
    for flag in ("--set", "--set-string", "--set-json"):
        for assignment in flags.get(flag, []):
            for item in re.split(r",(?=[^,=]+=)", assignment) if flag != "--set-json" else [assignment]:
                key, _sep, raw = item.partition("=")
                value = json.loads(raw) if flag == "--set-json" else _typed(raw, flag == "--set-string")
                _set_path(values, key.strip(), value)
    return values


def _repositories_file():
    configured = os.environ.get("HELM_REPOSITORY_CONFIG")
    if configured:
        return pathlib.Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return pathlib.Path(base) / "helm" / "repositories.yaml"


def _repositories():
    path = _repositories_file()
    if not path.exists():
        return []
    return (fast_yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("repositories") or []


def _save_repositories(repos):
    path = _repositories_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"apiVersion": "", "generated": "0001-01-01T00:00:00Z", "repositories": repos}),
                    encoding="utf-8")


def resolve_chart(chart_ref, flags):
    """Return ``(chart name, chart info)`` for a chart reference, or raise Helm's not-found error."""
    repo_url = _flag(flags, "--repo")
    chart_ref = chart_ref.strip("'\"")
    if chart_ref.startswith("oci://"):
        name = chart_ref.rstrip("/").rsplit("/", 1)[-1]
        location = chart_ref
    elif repo_url:
        name, location = chart_ref, repo_url.rstrip("/")
    elif "/" in chart_ref and not chart_ref.startswith((".", "/")):
        alias, name = chart_ref.split("/", 1)
        repo = next((r for r in _repositories() if r.get("name") == alias), None)
        if repo is None:
            raise HelmError("repo %s not found" % alias)
        location = repo["url"].rstrip("/")
    else:
        raise HelmError("path %r not found (the helm stand-in installs only repository charts)" % chart_ref)
    info = CHARTS.get(name)
    if info is None or (not location.startswith("oci://") and location != info["repo"]):
        raise HelmError('chart "%s" not found in %s repository' % (name, location))
    wanted = _flag(flags, "--version")
    if wanted and wanted.lstrip("v") != info["version"].lstrip("v"):
        raise HelmError('chart "%s" version "%s" not found in %s repository' % (name, wanted, location))
    return name, info


def chart_metadata(name, info):
    """What ``helm show chart`` prints for a known chart."""
    return {"apiVersion": "v2", "appVersion": info["version"], "description": info["description"], "name": name,
            "type": "application", "version": info["version"]}


def upstream_dir():
    """The upstream folder, as the emulator finds it."""
    from tests.emulators.kube_api import upstream_dir as find  # pylint: disable=import-outside-toplevel
    return find()


def upstream_crds(which):
    """The upstream CRDs of the named projects, as the emulator loads them."""
    from tests.emulators.kube_api import upstream_crds as load  # pylint: disable=import-outside-toplevel
    return load(which)


def _chart_file(info, name):
    """A file of the chart's folder in ``../shared/upstream``: ``<project>/chart/`` for the
    jetstack charts, the chart's own folder (``istio-1.30.3/charts/gateway``) for Istio's."""
    folder = upstream_dir() / info["upstream"]
    return (folder if (folder / name).is_file() else folder / "chart") / name


def default_values(info):
    """The chart's ``values.yaml`` from ``../shared/upstream`` (empty for the Istio charts
    without a schema here)."""
    if not info["upstream"]:
        return {}
    with open(_chart_file(info, "values.yaml"), encoding="utf-8") as stream:
        return fast_yaml.safe_load(stream) or {}


def schema_problems(info, values):
    """Helm-style lines for every way ``values`` break the chart's ``values.schema.json``."""
    if not info["upstream"]:
        return []
    schema_file = _chart_file(info, "values.schema.json")
    with open(schema_file, encoding="utf-8") as stream:
        schema = json.load(stream)
    import jsonschema  # pylint: disable=import-outside-toplevel
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path)):
        pointer = "/" + "/".join(str(p) for p in error.absolute_path)
        problems.append("- at '%s': %s" % (pointer, error.message))
    return problems


class ApiException(Exception):
    """A Kubernetes API error answer: ``status`` (HTTP code) and ``body`` (the Status JSON text)."""

    def __init__(self, status, body):
        super().__init__("(%s) %s" % (status, body))
        self.status = status
        self.body = body


class Cluster:
    """The Kubernetes API the stand-in writes to, over plain HTTPS with the kubeconfig's credentials.

    The real helm is a fast Go binary; this one is called a few dozen times per site.yml run, so
    it speaks REST with the standard library (no client import, one discovery request per group
    version it touches) instead of importing the official client.
    """

    def __init__(self, flags):
        config = self._kubeconfig(_flag(flags, "--kubeconfig"))
        context_name = _flag(flags, "--kube-context") or os.environ.get("HELM_KUBECONTEXT") or config.get("current-context")
        try:
            context = self._named(config, "contexts", context_name)["context"]
            cluster = self._named(config, "clusters", context["cluster"])["cluster"]
            user = self._named(config, "users", context["user"])["user"] or {}
        except (KeyError, TypeError, StopIteration) as error:
            raise HelmError("Kubernetes cluster unreachable: context %r is missing or incomplete in the kubeconfig"
                            % context_name) from error
        self.server = (_flag(flags, "--kube-apiserver") or os.environ.get("HELM_KUBEAPISERVER") or cluster["server"]).rstrip("/")
        token = _flag(flags, "--kube-token") or os.environ.get("HELM_KUBETOKEN") or user.get("token")
        if not token and user.get("tokenFile"):
            token = pathlib.Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.context = self._tls_context(flags, cluster, user)
        self._resources = {}

    @staticmethod
    def _kubeconfig(path):
        path = path or (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
        try:
            with open(path, encoding="utf-8") as stream:
                return fast_yaml.safe_load(stream) or {}
        except (OSError, yaml.YAMLError) as error:
            raise HelmError("Kubernetes cluster unreachable: %s" % error) from error

    @staticmethod
    def _named(config, section, name):
        return next(entry for entry in config.get(section) or [] if entry.get("name") == name)

    @staticmethod
    def _tls_context(flags, cluster, user):
        import ssl  # pylint: disable=import-outside-toplevel
        import tempfile  # pylint: disable=import-outside-toplevel
        context = ssl.create_default_context()
        ca_file = _flag(flags, "--kube-ca-file") or os.environ.get("HELM_KUBECAFILE") or cluster.get("certificate-authority")
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        elif cluster.get("certificate-authority-data"):
            context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        if os.environ.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY") == "true" or cluster.get("insecure-skip-tls-verify"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        cert, key = user.get("client-certificate"), user.get("client-key")
        if user.get("client-certificate-data"):
            with tempfile.NamedTemporaryFile("wb", delete=False) as pem:
                pem.write(base64.b64decode(user["client-certificate-data"]) + b"\n" + base64.b64decode(user["client-key-data"]))
            cert, key = pem.name, None
        if cert:
            try:
                context.load_cert_chain(cert, key)
            finally:
                if user.get("client-certificate-data"):
                    os.unlink(cert)
        return context

    def _request(self, method, path, body=None, content_type="application/json", query=None):
        import urllib.error  # pylint: disable=import-outside-toplevel
        import urllib.parse  # pylint: disable=import-outside-toplevel
        import urllib.request  # pylint: disable=import-outside-toplevel
        url = self.server + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers, **({"Content-Type": content_type} if data is not None else {}))
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.context if url.startswith("https") else None, timeout=30) as answer:  # nosec - test tier
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiException(error.code, error.read().decode("utf-8", "replace")) from error
        except (urllib.error.URLError, OSError) as error:
            raise HelmError("Kubernetes cluster unreachable: %s" % getattr(error, "reason", error)) from error

    def resource(self, api_version, kind):
        """Return ``(base path, plural, namespaced)`` of a kind, or raise Helm's "no matches for kind" error."""
        if api_version not in self._resources:
            base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
            try:
                self._resources[api_version] = (base, self._request("GET", base).get("resources") or [])
            except ApiException as error:
                if error.status != 404:
                    raise
                self._resources[api_version] = (base, [])
        base, resources = self._resources[api_version]
        for entry in resources:
            if entry.get("kind") == kind and "/" not in entry["name"]:
                return base, entry["name"], entry.get("namespaced", False)
        raise HelmError('resource mapping not found for kind "%s" in version "%s": ensure CRDs are installed first'
                        % (kind, api_version))

    def _path(self, api_version, kind, namespace=None, name=None):
        base, plural, namespaced = self.resource(api_version, kind)
        path = base + ("/namespaces/%s" % namespace if namespaced and namespace else "") + "/" + plural
        return path + ("/" + name if name else "")

    def get(self, api_version, kind, name, namespace=None):
        """Return the object as a dict, or None."""
        try:
            return self._request("GET", self._path(api_version, kind, namespace, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, api_version, kind, namespace=None, label_selector=None):
        """Return the items of a kind."""
        query = {"labelSelector": label_selector} if label_selector else None
        return self._request("GET", self._path(api_version, kind, namespace), query=query).get("items") or []

    def apply(self, obj):
        """Create or update ``obj`` (server-side apply as field manager ``helm``)."""
        path = self._path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return self._request("PATCH", path, obj, "application/apply-patch+yaml", {"fieldManager": "helm", "force": "true"})

    def create(self, obj):
        """Create ``obj``."""
        return self._request("POST", self._path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace")), obj)

    def delete(self, api_version, kind, name, namespace=None):
        """Delete an object; absent is fine."""
        try:
            self._request("DELETE", self._path(api_version, kind, namespace, name))
        except ApiException as error:
            if error.status != 404:
                raise


def _api_message(error):
    try:
        return json.loads(error.body).get("message", str(error))
    except (TypeError, ValueError, AttributeError):
        return str(error)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _helm_time(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")


# ----- what each chart "renders" ------------------------------------------------------------
def _meta(name, namespace, release, labels=None):
    meta = {"name": name, "labels": dict({"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": release},
                                         **(labels or {}))}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _deployment(name, namespace, release, image, replicas=1, args=None, env=None, ports=None):
    labels = {"app.kubernetes.io/name": name, "app": name}
    container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if args:
        container["args"] = args
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    if ports:
        container["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, namespace, release, labels),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": name, "containers": [container]}}},
    }


def _daemonset(name, namespace, release, image, env=None):
    labels = {"app.kubernetes.io/name": name, "app": name}
    container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(name, namespace, release, labels),
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": name, "containers": [container]}}},
    }


def _service(name, namespace, release, ports, selector_name=None, labels=None):
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace, release, labels),
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": selector_name or name},
                 "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for n, p, t in ports]},
    }


def _service_account(name, namespace, release):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace, release)}


def _crds(project, release, keep):
    docs = []
    for crd in upstream_crds((project,)):
        crd["metadata"].setdefault("labels", {}).update({"app.kubernetes.io/managed-by": "Helm",
                                                         "app.kubernetes.io/instance": release})
        if keep:
            crd["metadata"].setdefault("annotations", {})["helm.sh/resource-policy"] = "keep"
        docs.append(crd)
    return docs


def _image(values, default_repo, version):
    image = values.get("image") or {}
    repo = image.get("repository") or default_repo
    return "%s:%s" % (repo, image.get("tag") or version)


def render(chart, release, namespace, values, info):  # pylint: disable=too-many-locals
    """Return the objects a chart would create (see the module docstring)."""
    version = info["version"]
    objects = []
    if chart == "cert-manager":
        crds = values.get("crds") or {}
        if crds.get("enabled") or values.get("installCRDs"):
            objects += _crds("cert-manager", release, crds.get("keep", True))
        resource_ns = values.get("clusterResourceNamespace") or namespace
        for name, key, default_repo in (("cert-manager", None, "quay.io/jetstack/cert-manager-controller"),
                                        ("cert-manager-webhook", "webhook", "quay.io/jetstack/cert-manager-webhook"),
                                        ("cert-manager-cainjector", "cainjector", "quay.io/jetstack/cert-manager-cainjector")):
            section = values.get(key) or {} if key else values
            if key == "cainjector" and section.get("enabled") is False:
                continue
            args = ["--v=2"]
            if name == "cert-manager":
                args += ["--cluster-resource-namespace=%s" % resource_ns, "--leader-election-namespace=kube-system"]
            objects.append(_service_account(name, namespace, release))
            objects.append(_deployment(name, namespace, release, _image(section, default_repo, version),
                                       section.get("replicaCount", 1), args))
        if (values.get("prometheus") or {}).get("enabled", True):
            # The chart's controller Service exists for metrics only (prometheus.enabled).
            objects.append(_service("cert-manager", namespace, release, [("tcp-prometheus-servicemonitor", 9402, 9402)],
                                    labels={"app": "cert-manager", "app.kubernetes.io/name": "cert-manager",
                                            "app.kubernetes.io/component": "controller"}))
        objects.append(_service("cert-manager-webhook", namespace, release, [("https", 443, "https")]))
        webhook = {"name": "webhook.cert-manager.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                   "clientConfig": {"service": {"name": "cert-manager-webhook", "namespace": namespace, "path": "/validate"}}}
        rules = [{"apiGroups": ["cert-manager.io", "acme.cert-manager.io"], "apiVersions": ["v1"],
                  "operations": ["CREATE", "UPDATE"], "resources": ["*/*"]}]
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            objects.append({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                            "metadata": _meta("cert-manager-webhook", None, release),
                            "webhooks": [dict(webhook, rules=rules)]})
    elif chart == "cert-manager-istio-csr":
        app = values.get("app") or {}
        issuer = (app.get("certmanager") or {}).get("issuer") or {}
        tls = app.get("tls") or {}
        cert_ns = (app.get("certmanager") or {}).get("namespace") or "istio-system"
        args = ["--issuer-name=%s" % issuer.get("name", "istio-ca"), "--issuer-kind=%s" % issuer.get("kind", "Issuer"),
                "--issuer-group=%s" % issuer.get("group", "cert-manager.io"), "--certificate-namespace=%s" % cert_ns,
                "--trust-domain=%s" % tls.get("trustDomain", "cluster.local"),
                "--cluster-id=%s" % ((app.get("server") or {}).get("clusterID") or "Kubernetes")]
        if tls.get("rootCAFile"):
            args.append("--root-ca-file=%s" % tls["rootCAFile"])
        name = "cert-manager-istio-csr"
        service = values.get("service") or {}
        objects.append(_service_account(name, namespace, release))
        deployment = _deployment(name, namespace, release,
                                 _image(values, "quay.io/jetstack/cert-manager-istio-csr", version),
                                 values.get("replicaCount", 1), args, ports=[6443])
        pod = deployment["spec"]["template"]["spec"]
        if values.get("volumes"):
            pod["volumes"] = copy.deepcopy(values["volumes"])
        if values.get("volumeMounts"):
            pod["containers"][0]["volumeMounts"] = copy.deepcopy(values["volumeMounts"])
        objects.append(deployment)
        objects.append(_service(name, namespace, release, [("web", service.get("port", 443), 6443)]))
        metrics = app.get("metrics") or {}
        if (metrics.get("service") or {}).get("enabled", True):
            objects.append(_service(name + "-metrics", namespace, release, [("metrics", metrics.get("port", 9402), metrics.get("port", 9402))],
                                    selector_name=name, labels={"app": name}))
        if tls.get("istiodCertificateEnable", True) not in (False, "false"):
            objects.append({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta("istiod", cert_ns, release),
                "spec": {"commonName": "istiod.%s.svc" % cert_ns,
                         "dnsNames": ["istiod.%s.svc" % cert_ns] + list(tls.get("istiodAdditionalDNSNames") or []),
                         "uris": ["spiffe://%s/ns/%s/sa/istiod-service-account" % (tls.get("trustDomain", "cluster.local"), cert_ns)],
                         "secretName": "istiod-tls", "duration": tls.get("istiodCertificateDuration", "1h"),
                         "renewBefore": tls.get("istiodCertificateRenewBefore", "30m"),
                         "privateKey": {"rotationPolicy": "Always", "algorithm": tls.get("istiodPrivateKeyAlgorithm") or "RSA",
                                        "size": tls.get("istiodPrivateKeySize", 2048)},
                         "issuerRef": {"name": issuer.get("name", "istio-ca"), "kind": issuer.get("kind", "Issuer"),
                                       "group": issuer.get("group", "cert-manager.io")}},
            })
    elif chart == "trust-manager":
        crds = values.get("crds") or {}
        if crds.get("enabled", True):
            objects += _crds("trust-manager", release, crds.get("keep", True))
        name = values.get("nameOverride") or "trust-manager"
        trust_ns = ((values.get("app") or {}).get("trust") or {}).get("namespace") or "cert-manager"
        objects.append(_service_account(name, namespace, release))
        objects.append(_deployment(name, namespace, release, _image(values, "quay.io/jetstack/trust-manager", version),
                                   values.get("replicaCount", 1), ["--trust-namespace=%s" % trust_ns], ports=[6443]))
        objects.append(_service(name, namespace, release, [("webhook", 443, 6443)]))
    elif chart == "base":
        objects += _crds("istio", release, False)
    elif chart == "istiod":
        revision = values.get("revision") or ""
        name = "istiod-%s" % revision if revision else "istiod"
        pilot = values.get("pilot") or {}
        global_values = values.get("global") or {}
        env = dict(pilot.get("env") or {})
        if global_values.get("caAddress"):
            env["CA_ADDRESS"] = global_values["caAddress"]
        objects.append(_service_account("istiod", namespace, release))
        objects.append(_deployment(name, namespace, release, "docker.io/istio/pilot:%s" % version,
                                   pilot.get("replicaCount", 1), ["discovery"], env, [8080, 15010, 15017]))
        objects.append(_service(name, namespace, release, [("grpc-xds", 15010, 15010), ("https-dns", 15012, 15012),
                                                           ("https-webhook", 443, 15017), ("http-monitoring", 15014, 15014)]))
        mesh = dict(values.get("meshConfig") or {})
        if global_values.get("caAddress"):
            mesh.setdefault("defaultConfig", {})["discoveryAddress"] = "%s.%s.svc:15012" % (name, namespace)
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": _meta("istio-%s" % revision if revision else "istio", namespace, release),
                        "data": {"mesh": yaml.safe_dump(mesh, sort_keys=True),
                                 "meshNetworks": yaml.safe_dump({"networks": (global_values.get("meshNetworks") or {})})}})
    elif chart == "cni":
        ambient = values.get("ambient") or {}
        objects.append(_service_account("istio-cni", namespace, release))
        objects.append(_daemonset("istio-cni-node", namespace, release, "docker.io/istio/install-cni:%s" % version,
                                  {"AMBIENT_ENABLED": str(bool(ambient.get("enabled"))).lower()}))
    elif chart == "ztunnel":
        revision = values.get("revision") or ""
        istiod = "istiod-%s" % revision if revision else "istiod"
        istio_ns = values.get("istioNamespace") or "istio-system"
        # The chart's default CA is istiod; caAddress moves it (to istio-csr for this collection).
        env = {"CA_ADDRESS": values.get("caAddress") or "%s.%s.svc:15012" % (istiod, istio_ns),
               "XDS_ADDRESS": values.get("xdsAddress") or "%s.%s.svc:15012" % (istiod, istio_ns),
               "CLUSTER_ID": (values.get("multiCluster") or {}).get("clusterName") or "Kubernetes"}
        objects.append(_service_account("ztunnel", namespace, release))
        objects.append(_daemonset("ztunnel", namespace, release, "docker.io/istio/ztunnel:%s" % version, env))
    elif chart == "gateway":
        name = values.get("name") or release
        objects.append(_service_account(name, namespace, release))
        objects.append(_deployment(name, namespace, release, "auto", values.get("replicaCount", 1), ports=[15021, 8080, 8443]))
        service = values.get("service") or {}
        ports = [(p.get("name", "port-%s" % p.get("port")), p.get("port"), p.get("targetPort", p.get("port")))
                 for p in service.get("ports") or [{"name": "http2", "port": 80, "targetPort": 80},
                                                   {"name": "https", "port": 443, "targetPort": 443}]]
        objects.append(_service(name, namespace, release, ports))
    for obj in objects:
        obj["metadata"].setdefault("annotations", {}).update({"meta.helm.sh/release-name": release,
                                                              "meta.helm.sh/release-namespace": namespace})
    return objects


# ----- releases -------------------------------------------------------------------------------
def _encode_release(record):
    return base64.b64encode(base64.b64encode(gzip.compress(json.dumps(record).encode()))).decode()


def _decode_release(secret):
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def releases(cluster, namespace, name=None):
    """Return release records (newest revision last) from the release Secrets."""
    selector = "owner=helm" + (",name=%s" % name if name else "")
    records = [_decode_release(s) for s in cluster.list("v1", "Secret", namespace, selector)
               if s.get("type") == "helm.sh/release.v1"]
    return sorted(records, key=lambda r: (r["namespace"], r["name"], r["version"]))


def _store_release(cluster, record):
    name = "sh.helm.release.v1.%s.v%d" % (record["name"], record["version"])
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": name, "namespace": record["namespace"],
                     "labels": {"owner": "helm", "name": record["name"], "status": record["info"]["status"],
                                "version": str(record["version"]),
                                "modifiedAt": str(int(_now().timestamp()))}},
        "data": {"release": _encode_release(record)},
    }
    cluster.apply(secret)


def _latest(cluster, namespace, name):
    found = releases(cluster, namespace, name)
    return found[-1] if found else None


def _check_ownership(cluster, obj, release, namespace, take_ownership):
    existing = cluster.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
    if existing is None or take_ownership:
        return
    annotations = existing["metadata"].get("annotations") or {}
    for key, wanted in (("meta.helm.sh/release-name", release), ("meta.helm.sh/release-namespace", namespace)):
        if annotations.get(key) != wanted:
            where = ' in namespace "%s"' % obj["metadata"]["namespace"] if obj["metadata"].get("namespace") else ""
            problem = 'missing key "%s": must be set to "%s"' % (key, wanted) if key not in annotations else \
                'key "%s" must equal "%s": current value is "%s"' % (key, wanted, annotations[key])
            raise HelmError('Unable to continue with install: %s "%s"%s exists and cannot be imported into the current '
                            "release: invalid ownership metadata; annotation validation error: %s"
                            % (obj["kind"], obj["metadata"]["name"], where, problem))


def install_or_upgrade(cluster, release, chart_ref, namespace, flags, upgrade):  # pylint: disable=too-many-locals
    """Install or upgrade a release; return what helm prints."""
    chart, info = resolve_chart(chart_ref, flags)
    verb = "UPGRADE" if upgrade else "INSTALLATION"
    latest = _latest(cluster, namespace, release)
    if latest is not None and latest["info"]["status"] == "uninstalled":
        latest = None
    if latest is not None and not upgrade:
        raise HelmError("INSTALLATION FAILED: cannot re-use a name that is still in use")
    if latest is None and upgrade and not _true(flags, "--install"):
        raise HelmError('UPGRADE FAILED: "%s" has no deployed releases' % release)
    supplied = user_values(flags)
    if latest is not None and (_true(flags, "--reuse-values") or _true(flags, "--reset-then-reuse-values")):
        supplied = deep_merge(latest["config"], supplied)
    values = deep_merge(default_values(info), supplied)
    if not _true(flags, "--skip-schema-validation"):
        problems = schema_problems(info, values)
        if problems:
            stage = verb if latest is not None or not upgrade else "INSTALLATION"
            raise HelmError("%s FAILED: values don't meet the specifications of the schema(s) in the following "
                            "chart(s):\n%s:\n%s" % (stage, chart, "\n".join(problems)))
    if cluster.get("v1", "Namespace", namespace) is None:
        if not _true(flags, "--create-namespace"):
            raise HelmError('%s FAILED: create: failed to create: namespaces "%s" not found' % (verb, namespace))
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    objects = render(chart, release, namespace, values, info)
    if _true(flags, "--skip-crds"):
        objects = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    if latest is None:
        for obj in objects:
            _check_ownership(cluster, obj, release, namespace, _true(flags, "--take-ownership"))
    for obj in sorted(objects, key=lambda o: o["kind"] != "CustomResourceDefinition"):
        try:
            cluster.apply(obj)
        except ApiException as error:
            raise HelmError("%s FAILED: failed to create resource: %s" % (verb, _api_message(error))) from error
    if latest is not None:
        previous = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
        for obj in fast_yaml.safe_load_all(latest.get("manifest") or ""):
            if obj and (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) not in previous:
                cluster.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
        latest["info"]["status"] = "superseded"
        _store_release(cluster, latest)
    revision = (latest or {}).get("version", 0) + 1
    now = _now()
    record = {
        "name": release, "namespace": namespace, "version": revision,
        "info": {"first_deployed": (latest or {}).get("info", {}).get("first_deployed") or now.isoformat(),
                 "last_deployed": now.isoformat(), "deleted": "", "status": "deployed",
                 "description": "Upgrade complete" if latest else "Install complete", "notes": ""},
        "chart": {"metadata": chart_metadata(chart, info), "values": default_values(info)},
        "config": supplied,
        "manifest": yaml.safe_dump_all(objects, sort_keys=False),
    }
    _store_release(cluster, record)
    lines = []
    if upgrade and latest is None:
        lines.append('Release "%s" does not exist. Installing it now.' % release)
    elif upgrade:
        lines.append('Release "%s" has been upgraded. Happy Helming!' % release)
    lines += ["NAME: %s" % release, "LAST DEPLOYED: %s" % now.strftime("%a %b %d %H:%M:%S %Y"), "NAMESPACE: %s" % namespace,
              "STATUS: deployed", "REVISION: %d" % revision, "TEST SUITE: None"]
    return "\n".join(lines)


def uninstall(cluster, release, namespace, flags):
    """Delete a release's objects (except ``helm.sh/resource-policy: keep``) and its history."""
    found = releases(cluster, namespace, release)
    if not found or found[-1]["info"]["status"] == "uninstalled":
        raise HelmError("uninstall: Release not loaded: %s: release: not found" % release)
    latest = found[-1]
    kept = []
    for obj in fast_yaml.safe_load_all(latest.get("manifest") or ""):
        if not obj:
            continue
        if (obj["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep":
            kept.append("%s %s" % (obj["kind"], obj["metadata"]["name"]))
            continue
        cluster.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
    if _true(flags, "--keep-history"):
        latest["info"]["status"] = "uninstalled"
        latest["info"]["deleted"] = _now().isoformat()
        _store_release(cluster, latest)
    else:
        for record in found:
            cluster.delete("v1", "Secret", "sh.helm.release.v1.%s.v%d" % (release, record["version"]), namespace)
    out = ""
    if kept:
        out = "These resources were kept due to the resource policy:\n%s\n\n" % "\n".join("[%s]" % k for k in kept)
    return out + 'release "%s" uninstalled' % release


def _list_entry(record):
    chart = record["chart"]["metadata"]
    updated = datetime.datetime.fromisoformat(record["info"]["last_deployed"])
    return {"name": record["name"], "namespace": record["namespace"], "revision": str(record["version"]),
            "updated": _helm_time(updated), "status": record["info"]["status"],
            "chart": "%s-%s" % (chart["name"], chart["version"]), "app_version": chart.get("appVersion", "")}


def _output(data, flags):
    fmt = _flag(flags, "--output", "table")
    if fmt == "json":
        return json.dumps(data)
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip("\n")
    if isinstance(data, list):
        rows = ["NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION"]
        rows += ["\t".join(str(r[k]) for k in ("name", "namespace", "revision", "updated", "status", "chart", "app_version"))
                 for r in data]
        return "\n".join(rows)
    return yaml.safe_dump(data, sort_keys=False).rstrip("\n")


def run(argv):  # pylint: disable=too-many-return-statements,too-many-branches
    """Run one helm command; return its stdout (raise HelmError on failure)."""
    positionals, flags = parse_args(argv)
    if not positionals:
        raise HelmError("the helm stand-in needs a command")
    command, rest = positionals[0], positionals[1:]
    namespace = _flag(flags, "--namespace") or os.environ.get("HELM_NAMESPACE") or "default"
    if command == "version":
        return HELM_VERSION
    if command == "plugin" and rest[:1] == ["list"]:
        return "NAME\tVERSION\tDESCRIPTION"
    if command == "repo":
        return _repo(rest, flags)
    if command in ("dependency", "dep"):
        return ""
    if command in ("show", "inspect") and rest[:1] == ["chart"] and len(rest) == 2:
        name, info = resolve_chart(rest[1], flags)
        return yaml.safe_dump(chart_metadata(name, info), sort_keys=False).rstrip("\n")
    if command in ("show", "inspect") and rest[:1] == ["values"] and len(rest) == 2:
        info = resolve_chart(rest[1], flags)[1]
        return yaml.safe_dump(default_values(info), sort_keys=False).rstrip("\n")
    cluster = Cluster(flags)
    try:
        return _cluster_command(cluster, command, rest, flags, namespace)
    except ApiException as error:
        raise HelmError(_api_message(error)) from error


def _cluster_command(cluster, command, rest, flags, namespace):
    if command in ("list", "ls"):
        scope = None if _true(flags, "--all-namespaces") else namespace
        latest = {}
        for record in releases(cluster, scope):
            latest[(record["namespace"], record["name"])] = record
        wanted = ("deployed", "failed") if not _true(flags, "--all") else None
        pattern = _flag(flags, "--filter")
        entries = [_list_entry(r) for r in latest.values()
                   if (wanted is None or r["info"]["status"] in wanted)
                   and (not pattern or re.search(pattern, r["name"]))]
        return _output(entries, flags)
    if command == "get" and len(rest) == 2:
        record = _latest(cluster, namespace, rest[1])
        if record is None:
            raise HelmError("release: not found")
        if rest[0] == "values":
            values = deep_merge(record["chart"]["values"], record["config"]) if _true(flags, "--all") else record["config"]
            if not values:
                return "null"
            return _output(values, flags if _flag(flags, "--output") else {"--output": ["yaml"]})
        if rest[0] == "manifest":
            return record.get("manifest", "")
        if rest[0] == "notes":
            return ""
        if rest[0] == "hooks":
            return ""
    if command in ("install", "upgrade") and len(rest) == 2:
        return install_or_upgrade(cluster, rest[0], rest[1], namespace, flags, upgrade=command == "upgrade")
    if command in ("uninstall", "delete", "del", "un") and len(rest) == 1:
        return uninstall(cluster, rest[0], namespace, flags)
    raise HelmError('unknown command "%s" for the helm stand-in (tests/emulators/helm_standin.py)'
                    % " ".join([command] + rest))


def _repo(rest, flags):
    repos = _repositories()
    action = rest[0] if rest else ""
    if action == "add" and len(rest) == 3:
        name, url = rest[1], rest[2].rstrip("/")
        if url not in (JETSTACK, ISTIO):
            raise HelmError('looks like "%s" is not a valid chart repository or cannot be reached (the helm '
                            "stand-in knows %s and %s)" % (url, JETSTACK, ISTIO))
        existing = next((r for r in repos if r["name"] == name), None)
        if existing and existing["url"] != url and not _true(flags, "--force-update"):
            raise HelmError("repository name (%s) already exists, please specify a different name" % name)
        repos = [r for r in repos if r["name"] != name] + [{"name": name, "url": url}]
        _save_repositories(repos)
        return '"%s" has been added to your repositories' % name
    if action == "list":
        if not repos:
            raise HelmError("no repositories to show")
        return _output([{"name": r["name"], "url": r["url"]} for r in repos], flags)
    if action == "update":
        return "Update Complete. \u2388Happy Helming!\u2388"
    if action in ("remove", "rm") and len(rest) >= 2:
        missing = [n for n in rest[1:] if n not in {r["name"] for r in repos}]
        if missing:
            raise HelmError("no repo named %r found" % missing[0])
        _save_repositories([r for r in repos if r["name"] not in rest[1:]])
        return "\n".join('"%s" has been removed from your repositories' % n for n in rest[1:])
    raise HelmError("unknown repo command %r" % " ".join(rest))


def main(argv=None):
    """Entry point: print the output, or ``Error: ...`` on stderr with exit code 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 1 and " " in argv[0]:
        argv = shlex.split(argv[0])
    log = os.environ.get("HELM_STANDIN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(argv) + "\n")
    try:
        out = run(argv)
    except HelmError as error:
        sys.stderr.write("Error: %s\n" % error)
        return 1
    if out:
        sys.stdout.write(out + "\n")
    return 0
