"""Patch formats and selectors of the Kubernetes API, as pure functions for the API emulator.

* ``merge_patch``: RFC 7386 JSON merge patch (``application/merge-patch+json``), exact.
* ``json_patch``: RFC 6902 JSON patch (``application/json-patch+json``), exact.
* ``strategic_merge_patch``: an approximation of ``application/strategic-merge-patch+json``.
  Maps merge like a merge patch; lists whose items are maps are merged by the merge key the
  built-in Go types declare for the list field names in ``_MERGE_KEYS`` (``containers``,
  ``env``, ``volumes``, ``ports`` ...); every other list is replaced. The directives
  ``$patch: delete`` / ``$patch: replace`` on maps and list items are honoured,
  ``$retainKeys``, ``$setElementOrder`` and ``$deleteFromPrimitiveList`` are dropped.
* ``parse_label_selector`` / ``label_selector_matches``: the selector grammar of
  ``k8s.io/apimachinery/pkg/labels`` (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``,
  ``!key``).
"""

import copy
import re


class PatchError(ValueError):
    """A patch that cannot be applied; the server answers it with 422 or 400."""


def merge_patch(target, patch):
    """Return ``target`` with an RFC 7386 merge patch applied (``null`` deletes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Merge keys of list fields in the built-in API types (patchMergeKey in k8s.io/api), by field name.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "webhooks": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "finalizers": None,
}


def _merge_key(field, items):
    if field == "ports":
        if any(isinstance(i, dict) and "containerPort" in i for i in items):
            return "containerPort"
        return "port"
    return _MERGE_KEYS.get(field)


def _strip_directives(value):
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and not k.startswith("$setElementOrder/") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge_patch(target, patch, field=None):
    """Return ``target`` with an approximated strategic merge patch applied (see module doc)."""
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "delete":
            return None
        if directive == "replace":
            return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if isinstance(patch, list):
        key = _merge_key(field, patch)
        if key is None or not isinstance(target, list) or not all(isinstance(i, dict) for i in patch):
            return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "delete")]
        result = copy.deepcopy(target)
        for item in patch:
            if item.get("$patch") == "replace":
                return _strip_directives([i for i in patch if i.get("$patch") != "replace"])
            index = next((n for n, cur in enumerate(result) if isinstance(cur, dict) and cur.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    del result[index]
                continue
            if index is None:
                result.append(_strip_directives(item))
            else:
                result[index] = strategic_merge_patch(result[index], item)
        return result
    return copy.deepcopy(patch)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc, parts, op):
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError("%s operation does not apply: doc is missing path: /%s" % (op, "/".join(parts)))
    return node


def _add(doc, parts, value, op):
    if not parts:
        return copy.deepcopy(value)
    parent = _resolve(doc, parts[:-1], op)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchError("%s operation does not apply: index %s out of range" % (op, last))
    else:
        raise PatchError("%s operation does not apply: doc is missing path" % op)
    return doc


def _remove(doc, parts, op):
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], op)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError("%s operation does not apply: doc is missing path: /%s" % (op, "/".join(parts)))


def json_patch(target, operations):
    """Return ``target`` with an RFC 6902 JSON patch applied; raise ``PatchError`` on failure."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError("invalid JSON patch operation %r" % (operation,))
        op = operation["op"]
        parts = _pointer(operation["path"])
        if op == "add":
            doc = _add(doc, parts, operation.get("value"), op)
        elif op == "remove":
            _remove(doc, parts, op)
        elif op == "replace":
            _resolve(doc, parts, op)
            if parts:
                _remove(doc, parts, op)
            doc = _add(doc, parts, operation.get("value"), op)
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from", ""))
            value = copy.deepcopy(_resolve(doc, source, op))
            if op == "move":
                _remove(doc, source, op)
            doc = _add(doc, parts, value, op)
        elif op == "test":
            if _resolve(doc, parts, op) != operation.get("value"):
                raise PatchError("testing value %s failed" % operation["path"])
        else:
            raise PatchError("Unexpected kind: %s" % op)
    return doc


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9._/-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)|\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_selector(text):
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def parse_label_selector(text):
    """Parse a label selector into ``(key, operator, values)`` requirements; ValueError if invalid."""
    requirements = []
    for part in _split_selector(text or ""):
        match = _REQUIREMENT.match(part)
        if not match or (match.group("neg") and (match.group("op") or match.group("setop"))):
            raise ValueError("unable to parse requirement: %r" % part.strip())
        key = match.group("key")
        if match.group("neg"):
            requirements.append((key, "!", ()))
        elif match.group("op"):
            requirements.append((key, "!=" if match.group("op") == "!=" else "=", (match.group("value"),)))
        elif match.group("setop"):
            values = tuple(v.strip() for v in match.group("values").split(",") if v.strip())
            requirements.append((key, match.group("setop"), values))
        else:
            requirements.append((key, "exists", ()))
    return requirements


def label_selector_matches(requirements, labels):
    """Return whether a set of labels satisfies every parsed requirement."""
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        if op == "=" and (not present or labels[key] != values[0]):
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and (not present or labels[key] not in values):
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def parse_field_selector(text, supported):
    """Parse ``metadata.name=x,metadata.namespace!=y`` into ``(field, negate, value)`` triples."""
    parsed = []
    for part in [p for p in (text or "").split(",") if p.strip()]:
        match = re.match(r"^\s*([A-Za-z0-9._]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise ValueError("invalid selector: %r; can't understand %r" % (text, part))
        field, op, value = match.groups()
        if field not in supported:
            raise ValueError('"%s" is not a known field selector: only %s' % (field, ", ".join('"%s"' % s for s in supported)))
        parsed.append((field, op == "!=", value))
    return parsed


def field_value(obj, dotted):
    """Return the value at a dotted path (``metadata.name``) or ``""`` when absent."""
    node = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    return node if isinstance(node, str) else str(node)
