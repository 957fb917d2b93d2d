"""Validate Kubernetes objects against a CRD's structural OpenAPI v3 schema, as the API server does.

The API server does not use JSON Schema directly: a CRD's ``openAPIV3Schema`` carries Kubernetes
extensions (``x-kubernetes-int-or-string``, ``x-kubernetes-preserve-unknown-fields``,
``nullable``) and unknown fields are an error under ``fieldValidation=Strict`` (what ``kubectl``
sends by default). This module translates such a schema into a JSON Schema (draft 2020-12) so
that both the render tests and the Kubernetes API emulator reject what a real server rejects.

CEL rules (``x-kubernetes-validations``) are not evaluated here; callers that need them say so.
"""

import copy

import jsonschema

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
