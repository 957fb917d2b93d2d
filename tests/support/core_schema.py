"""Strict checks of core Kubernetes objects (Namespace, Secret, ConfigMap, ServiceAccount, RBAC...)
against the models of the ``kubernetes`` python client.

The upstream folder holds CRDs and chart schemas but no schema of the built-in kinds. The client's
models are generated from Kubernetes' own OpenAPI document, so their field names and types are the
API server's: this reports what ``kubectl apply --validate=strict`` reports for a built-in kind,
unknown fields and values of the wrong type, in the API server's wording
(``unknown field "spec.foo"``). Value rules beyond types (name grammars, immutability) are the
emulator's job.
"""

import base64
import binascii
import re

import kubernetes.client

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")
_SCALARS = {"str": (str,), "bool": (bool,), "float": (int, float), "object": (object,)}
_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def model_for(api_version, kind):
    """The client's model class of a built-in kind (``apps/v1`` ``Deployment`` -> V1Deployment), or None."""
    version = (api_version or "").rsplit("/", 1)[-1]
    if not version or not kind:
        return None
    model = getattr(kubernetes.client, version[:1].upper() + version[1:] + kind, None)
    attribute_map = getattr(model, "attribute_map", None)
    if not isinstance(attribute_map, dict) or "kind" not in attribute_map:
        return None
    return model


def errors(obj):
    """Every unknown field and wrongly typed value of a built-in object, or a line saying the kind is unknown."""
    if not isinstance(obj, dict):
        return ["not an object"]
    model = model_for(obj.get("apiVersion"), obj.get("kind"))
    if model is None:
        return ['no built-in kind %s in version "%s"' % (obj.get("kind"), obj.get("apiVersion"))]
    found = []
    _walk(obj, model.__name__, "", found)
    return found


def _describe(value):
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _walk(value, type_name, path, found):  # pylint: disable=too-many-return-statements,too-many-branches
    where = path or "<root>"
    list_of, dict_of = _LIST.match(type_name), _DICT.match(type_name)
    if list_of:
        if not isinstance(value, list):
            found.append('%s: expected array, got %s' % (where, _describe(value)))
            return
        for index, item in enumerate(value):
            _walk(item, list_of.group(1), "%s[%d]" % (path, index), found)
        return
    if dict_of:
        if not isinstance(value, dict):
            found.append('%s: expected object, got %s' % (where, _describe(value)))
            return
        for key, item in value.items():
            _walk(item, dict_of.group(1), "%s[%s]" % (path, key), found)
        return
    if type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            found.append('%s: expected integer, got %s' % (where, _describe(value)))
        return
    if type_name == "bytes":  # base64 in JSON, as Secret.data
        try:
            base64.b64decode(value if isinstance(value, str) else None, validate=True)
        except (TypeError, ValueError, binascii.Error):
            found.append('%s: illegal base64 data' % where)
        return
    if type_name == "datetime":
        if not isinstance(value, str):
            found.append('%s: expected string, got %s' % (where, _describe(value)))
        return
    if type_name in _SCALARS:
        if not isinstance(value, _SCALARS[type_name]) or (type_name == "float" and isinstance(value, bool)):
            expected = _JSON_TYPE.get(_SCALARS[type_name][0], type_name)
            found.append('%s: expected %s, got %s' % (where, expected, _describe(value)))
        return
    model = getattr(kubernetes.client, type_name, None)
    if model is None or not hasattr(model, "attribute_map"):
        return  # a type the client leaves open (e.g. IntOrString as "object")
    if not isinstance(value, dict):
        found.append('%s: expected object, got %s' % (where, _describe(value)))
        return
    by_json = {json_name: attribute for attribute, json_name in model.attribute_map.items()}
    for key, item in value.items():
        child = "%s.%s" % (path, key) if path else key
        if key not in by_json:
            found.append('unknown field "%s"' % child)
        elif item is not None:
            _walk(item, model.openapi_types[by_json[key]], child, found)
