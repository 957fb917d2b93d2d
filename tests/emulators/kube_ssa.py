"""Field ownership for the API emulator's server-side apply, as structured-merge-diff does it.

kube-apiserver tracks, per field manager and operation, the set of fields each one set
(``metadata.managedFields``); server-side apply merges an apply configuration into the live
object by the schema's list types and refuses, with 409 Conflict, to change a field another
manager owns unless forced. This module is that logic as pure functions over plain dicts, so
``kube_api.py`` only wires it into requests.

A field path is a tuple of the keys ``fieldsV1`` uses: ``f:<field>`` for a map field,
``k:{"name":"c"}`` for an item of an associative list (``x-kubernetes-list-type: map``,
its key fields as compact JSON sorted by name), ``v:"x"`` for an item of a set list.
Everything else (atomic lists, ``x-kubernetes-map-type: atomic`` maps, scalars, empty maps)
is a leaf. Which lists are associative comes from the CRD's ``openAPIV3Schema``; for built-in
kinds from the list-map keys the Go types declare (``_BUILTIN_LIST_MAPS``); anything unknown is
atomic, as the real server treats CRD lists without a list type.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

MISSING = object()

# Owned by everyone (stripped by the apiserver before ownership is computed).
IGNORED = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:metadata", "f:name"), ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"), ("f:metadata", "f:creationTimestamp"), ("f:metadata", "f:generation"),
    ("f:metadata", "f:resourceVersion"), ("f:metadata", "f:generateName"), ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:managedFields"), ("f:metadata", "f:deletionTimestamp"),
})

# x-kubernetes-list-map-keys of the built-in types' lists, by field name (k8s.io/api +listMapKey).
_BUILTIN_LIST_MAPS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "webhooks": ("name",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
}
_BUILTIN_SETS = frozenset({"finalizers"})
# Label selectors are +structType=atomic, Service selectors +mapType=atomic.
_BUILTIN_ATOMIC_MAPS = frozenset({"selector"})
# Key fields the server defaults, so an item that omits them still matches its live twin.
_KEY_DEFAULTS = {"protocol": "TCP"}


class Shape:
    """Where a value sits in its kind's schema: the CRD sub-schema (None for built-in kinds)."""

    def __init__(self, schema=None, names=()):
        self.schema = schema
        self.names = names

    def child(self, key):
        """The shape of map field ``key``; ``metadata`` is ObjectMeta even in custom resources."""
        if not self.names and key == "metadata":
            return Shape(None, ("metadata",))
        schema = None
        if isinstance(self.schema, dict):
            properties = self.schema.get("properties") or {}
            if key in properties:
                schema = properties[key]
            elif isinstance(self.schema.get("additionalProperties"), dict):
                schema = self.schema["additionalProperties"]
            else:
                schema = {}
        return Shape(schema, self.names + (key,))

    def item(self):
        """The shape of a list's items."""
        schema = (self.schema or {}).get("items", {}) if isinstance(self.schema, dict) else None
        return Shape(schema, self.names + ("[]",))

    @property
    def _builtin(self):
        return self.schema is None

    def atomic_map(self):
        """True when a map is replaced as a whole (one leaf)."""
        if self._builtin:
            return bool(self.names) and self.names[-1] in _BUILTIN_ATOMIC_MAPS and "metadata" not in self.names
        return self.schema.get("x-kubernetes-map-type") in ("atomic",)

    def granular_map(self):
        """True for ``map[string]X`` maps (not structs): their items are members themselves."""
        if self._builtin:
            return self.names in (("metadata", "labels"), ("metadata", "annotations"))
        return isinstance(self.schema.get("additionalProperties"), dict) and not self.schema.get("properties")

    def list_type(self, items):
        """``("map", keys)``, ``("set", ())`` or ``("atomic", ())`` for a list value."""
        if self._builtin:
            field = self.names[-1] if self.names else ""
            if field == "ports" and items and all(isinstance(i, dict) for i in items):
                first = "containerPort" if any("containerPort" in i for i in items) else "port"
                return "map", (first, "protocol")
            if field in _BUILTIN_LIST_MAPS and all(isinstance(i, dict) for i in items):
                return "map", _BUILTIN_LIST_MAPS[field]
            if field in _BUILTIN_SETS:
                return "set", ()
            return "atomic", ()
        kind = self.schema.get("x-kubernetes-list-type", "atomic")
        if kind == "map" and all(isinstance(i, dict) for i in items):
            return "map", tuple(self.schema.get("x-kubernetes-list-map-keys") or ())
        if kind == "set":
            return "set", ()
        return "atomic", ()


def shape_for(schema):
    """The root shape of an object of a kind with this ``openAPIV3Schema`` (None: built-in)."""
    return Shape(schema if isinstance(schema, dict) else None)


def _key_element(item, keys):
    fields = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in sorted(keys) if k in item or k in _KEY_DEFAULTS}
    return "k:" + json.dumps(fields, separators=(",", ":"), sort_keys=True)


def _value_element(item):
    return "v:" + json.dumps(item, separators=(",", ":"), sort_keys=True)


def field_set(value, shape, path=()):
    """Paths of the members of ``value`` (leaves, list items, granular map items)."""
    members = set()
    if isinstance(value, dict) and value and not shape.atomic_map():
        granular = shape.granular_map()
        for key, sub in value.items():
            child = path + ("f:%s" % key,)
            members |= field_set(sub, shape.child(key), child)
            if granular:
                members.add(child)
        return members
    if isinstance(value, list) and value:
        kind, keys = shape.list_type(value)
        if kind == "map":
            for item in value:
                element = path + (_key_element(item, keys),)
                members.add(element)
                members |= {p for p in field_set(item, shape.item(), element) if p != element}
            return members
        if kind == "set":
            return {path + (_value_element(item),) for item in value}
    if path:
        members.add(path)
    return members


def owned_set(obj, shape, status_subresource, subresource=None):
    """What a write of ``obj`` sets, minus the fields everyone owns (and status/spec by endpoint)."""
    members = field_set(obj, shape) - IGNORED
    if subresource == "status":
        return {p for p in members if p[0] == "f:status"}
    if status_subresource:
        return {p for p in members if p[0] != "f:status"}
    return members


def _find_item(items, element):
    kind, text = element[:1], element[2:]
    for index, item in enumerate(items):
        if kind == "v" and _value_element(item) == element:
            return index
        if kind == "k" and isinstance(item, dict):
            keys = tuple(json.loads(text))
            if _key_element(item, keys) == element:
                return index
    return None


def value_at(obj, path):
    """The value at a field path, or MISSING."""
    node = obj
    for element in path:
        if element.startswith("f:"):
            if not isinstance(node, dict) or element[2:] not in node:
                return MISSING
            node = node[element[2:]]
        else:
            index = _find_item(node, element) if isinstance(node, list) else None
            if index is None:
                return MISSING
            node = node[index]
    return node


def remove_path(obj, path):
    """Remove the member at ``path``; maps emptied by the removal go too."""
    parents = []
    node = obj
    for element in path[:-1]:
        nxt = value_at(node, (element,))
        if nxt is MISSING:
            return
        parents.append((node, element))
        node = nxt
    last = path[-1]
    if isinstance(node, dict) and last.startswith("f:"):
        node.pop(last[2:], None)
    elif isinstance(node, list):
        index = _find_item(node, last)
        if index is not None:
            del node[index]
    for parent, element in reversed(parents):
        child = value_at(parent, (element,))
        if child in ({}, []) and element.startswith("f:"):
            del parent[element[2:]]
        else:
            break


def merge(live, config, shape):
    """Merge an apply configuration into the live object by the schema's list and map types."""
    if isinstance(config, dict) and isinstance(live, dict) and not shape.atomic_map():
        merged = copy.deepcopy(live)
        for key, value in config.items():
            merged[key] = merge(merged.get(key, MISSING), value, shape.child(key))
        return merged
    if isinstance(config, list) and isinstance(live, list) and config:
        kind, keys = shape.list_type(config + live)
        if kind == "map":
            def element(item):
                return _key_element(item, keys)
            live_by_key = {element(i): i for i in live if isinstance(i, dict)}
            applied_keys = {element(i) for i in config}
            merged = [merge(live_by_key.get(element(i), MISSING), i, shape.item()) for i in config]
            return merged + [copy.deepcopy(i) for i in live if not isinstance(i, dict) or element(i) not in applied_keys]
        if kind == "set":
            return copy.deepcopy(config) + [copy.deepcopy(i) for i in live if i not in config]
    return copy.deepcopy(config)


def changed_members(old, new, shape):
    """``(added_or_modified, removed)`` member paths between two versions of an object."""
    old_set, new_set = field_set(old, shape), field_set(new, shape)
    added = new_set - old_set
    prefixes = {p[:i] for p in new_set for i in range(1, len(p))}
    modified = {p for p in new_set & old_set if p not in prefixes and value_at(old, p) != value_at(new, p)}
    # A label or annotation map that appears is a member too (what the server's compare records).
    for name in ("f:labels", "f:annotations"):
        path = ("f:metadata", name)
        if value_at(old, path) is MISSING and value_at(new, path) not in (MISSING, {}):
            added.add(path)
    return added | modified, old_set - new_set


def path_string(path):
    """A field path as the server prints it: ``.spec.containers[name="c"].image``."""
    text = ""
    for element in path:
        if element.startswith("f:"):
            text += "." + element[2:]
        elif element.startswith("k:"):
            fields = json.loads(element[2:])
            text += "[%s]" % ",".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(fields.items()))
        else:
            text += "[=%s]" % json.dumps(json.loads(element[2:]))
    return text


def fields_v1(paths):
    """Render member paths as a ``fieldsV1`` tree (``"."`` marks a member with members below)."""
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    for path in paths:
        node = tree
        for element in path:
            node = node[element]
        if node:
            node["."] = {}
    return tree


def paths_from_fields_v1(tree, prefix=()):
    """The member paths a ``fieldsV1`` tree describes (the inverse of ``fields_v1``)."""
    paths = set()
    if prefix and (not tree or "." in tree):
        paths.add(prefix)
    for key, sub in (tree or {}).items():
        if key != ".":
            paths |= paths_from_fields_v1(sub, prefix + (key,))
    return paths


def manager_label(manager, operation, api_version):
    """How conflict messages name a manager: appliers by name, updaters with their apiVersion."""
    if operation == "Apply":
        return '"%s"' % manager
    return '"%s" using %s' % (manager, api_version)


def conflict_message(conflicts):
    """The 409 message for ``[(label, path)]`` sorted by manager, in kube-apiserver's wording."""
    if len(conflicts) == 1:
        label, path = conflicts[0]
        return "Apply failed with 1 conflict: conflict with %s: %s" % (label, path_string(path))
    lines = []
    for label in sorted({c[0] for c in conflicts}):
        lines.append("conflicts with %s:" % label)
        lines.extend("- %s" % path_string(p) for lab, p in conflicts if lab == label)
    return "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))
