"""istio-csr's trust publishing as the real pod does it, for multi-cluster and root rotation tests.

``CertManagerCAStandIn`` reads istio-csr's ``--root-ca-file`` on the test machine, or else falls
back to the issuer's CA. The real pod reads that file from the Secret the chart mounts
(``volumes``/``volumeMounts`` values, here the Secret ``istio-root-ca`` at
``/var/run/secrets/istio-csr``) and re-reads it when the Secret changes, which is what a root
rotation relies on: the pinned bundle holds old + new root, and istio-csr publishes both into
every namespace's ``istio-ca-root-cert``.

``MountedRootTrustStandIn`` does the same: ``mounts`` maps a folder in the pod to a Secret of
istio-csr's namespace; a ``--root-ca-file`` under a mounted folder is read from that Secret
(key = the file name). Everything else is ``CertManagerCAStandIn``.
"""

import base64
import posixpath

from tests.emulators.cert_manager_ca import CertManagerCAStandIn

DEFAULT_MOUNTS = {"/var/run/secrets/istio-csr": "istio-root-ca"}


class MountedRootTrustStandIn(CertManagerCAStandIn):
    """CertManagerCAStandIn whose istio-csr reads its root file from the mounted Secret."""

    def __init__(self, cluster_resource_namespace="cert-manager", mounts=None):
        super().__init__(cluster_resource_namespace)
        self.mounts = dict(DEFAULT_MOUNTS if mounts is None else mounts)

    def _trust_root(self, emulator, deployment):
        args = []
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            args += container.get("args") or []
        flags = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        root_file = flags.get("root-ca-file")
        if root_file:
            folder, key = posixpath.split(root_file)
            secret_name = self.mounts.get(folder)
            if secret_name:
                secret = emulator.get("v1", "Secret", secret_name, deployment["metadata"]["namespace"])
                value = ((secret or {}).get("data") or {}).get(key)
                # Like the pod: no Secret, no root (istio-csr would not start), nothing published.
                return base64.b64decode(value) if value else None
        return super()._trust_root(emulator, deployment)
