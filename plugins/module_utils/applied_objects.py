# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a component's objects a server-side apply would still change, judged from the live
objects mesh_preflight read before the run changed anything.

On a converged cluster, each component's one ``kubernetes.core.k8s`` call (about half a second
to a second) only confirmed that every object was already applied. Server-side apply of an
object under certmesh's field manager changes nothing when both hold:

1. every field the object sets has that value on the cluster, and
2. the fields that manager owns there (``metadata.managedFields``, as the API server records
   them) are the fields the object sets: a field dropped from the inventory is still owned, and
   the apply would remove it.

``record`` keeps of each live object what these two tests need (the owned fields as paths, the
object without status and server bookkeeping; a Secret's ``data`` only as a SHA-256 digest, so
no key material reaches facts or output). ``pending`` returns the desired objects that fail
either test or are not in the view; the sink applies those and nothing else. Anything it cannot
judge (a kind not observed, ``stringData``, a list item owned by someone else) counts as
pending: the cost of a wrong "pending" is one apply that changes nothing; a wrong "unchanged"
would leave drift on the cluster, so every doubt goes that way.

Paths are tuples of field names. Lists are leaves on both sides (their items are compared by
value), as are fields the server owns as a whole (atomic maps such as label selectors): there
the live value must equal the desired one exactly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.certmesh.istio.plugins.module_utils import kube

MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=certmesh.istio"

# Every kind the roles hand to the sink with the certmesh label (tests check the renders against
# this list). A kind missing here only means its objects are always applied.
MANAGED_KINDS = (
    ("v1", "Namespace"), ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("cert-manager.io/v1", "ClusterIssuer"), ("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate"),
    ("security.istio.io/v1", "PeerAuthentication"), ("security.istio.io/v1", "AuthorizationPolicy"),
    ("networking.istio.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "ReferenceGrant"),
    ("trust.cert-manager.io/v1alpha1", "Bundle"),
    ("monitoring.coreos.com/v1", "PrometheusRule"), ("monitoring.coreos.com/v1", "ServiceMonitor"),
)

# Set by the API server, never by an apply configuration.
_IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))
_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")


def key(api_version, kind, namespace, name):
    """``<apiVersion>/<kind>/<namespace>/<name>``: one object of the view (namespace empty when cluster-scoped)."""
    return "%s/%s/%s/%s" % (api_version, kind, namespace or "", name)


def _object_key(obj):
    meta = obj.get("metadata") or {}
    return key(obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def _digest(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


def comparable(obj):
    """``obj`` as the view compares it: a Secret's ``data`` replaced by its digest."""
    if obj.get("kind") != "Secret" or "data" not in obj:
        return obj
    shown = dict(obj)
    shown["data"] = {"sha256": _digest(obj.get("data") or {})}
    return shown


def owned_paths(fields_v1):
    """The leaf paths of a ``fieldsV1`` tree; an associative or set list (``k:``, ``v:``, ``i:``
    members) is one leaf, like an atomic field. None when the tree is not one."""
    if not isinstance(fields_v1, dict):
        return None
    paths = set()

    def walk(node, prefix):
        members = [name for name in node if name != "."]
        if not members or any(not name.startswith("f:") for name in members):
            if prefix:
                paths.add(prefix)
            return
        for name in members:
            child = node[name]
            if not isinstance(child, dict):
                raise ValueError(name)
            walk(child, prefix + (name[2:],))

    try:
        walk(fields_v1, ())
    except ValueError:
        return None
    return paths


def desired_paths(obj):
    """The leaf paths an apply configuration sets (lists and empty maps are leaves)."""
    paths = set()

    def walk(value, prefix):
        if isinstance(value, dict) and value:
            for name, child in value.items():
                walk(child, prefix + (str(name),))
        elif prefix not in _IDENTITY:
            paths.add(prefix)

    walk(obj, ())
    return paths


def record(live, field_manager):
    """What the view keeps of one live object: its comparable form without status and server
    bookkeeping, and the paths ``field_manager``'s Apply entry owns (None when unreadable)."""
    meta = live.get("metadata") or {}
    owned = set()
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict) and entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            paths = owned_paths(entry.get("fieldsV1"))
            if paths is None:
                owned = None
                break
            owned |= paths
    kept = dict((name, value) for name, value in live.items() if name != "status")
    kept["metadata"] = dict((name, value) for name, value in meta.items() if name not in _SERVER_METADATA)
    return {"object": comparable(kept), "owned": None if owned is None else sorted(list(path) for path in owned)}


def observe(client, field_manager, namespaces=(), label_selector=MANAGED_BY_SELECTOR):
    """``{key: record}`` of every object of MANAGED_KINDS with ``label_selector``, and of the
    Namespaces named in ``namespaces`` (an apply configuration of only a name carries no label).
    A kind the cluster does not serve is left out. Raises kube.KubeError when a read fails."""
    view = {}
    wanted_namespaces = set(namespaces or [])
    for api_version, kind in MANAGED_KINDS:
        selector = None if kind == "Namespace" else label_selector
        for live in kube.list_served_objects(client, kind, api_version, label_selector=selector):
            live = dict(live, apiVersion=live.get("apiVersion") or api_version, kind=live.get("kind") or kind)
            meta = live.get("metadata") or {}
            labelled = _selected(meta.get("labels") or {}, label_selector)
            if kind == "Namespace" and not labelled and meta.get("name") not in wanted_namespaces:
                continue
            view[_object_key(live)] = record(live, field_manager)
    return view


def _selected(labels, selector):
    """Whether ``labels`` match an equality selector (``a=b,c=d``); anything else matches nothing."""
    for term in (selector or "").split(","):
        name, sep, value = term.partition("=")
        if not sep or labels.get(name.strip()) != value.strip():
            return False
    return True


def _at(value, path):
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return False, None
        value = value[name]
    return True, value


def contains(live, desired):
    """Every field of ``desired`` has that value in ``live`` (lists: same length, item by item)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(name in live and contains(live[name], value) for name, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(contains(a, b) for a, b in zip(live, desired))
    return live == desired


def unchanged(desired, records):
    """True only when applying ``desired`` again would change nothing, by its ``records`` entry."""
    if not isinstance(desired, dict) or not isinstance(records, dict):
        return False
    if not isinstance(desired.get("metadata"), dict) or "stringData" in desired:
        return False
    entry = records.get(_object_key(desired))
    if not isinstance(entry, dict) or not isinstance(entry.get("object"), dict) or not isinstance(entry.get("owned"), list):
        return False
    want = comparable(desired)
    live = entry["object"]
    if not contains(live, want):
        return False
    owned = set(tuple(path) for path in entry["owned"])
    paths = desired_paths(desired)  # a Secret's data keys, not its digest
    for path in paths:
        # The owned path at or above this one: above it, the server owns that field whole
        # (an atomic map), and its live value must be exactly the desired one.
        holders = [path[:size] for size in range(len(path), 0, -1) if path[:size] in owned]
        if not holders:
            return False
        if holders[0] != path and _at(live, holders[0]) != _at(want, holders[0]):
            return False
    return all(any(path[:len(held)] == held for path in paths) for held in owned)


def pending(objects, observed):
    """The ``objects`` an apply could still change, by preflight's view ``observed``
    (``observed.objects``); all of them when the view holds no objects."""
    records = observed.get("objects") if isinstance(observed, dict) else None
    if not isinstance(records, dict):
        return list(objects or [])
    return [obj for obj in objects or [] if not unchanged(obj, records)]
