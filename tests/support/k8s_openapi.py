"""Validate Kubernetes objects against a CRD's structural OpenAPI v3 schema, as the API server does.

The API server does not use JSON Schema directly: a CRD's ``openAPIV3Schema`` carries Kubernetes
extensions (``x-kubernetes-int-or-string``, ``x-kubernetes-preserve-unknown-fields``,
``nullable``) and unknown fields are an error under ``fieldValidation=Strict`` (what ``kubectl``
sends by default). This module translates such a schema into a JSON Schema (draft 2020-12) so
that both the render tests and the Kubernetes API emulator reject what a real server rejects.

CEL rules (``x-kubernetes-validations``) are not part of the JSON Schema; ``cel_causes`` evaluates
them separately with ``cel-python`` when it is installed (see its docstring for the limits).
"""

import copy
import functools
import urllib.parse

import jsonschema

try:
    import celpy
    from celpy import celtypes
except ImportError:  # the emulator then documents CEL rules as not evaluated
    celpy = None
    celtypes = None

_DROP_KEYS = (
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "nullable",
)


def structural_to_jsonschema(schema, strict_unknown_fields=True):
    """Return a JSON Schema equivalent of a structural OpenAPI v3 schema."""
    return _convert(copy.deepcopy(schema), strict_unknown_fields, is_root=True)


def _convert(node, strict, is_root=False):
    if not isinstance(node, dict):
        return node
    int_or_string = node.get("x-kubernetes-int-or-string", False)
    preserve_unknown = node.get("x-kubernetes-preserve-unknown-fields", False)
    embedded = node.get("x-kubernetes-embedded-resource", False)
    nullable = node.get("nullable", False)
    out = {k: v for k, v in node.items() if k not in _DROP_KEYS}

    for key in ("properties", "patternProperties"):
        if key in out:
            out[key] = {name: _convert(sub, strict) for name, sub in out[key].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(out["additionalProperties"], strict)
    if isinstance(out.get("items"), dict):
        out["items"] = _convert(out["items"], strict)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [_convert(sub, strict) for sub in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = _convert(out["not"], strict)

    if is_root:
        # apiVersion, kind and metadata are validated by the server itself, not the CRD schema.
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"type": "object"}
        props.setdefault("status", {"type": "object"})

    if int_or_string:
        out.pop("type", None)
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], **{k: v for k, v in out.items() if k != "anyOf"}}
    is_object = out.get("type") == "object" or "properties" in out
    if (
        strict
        and is_object
        and "properties" in out
        and "additionalProperties" not in out
        and not preserve_unknown
        and not embedded
    ):
        out["additionalProperties"] = False
    if nullable and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _path(error):
    parts = []
    for part in error.absolute_path:
        parts.append("[%d]" % part if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts) or "<root>"


class StructuralValidator:
    """Validate objects against one CRD version's schema; ``errors(obj)`` lists every cause."""

    def __init__(self, openapi_v3_schema, strict_unknown_fields=True):
        self.schema = structural_to_jsonschema(openapi_v3_schema, strict_unknown_fields)
        self._validator = jsonschema.Draft202012Validator(self.schema)

    def errors(self, obj):
        """Return a sorted list of ``"<field path>: <message>"`` strings; empty when valid."""
        found = []
        for error in self._validator.iter_errors(obj):
            found.append("%s: %s" % (_path(error), error.message))
        return sorted(found)

    def causes(self, obj):
        """Return the API server's ``details.causes`` for ``obj``: ``reason``, ``message``, ``field``.

        The shape follows what kube-apiserver returns for a custom resource that breaks its
        schema (``field.Required`` → ``FieldValueRequired``, ``field.TypeInvalid`` →
        ``FieldValueTypeInvalid``, ``field.NotSupported`` → ``FieldValueNotSupported``, anything
        else → ``FieldValueInvalid``); the wording of the messages is close, not byte-identical.
        """
        found = []
        for error in self._validator.iter_errors(obj):
            found.extend(_error_causes(error))
        unique = {(c["field"], c["reason"], c["message"]): c for c in found}
        return [unique[key] for key in sorted(unique)]


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"), (type(None), "null"))


def _json_type(value):
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _go_quote(value):
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return '"%s"' % _json_type(value)
    return str(value)


def _error_causes(error):
    path = _path(error)
    field = "" if path == "<root>" else path
    shown = field or "<root>"
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return [
            {"reason": "FieldValueRequired", "message": "Required value",
             "field": "%s.%s" % (field, name) if field else name}
            for name in missing
        ]
    if error.validator == "type":
        wanted = error.validator_value
        wanted = wanted[0] if isinstance(wanted, list) else wanted
        actual = _json_type(error.instance)
        return [{"reason": "FieldValueTypeInvalid", "field": field,
                 "message": 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                            % (actual, shown, wanted, actual)}]
    if error.validator == "enum":
        supported = ", ".join(_go_quote(v) for v in error.validator_value)
        return [{"reason": "FieldValueNotSupported", "field": field,
                 "message": "Unsupported value: %s: supported values: %s" % (_go_quote(error.instance), supported)}]
    if error.validator == "additionalProperties" and error.validator_value is False:
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [{"reason": "FieldValueInvalid", "field": "%s.%s" % (field, name) if field else name,
                 "message": "Invalid value: %s: field not declared in schema" % _go_quote(error.instance[name])}
                for name in extra]
    return [{"reason": "FieldValueInvalid", "field": field,
             "message": "Invalid value: %s: %s in body %s" % (_go_quote(error.instance), shown, error.message)}]


def _walk_unknown(node, value, path, found, prune):
    """Collect (and optionally drop) fields that the structural schema does not declare."""
    if not isinstance(node, dict):
        return
    if isinstance(value, dict):
        props = node.get("properties")
        additional = node.get("additionalProperties")
        keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields", False)
        embedded = node.get("x-kubernetes-embedded-resource", False)
        for key in list(value):
            child_path = "%s.%s" % (path, key) if path else key
            if props is not None and key in props:
                _walk_unknown(props[key], value[key], child_path, found, prune)
            elif isinstance(additional, dict):
                _walk_unknown(additional, value[key], child_path, found, prune)
            elif additional is True or keeps_unknown:
                continue
            elif embedded and key in ("apiVersion", "kind", "metadata"):
                continue
            elif props is not None or node.get("type") == "object":
                found.append(child_path)
                if prune:
                    del value[key]
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _walk_unknown(node["items"], item, "%s[%d]" % (path, index), found, prune)


def unknown_fields(openapi_v3_schema, obj):
    """Return the paths (``spec.dnsName``) of fields in ``obj`` that the schema does not declare.

    ``apiVersion``, ``kind`` and ``metadata`` at the root are the server's business, not the
    schema's, and are never reported.
    """
    found = []
    for key, value in (obj or {}).items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in openapi_v3_schema.get("properties", {}):
            _walk_unknown(openapi_v3_schema["properties"][key], value, key, found, prune=False)
        elif not openapi_v3_schema.get("x-kubernetes-preserve-unknown-fields", False):
            found.append(key)
    return found


def prune_unknown_fields(openapi_v3_schema, obj):
    """Return ``(pruned copy of obj, pruned paths)``, as the API server prunes a custom resource."""
    pruned = copy.deepcopy(obj)
    found = []
    for key in list(pruned or {}):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in openapi_v3_schema.get("properties", {}):
            _walk_unknown(openapi_v3_schema["properties"][key], pruned[key], key, found, prune=True)
        elif not openapi_v3_schema.get("x-kubernetes-preserve-unknown-fields", False):
            found.append(key)
            del pruned[key]
    return pruned, found


def _default_into(node, value):
    if not isinstance(node, dict):
        return
    if isinstance(value, dict):
        for key, sub in (node.get("properties") or {}).items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default_into(sub, value[key])
        if isinstance(node.get("additionalProperties"), dict):
            for item in value.values():
                _default_into(node["additionalProperties"], item)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            _default_into(node["items"], item)


def apply_defaults(openapi_v3_schema, obj):
    """Return a copy of ``obj`` with the schema's ``default`` values filled in where absent.

    Like the API server's structural defaulting, a default applies only inside objects that are
    present; ``metadata`` is left alone.
    """
    defaulted = copy.deepcopy(obj)
    for key, sub in (openapi_v3_schema.get("properties") or {}).items():
        if key == "metadata":
            continue
        if key not in defaulted and isinstance(sub, dict) and "default" in sub:
            defaulted[key] = copy.deepcopy(sub["default"])
        if key in defaulted:
            _default_into(sub, defaulted[key])
    return defaulted


def _cel_url(text):
    parsed = urllib.parse.urlparse(str(text))
    if not (parsed.scheme and parsed.netloc):
        raise ValueError("URL parse error during conversion from string: %s" % text)
    return celtypes.StringType(str(text))


def _cel_is_url(text):
    parsed = urllib.parse.urlparse(str(text))
    return celtypes.BoolType(bool(parsed.scheme and parsed.netloc))


def _cel_substring(text, start, end=None):
    return celtypes.StringType(str(text)[int(start):] if end is None else str(text)[int(start):int(end)])


# The Kubernetes CEL libraries (URLs, extended strings) that the upstream CRDs' rules call.
_CEL_FUNCTIONS = {
    "isURL": _cel_is_url,
    "url": _cel_url,
    "getScheme": lambda u: celtypes.StringType(urllib.parse.urlparse(str(u)).scheme),
    "getHost": lambda u: celtypes.StringType(urllib.parse.urlparse(str(u)).netloc),
    "getHostname": lambda u: celtypes.StringType(urllib.parse.urlparse(str(u)).hostname or ""),
    "getEscapedPath": lambda u: celtypes.StringType(urllib.parse.urlparse(str(u)).path),
    "substring": _cel_substring,
    "lowerAscii": lambda t: celtypes.StringType(str(t).lower()),
    "upperAscii": lambda t: celtypes.StringType(str(t).upper()),
    "trim": lambda t: celtypes.StringType(str(t).strip()),
}


@functools.lru_cache(maxsize=1024)
def _cel_program(rule):
    environment = celpy.Environment()
    return environment.program(environment.compile(rule), functions=_CEL_FUNCTIONS)


def _cel_walk(node, value, path, found):
    if not isinstance(node, dict) or value is None:
        return
    for validation in node.get("x-kubernetes-validations") or []:
        rule = validation.get("rule", "")
        if "oldSelf" in rule:  # transition rules need the stored object; not evaluated
            continue
        try:
            outcome = _cel_program(rule).evaluate({"self": celpy.json_to_cel(value)})
        except Exception:  # pylint: disable=broad-except  # a rule cel-python cannot run is skipped, not failed
            continue
        if isinstance(outcome, Exception) or outcome is not False and outcome != celtypes.BoolType(False):
            continue
        message = validation.get("message") or "failed rule: %s" % rule
        field = path + (validation.get("fieldPath") or "")
        found.append({"reason": validation.get("reason") or "FieldValueInvalid", "field": field,
                      "message": 'Invalid value: "%s": %s' % (_json_type(value), message)})
    if isinstance(value, dict):
        for key, item in value.items():
            child = "%s.%s" % (path, key) if path else key
            if key in (node.get("properties") or {}):
                _cel_walk(node["properties"][key], item, child, found)
            elif isinstance(node.get("additionalProperties"), dict):
                _cel_walk(node["additionalProperties"], item, "%s[%s]" % (path, key), found)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _cel_walk(node["items"], item, "%s[%d]" % (path, index), found)


def cel_available():
    """Return whether CEL rules can be evaluated (``cel-python`` is installed)."""
    return celpy is not None


def cel_causes(openapi_v3_schema, obj):
    """Evaluate the schema's ``x-kubernetes-validations`` rules on ``obj``; return the failed ones as causes.

    Like the API server, a rule applies where its schema node is present in the object, and a
    failed rule gives ``<field>: Invalid value: "<type>": <message>``. Limits: transition rules
    (``oldSelf``) are skipped, ``messageExpression`` is not evaluated, the cost budget is not
    enforced, and a rule that ``cel-python`` cannot run (a Kubernetes CEL library function it
    lacks, a runtime error) is skipped instead of failing the request. Without ``cel-python`` no
    rule is evaluated.
    """
    if celpy is None:
        return []
    found = []
    _cel_walk(openapi_v3_schema, obj or {}, "", found)
    return found
