"""The emulator's trust-manager stand-in writes each Bundle into every namespace once trust-manager
runs, and follows the Bundle when a rotation changes its roots (what verify's trust_bundle reads);
istio-csr's stand-in, mounting the Bundle's ConfigMap as its root file, publishes what it carries."""

from tests.emulators.kube_api import KubeAPIEmulator, upstream_crds
from tests.emulators.trust_manager import TrustManagerStandIn
from tests.support.pki_factory import make_root
from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust


def _bundle(*roots):
    return builders.trust_manager_objects(bundle_name="istio-mesh-roots", trusted_root_pems=[r.pem for r in roots],
                                          target_key="ca.pem")[0]


def test_bundles_reach_every_namespace_only_while_trust_manager_runs_and_follow_a_rotation():
    old, new = make_root("old mesh root"), make_root("new mesh root")
    emulator = KubeAPIEmulator(tls=False, controllers=[TrustManagerStandIn()])
    emulator.apply_crds(upstream_crds(("trust-manager",)))
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
    emulator.apply(_bundle(old))
    assert emulator.get("v1", "ConfigMap", "istio-mesh-roots", "default") is None

    emulator.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "trust-manager", "namespace": "cert-manager"},
                    "spec": {"selector": {"matchLabels": {"app": "tm"}}, "template": {
                        "metadata": {"labels": {"app": "tm"}},
                        "spec": {"containers": [{"name": "trust-manager", "image": "tm",
                                                 "args": ["--trust-namespace=cert-manager"]}]}}}})
    emulator.apply(_bundle(old, new))
    for namespace in ("cert-manager", "default"):
        written = emulator.get("v1", "ConfigMap", "istio-mesh-roots", namespace)["data"]["ca.pem"]
        assert mesh_trust.fingerprints(written) == mesh_trust.fingerprints(old.pem) + mesh_trust.fingerprints(new.pem)

    emulator.apply(_bundle(new))
    written = emulator.get("v1", "ConfigMap", "istio-mesh-roots", "default")["data"]["ca.pem"]
    assert mesh_trust.fingerprints(written) == mesh_trust.fingerprints(new.pem)


def test_istio_csr_mounting_the_bundle_publishes_what_the_bundle_carries_through_a_rotation():
    """istio-csr (the mounted-root stand-in) reads its root file from the Bundle's ConfigMap it
    mounts, and republishes istio-ca-root-cert whenever trust-manager rewrites that ConfigMap."""
    from tests.emulators.istio_csr_trust import MountedRootTrustStandIn  # pylint: disable=import-outside-toplevel

    old, new = make_root("old mesh root"), make_root("new mesh root")
    emulator = KubeAPIEmulator(tls=False, controllers=[MountedRootTrustStandIn(), TrustManagerStandIn()])
    emulator.apply_crds(upstream_crds(("trust-manager",)))
    for namespace in ("cert-manager", "apps"):
        emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for name, args, pod in (
            ("trust-manager", ["--trust-namespace=cert-manager"], {}),
            ("cert-manager-istio-csr", ["--root-ca-file=/var/run/secrets/istio-csr/ca.pem"],
             {"volumes": [{"name": "root-ca", "configMap": {"name": "istio-mesh-roots"}}]})):
        container = {"name": name, "image": name, "args": args}
        if pod:
            container["volumeMounts"] = [{"name": "root-ca", "mountPath": "/var/run/secrets/istio-csr", "readOnly": True}]
        emulator.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "cert-manager"},
                        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                            "metadata": {"labels": {"app": name}}, "spec": dict(pod, containers=[container])}}})

    def published(namespace):
        configmap = emulator.get("v1", "ConfigMap", "istio-ca-root-cert", namespace)
        return mesh_trust.fingerprints(configmap["data"]["root-cert.pem"]) if configmap else None

    assert published("apps") is None  # no Bundle yet: the mounted ConfigMap is missing, nothing is published
    for roots in ((old,), (old, new), (new,)):
        emulator.apply(_bundle(*roots))
        expected = [fp for root in roots for fp in mesh_trust.fingerprints(root.pem)]
        assert published("apps") == expected and published("cert-manager") == expected
