"""The teardown plan: our Helm releases last-installed first, the CA kept unless asked, holders named."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import teardown


def _info(name, namespace, chart):
    return {"status": {"name": name, "namespace": namespace, "chart": chart}}


INFOS = [_info("cert-manager", "cert-manager", "cert-manager-v1.21.1"),
         _info("cert-manager-istio-csr", "cert-manager", "cert-manager-istio-csr-v0.17.0"),
         _info("istio-base", "istio-system", "base-1.30.3"), _info("istiod", "istio-system", "istiod-1.30.3"),
         _info("istio-ingressgateway", "istio-ingress", "gateway-1.30.3"),
         _info("kiali", "istio-system", "kiali-server-2.1.0"), {"item": {"name": "gone"}}]


def _found(kind, *refs, api_version="v1"):
    return {"item": {"api_version": api_version, "kind": kind},
            "resources": [{"metadata": dict(name=name, **({"namespace": ns} if ns else {}))} for ns, name in refs]}


def test_chart_names_lose_their_version():
    assert teardown.chart_name("cert-manager-v1.21.1") == "cert-manager"
    assert teardown.chart_name("cert-manager-istio-csr-v0.17.0") == "cert-manager-istio-csr"
    assert teardown.chart_name("istiod-1.30.3") == "istiod"


def test_releases_go_in_the_reverse_order_of_site_and_other_charts_stay():
    names = [r["name"] for r in teardown.releases_to_remove(INFOS)]
    assert names == ["istio-ingressgateway", "istiod", "istio-base", "cert-manager-istio-csr", "cert-manager"]


def test_release_records_name_each_release_once():
    secret = {"type": "helm.sh/release.v1", "metadata": {"namespace": "ns", "labels": {"owner": "helm", "name": "a"}}}
    other = {"type": "Opaque", "metadata": {"namespace": "ns", "labels": {"name": "b"}}}
    assert teardown.release_names([secret, dict(secret), other]) == [{"name": "a", "namespace": "ns"}]


def _plan(remove_ca):
    extra = [_found("Secret", ("cert-manager", "istio-ca-key-pair")), _found("ConfigMap", ("default", "istio-ca-root-cert")),
             _found("Namespace", (None, "istio-system")), _found("Namespace", (None, "cert-manager"))]
    return teardown.plan([_found("Gateway", ("istio-system", "mesh-gateway"), api_version="networking.istio.io/v1")],
                         [_found("ClusterIssuer", (None, "istio-ca"), api_version="cert-manager.io/v1")], INFOS,
                         [_found("CustomResourceDefinition", (None, "certificates.cert-manager.io"))], extra,
                         "cert-manager", remove_ca)


def test_the_ca_and_its_namespace_stay_unless_asked():
    kept = _plan(False)
    assert kept["ca_secrets"] == [] and kept["kept_ca_secrets"][0]["name"] == "istio-ca-key-pair"
    assert kept["namespaces"] == ["istio-ingress", "istio-system"]
    assert "keep CA Secret cert-manager/istio-ca-key-pair (teardown_remove_ca: true removes it)" in kept["lines"]
    removed = _plan(True)
    assert removed["ca_secrets"][0]["name"] == "istio-ca-key-pair" and "cert-manager" in removed["namespaces"]
    after_releases = teardown.plan([], [], [], [], [{}, {}, {}, _found("Namespace", (None, "cert-manager"))], "cert-manager", True)
    assert after_releases["namespaces"] == ["cert-manager"]


def test_the_plan_reads_in_the_reverse_order_of_site():
    lines = _plan(False)["lines"]
    assert lines[0] == "remove Gateway istio-system/mesh-gateway"
    assert lines.index("uninstall Helm release istio-system/istiod (chart istiod)") \
        < lines.index("remove ClusterIssuer istio-ca") \
        < lines.index("uninstall Helm release cert-manager/cert-manager (chart cert-manager)") \
        < lines.index("remove CustomResourceDefinition certificates.cert-manager.io") \
        < lines.index("remove Namespace istio-system (and wait until it is gone)")


def test_protected_namespaces_are_never_removed():
    plan = teardown.plan([], [], [_info("x", "default", "istiod-1.30.3")], [], [], "cert-manager", True)
    assert plan["namespaces"] == []


def test_a_held_namespace_is_explained_in_the_controllers_words():
    namespace = {"metadata": {"finalizers": ["example.com/ns"]}, "status": {"conditions": [
        {"type": "NamespaceFinalizersRemaining", "status": "True",
         "message": "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"},
        {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "message": "ignored"}]}}
    assert teardown.namespace_holders(namespace) == ("Some content in the namespace has finalizers remaining: "
                                                     "example.com/hold in 1 resource instances; the namespace's own "
                                                     "finalizers: example.com/ns")
    assert "no finalizer reported" in teardown.namespace_holders({})
