"""istio-csr's trust publishing as the real pod does it, for multi-cluster and root rotation tests.

``CertManagerCAStandIn`` reads istio-csr's ``--root-ca-file`` on the test machine, or else falls
back to the issuer's CA. The real pod reads that file from the volume the chart mounts
(``volumes``/``volumeMounts`` values: the Secret ``istio-root-ca``, or with trust-manager the
Bundle's ConfigMap, at ``/var/run/secrets/istio-csr``) and re-reads it when the volume changes,
which is what a root rotation relies on: the pinned bundle holds old + new root, and istio-csr
publishes both into every namespace's ``istio-ca-root-cert``.

``MountedRootTrustStandIn`` does the same: a ``--root-ca-file`` under a folder the Deployment's
container mounts (``volumeMounts``) is read from the volume's Secret (``secret.secretName``) or
ConfigMap (``configMap.name``) in istio-csr's namespace, key = the file name; a change of that
Secret or ConfigMap republishes the root. A Deployment without volume mounts uses ``mounts``
(a folder in the pod -> a Secret of istio-csr's namespace). Everything else is
``CertManagerCAStandIn``.
"""

import base64
import posixpath

from tests.emulators.cert_manager_ca import CertManagerCAStandIn

ISTIO_CSR = "cert-manager-istio-csr"
DEFAULT_MOUNTS = {"/var/run/secrets/istio-csr": "istio-root-ca"}


class MountedRootTrustStandIn(CertManagerCAStandIn):
    """CertManagerCAStandIn whose istio-csr reads its root file from the mounted Secret or ConfigMap."""

    def __init__(self, cluster_resource_namespace="cert-manager", mounts=None):
        super().__init__(cluster_resource_namespace)
        self.mounts = dict(DEFAULT_MOUNTS if mounts is None else mounts)

    def observe(self, emulator, event_type, obj):
        super().observe(emulator, event_type, obj)
        # The kubelet refreshes a mounted ConfigMap; istio-csr then re-reads its root file.
        if obj.get("apiVersion") == "v1" and obj.get("kind") == "ConfigMap":
            meta = obj["metadata"]
            for deployment in self._istio_csr(emulator):
                if meta.get("namespace") == deployment["metadata"]["namespace"] and \
                        ("ConfigMap", meta["name"]) in self._volumes(deployment).values():
                    self._publish_trust(emulator)
                    return

    @staticmethod
    def _istio_csr(emulator):
        return [d for d in emulator.list("apps/v1", "Deployment") if d["metadata"]["name"] == ISTIO_CSR]

    def _volumes(self, deployment):
        """Mount path -> (kind, name) of the Secret or ConfigMap mounted there."""
        pod = deployment["spec"]["template"]["spec"]
        sources = {}
        for volume in pod.get("volumes") or []:
            if "secret" in volume:
                sources[volume["name"]] = ("Secret", volume["secret"].get("secretName"))
            elif "configMap" in volume:
                sources[volume["name"]] = ("ConfigMap", volume["configMap"].get("name"))
        mounted = {}
        for container in pod.get("containers", []):
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") in sources:
                    mounted[mount["mountPath"].rstrip("/")] = sources[mount["name"]]
        if not mounted:
            mounted = dict((folder, ("Secret", name)) for folder, name in self.mounts.items())
        return mounted

    def _trust_root(self, emulator, deployment):
        args = []
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            args += container.get("args") or []
        flags = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        root_file = flags.get("root-ca-file")
        if root_file:
            folder, key = posixpath.split(root_file)
            source = self._volumes(deployment).get(folder)
            if source:
                kind, name = source
                obj = emulator.get("v1", kind, name, deployment["metadata"]["namespace"])
                value = ((obj or {}).get("data") or {}).get(key)
                # Like the pod: no volume, no root (istio-csr would not start), nothing published.
                if not value:
                    return None
                return base64.b64decode(value) if kind == "Secret" else value.encode()
        return super()._trust_root(emulator, deployment)
