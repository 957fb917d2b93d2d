"""trust-manager's Bundle controller, as much of it as verify reads, for the emulator.

Once the trust-manager chart is installed (a Deployment named ``trust-manager``), every
``trust.cert-manager.io/v1alpha1`` Bundle is written as a ConfigMap of the same name into every
namespace, under ``spec.target.configMap.key``: the ``inLine`` sources concatenated in order,
each ending with a newline. ConfigMap and Secret sources are read from the trust namespace
(``--trust-namespace``, default ``cert-manager``); ``useDefaultCAs`` has no public CA package
here and adds nothing. ``namespaceSelector``, additional formats and Secret targets are not
implemented (the collection uses none of them).
"""

import base64

BUNDLE_API = "trust.cert-manager.io/v1alpha1"
DEPLOYMENT = "trust-manager"
MANAGER = "trust-manager"


class TrustManagerStandIn:
    """Controller stand-in: ``observe`` syncs Bundles to ConfigMaps when trust-manager runs."""

    def observe(self, emulator, event_type, obj):
        """React to one committed change (called by the emulator)."""
        api_version, kind, name = obj.get("apiVersion"), obj.get("kind"), obj["metadata"]["name"]
        if api_version == BUNDLE_API and kind == "Bundle":
            if event_type == "DELETED":
                self._delete_targets(emulator, name)
            else:
                self._sync(emulator, [obj])
        elif (api_version == "apps/v1" and kind == "Deployment" and name == DEPLOYMENT) or (
                api_version == "v1" and kind == "Namespace" and event_type == "ADDED"):
            if emulator.resource_type(BUNDLE_API, "Bundle"):
                self._sync(emulator, emulator.list(BUNDLE_API, "Bundle"))

    @staticmethod
    def _trust_namespace(emulator):
        for deployment in emulator.list("apps/v1", "Deployment"):
            if deployment["metadata"]["name"] != DEPLOYMENT:
                continue
            for container in deployment["spec"]["template"]["spec"].get("containers", []):
                for arg in container.get("args") or []:
                    if arg.startswith("--trust-namespace="):
                        return arg.split("=", 1)[1]
            return "cert-manager"
        return None

    @staticmethod
    def _source_text(emulator, source, trust_namespace):
        if "inLine" in source:
            return source["inLine"]
        for kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
            ref = source.get(field)
            if not ref:
                continue
            obj = emulator.get("v1", kind, ref.get("name"), trust_namespace) or {}
            value = (obj.get("data") or {}).get(ref.get("key"), "")
            return base64.b64decode(value).decode() if kind == "Secret" and value else value
        return ""

    def _sync(self, emulator, bundles):
        trust_namespace = self._trust_namespace(emulator)
        if trust_namespace is None:  # trust-manager not installed: nothing reconciles Bundles
            return
        namespaces = [n["metadata"]["name"] for n in emulator.list("v1", "Namespace")]
        for bundle in bundles:
            spec = bundle.get("spec") or {}
            key = ((spec.get("target") or {}).get("configMap") or {}).get("key")
            if not key:
                continue
            texts = [self._source_text(emulator, s, trust_namespace).strip() for s in spec.get("sources") or []]
            data = "".join(text + "\n" for text in texts if text)
            for namespace in namespaces:
                emulator.apply({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": bundle["metadata"]["name"], "namespace": namespace,
                                 "labels": {"trust.cert-manager.io/bundle": bundle["metadata"]["name"]}},
                    "data": {key: data},
                }, manager=MANAGER)

    @staticmethod
    def _delete_targets(emulator, name):
        for namespace in emulator.list("v1", "Namespace"):
            if emulator.get("v1", "ConfigMap", name, namespace["metadata"]["name"]) is not None:
                emulator.delete("v1", "ConfigMap", name, namespace["metadata"]["name"])
