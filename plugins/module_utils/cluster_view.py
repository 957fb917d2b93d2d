# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster already runs, read once before a rollout changes it, so a re-run can skip the
reads and waits whose answer is already known.

On a converged cluster most of a site.yml re-run used to be module calls that only confirmed
what was already true: one ``kubernetes.core.k8s_info`` per wait (cert-manager's webhook, the
CA issuer, istio-csr, istiod, the workload issuer) and one per component to read Helm's release
records, about half a second each. mesh_preflight reads the cluster anyway; with ``observe`` it
also returns this view, in one call:

* ``ready``: for each Deployment of the observed namespaces, each cert-manager ``Issuer`` there
  and every ``ClusterIssuer``, whether its readiness condition (``Available``, ``Ready``) is
  ``True`` for its current generation; for each named Secret, whether it exists. Keys are
  ``<api group>/<kind>/<namespace>/<name>`` (``known_ready`` builds them).
* ``helm_releases``: the newest revision of each Helm release of those namespaces, as
  ``noop.release_summaries`` reduces it (no values, a digest of them).
* ``namespaces``: the namespaces observed, so a caller knows which releases the view covers.
* ``certificates`` and ``certificate_selector``: the cert-manager Certificates of every
  namespace that match a label selector (verify's), as k8s_info lists them.
* ``objects``: what ``applied_objects.observe`` keeps of every certmesh-labelled object (and of
  the observed namespaces), so the sink applies only objects an apply would still change.

The view is only valid until the run changes the cluster: the roles drop it
(``certmesh_cluster_observed``) as soon as any apply reports a change. Nothing in it is secret.
``known_ready`` never raises: anything it cannot read means "not known", and the caller does
its own read or wait as before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import applied_objects, kube, noop

CERT_MANAGER_GROUP = "cert-manager.io"
READY_CONDITIONS = {"Deployment": "Available", "Issuer": "Ready", "ClusterIssuer": "Ready"}


def _group(api_version):
    text = str(api_version or "")
    return text.rsplit("/", 1)[0] if "/" in text else ""


def key(api_version, kind, namespace, name):
    """The view's key of one object: ``<group>/<kind>/<namespace>/<name>`` (empty group and namespace allowed)."""
    return "%s/%s/%s/%s" % (_group(api_version), kind, namespace or "", name)


def condition_true(obj, condition):
    """The object's ``condition`` is ``True`` and describes its current generation (when the
    object and the condition say which generation they saw)."""
    if not isinstance(obj, dict):
        return False
    generation = (obj.get("metadata") or {}).get("generation")
    status = obj.get("status") or {}
    seen = status.get("observedGeneration")
    if generation is not None and seen is not None and seen < generation:
        return False
    for entry in status.get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == condition:
            entry_seen = entry.get("observedGeneration")
            stale = generation is not None and entry_seen is not None and entry_seen < generation
            return entry.get("status") == "True" and not stale
    return False


def observe(client, namespaces, secrets=None, certificate_selector=None, objects=None):
    """The view (see the module docstring) of ``namespaces``, of the ``secrets`` named
    (``{namespace, name}``), of the Certificates matching ``certificate_selector`` (none when
    empty) and, with ``objects`` (``{field_manager, label_selector}``), of the labelled objects.
    Raises kube.KubeError when a read fails."""
    namespaces = sorted(set(str(ns) for ns in namespaces or [] if ns))
    ready, release_secrets = {}, []
    for namespace in namespaces:
        for kind, api_version in (("Deployment", "apps/v1"), ("Issuer", "%s/v1" % CERT_MANAGER_GROUP)):
            for obj in kube.list_served_objects(client, kind, api_version, namespace):
                name = (obj.get("metadata") or {}).get("name")
                ready[key(api_version, kind, namespace, name)] = condition_true(obj, READY_CONDITIONS[kind])
        release_secrets.extend(kube.list_served_objects(client, "Secret", "v1", namespace, label_selector="owner=helm"))
    for obj in kube.list_served_objects(client, "ClusterIssuer", "%s/v1" % CERT_MANAGER_GROUP):
        name = (obj.get("metadata") or {}).get("name")
        ready[key(CERT_MANAGER_GROUP + "/v1", "ClusterIssuer", None, name)] = condition_true(obj, "Ready")
    for secret in secrets or []:
        found = kube.get_object(client, "Secret", "v1", secret["namespace"], secret["name"])
        ready[key("v1", "Secret", secret["namespace"], secret["name"])] = found is not None
    view = {"namespaces": namespaces, "ready": ready, "helm_releases": noop.release_summaries(release_secrets)}
    if certificate_selector:
        view.update(certificate_selector=certificate_selector, certificates=kube.list_served_objects(
            client, "Certificate", "%s/v1" % CERT_MANAGER_GROUP, label_selector=certificate_selector))
    if objects:
        view["objects"] = applied_objects.observe(client, objects["field_manager"], namespaces,
                                                  objects.get("label_selector") or applied_objects.MANAGED_BY_SELECTOR)
    return view


def known_ready(observed, api_version, kind, namespace=None, name=None):
    """True only when ``observed`` (a view, or anything else) says the object is ready (exists, for a Secret)."""
    if not isinstance(observed, dict) or not isinstance(observed.get("ready"), dict):
        return False
    return observed["ready"].get(key(api_version, kind, namespace, name)) is True


def applied_unchanged(desired, objects):
    """True when ``objects`` (as k8s_info lists them) hold ``desired``'s object (same group,
    kind, namespace and name) with every field of ``desired`` equal: applying it again would
    change nothing. Anything unexpected is False."""
    if not isinstance(desired, dict) or not isinstance(desired.get("metadata"), dict):
        return False
    meta = desired["metadata"]
    wanted = key(desired.get("apiVersion"), desired.get("kind"), meta.get("namespace"), meta.get("name"))
    for obj in objects or []:
        if not isinstance(obj, dict):
            continue
        live_meta = obj.get("metadata") or {}
        if key(obj.get("apiVersion") or desired.get("apiVersion"), obj.get("kind"), live_meta.get("namespace"), live_meta.get("name")) == wanted:
            fields = dict((name, value) for name, value in desired.items() if name not in ("apiVersion", "kind"))
            return applied_objects.contains(obj, fields)
    return False


def not_ready(resources, condition="Ready"):
    """The ``resources`` (as k8s_info lists them) whose ``condition`` is not ``True`` for their current generation."""
    return [obj for obj in resources or [] if not condition_true(obj, condition)]


def covers_releases(observed, releases):
    """True when ``observed`` holds the release records of every namespace of ``releases``."""
    if not isinstance(observed, dict) or not isinstance(observed.get("helm_releases"), dict):
        return False
    seen = set(observed.get("namespaces") or [])
    return all(isinstance(release, dict) and release.get("namespace") in seen for release in releases or [])
