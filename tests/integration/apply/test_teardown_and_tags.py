"""One converged cluster (site.yml with monitoring on), then tags, then playbooks/teardown.yml.

The convergence is the session fixture ``converged_cluster`` (tests/integration/apply/conftest.py),
shared with test_server_side_apply.py, which runs first in the same worker and leaves the cluster
converged. Here, in this order: what site.yml left (monitoring included), a tagged run, the
refusals and the check run of teardown (which must change nothing), the teardown that keeps the
CA, a namespace held by a finalizer, and the teardown that removes the CA.
"""

import re

import pytest

from tests.integration.apply.conftest import CONVERGED_GROUP, failure as _failure
from tests.support.playbook import recap, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(CONVERGED_GROUP)]


def _text(result):
    return " ".join(result.stdout.split())


@pytest.fixture(scope="module")
def cluster(converged_cluster):
    return converged_cluster


def test_site_applies_the_alerts_and_service_monitors_through_the_sink(cluster):
    rule = cluster.api.get("monitoring.coreos.com/v1", "PrometheusRule", "certmesh-mesh", "cert-manager")
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert "CertmeshCAIssuerNotReady" in alerts and "CertmeshIstioCsrDown" in alerts
    monitors = {m["metadata"]["name"] for m in cluster.api.list("monitoring.coreos.com/v1", "ServiceMonitor", "cert-manager")}
    assert monitors == {"certmesh-cert-manager", "certmesh-istio-csr"}
    metrics = cluster.api.get("v1", "Service", "cert-manager-istio-csr-metrics", "cert-manager")
    assert metrics["metadata"]["labels"]["app"] == "cert-manager-istio-csr"


def test_list_tags_shows_every_component(cluster):
    result = run_playbook("playbooks/site.yml", "--list-tags", tmp_path=cluster.root, env=cluster.env)
    assert result.returncode == 0, _failure(result)
    tags = {t for line in re.findall(r"TASK TAGS: \[([^\]]*)\]", result.stdout) for t in line.replace(" ", "").split(",")}
    assert {"pki", "cert_manager", "mesh_ca", "istio_csr", "istio", "gateway_certs", "mesh_policy", "verify",
            "mesh_monitoring", "always"} <= tags
    teardown = run_playbook("playbooks/teardown.yml", "--list-tags", tmp_path=cluster.root, env=cluster.env)
    assert "teardown" in teardown.stdout


def test_a_tagged_run_on_a_converged_cluster_runs_preflight_and_istio_csr_only(cluster):
    result = cluster.run("playbooks/site.yml", "--tags", "istio_csr")
    assert result.returncode == 0, _failure(result)
    assert recap(result.stdout)["day2"]["changed"] == 0, _failure(result)
    roles = set(re.findall(r"^TASK \[certmesh\.istio\.(\w+) : (?!Validating arguments)", result.stdout, re.M))
    assert {"preflight", "istio_csr"} <= roles, roles
    assert roles <= {"common", "preflight", "istio_csr", "manifest_sink"}, roles
    # istio-csr reaches the sink, which finds its objects applied as they are and its Helm release
    # unchanged in preflight's view: no apply call, no release record read.
    assert "Render or apply istio_csr for day2" in result.stdout, _failure(result)
    assert "Apply objects of istio_csr to day2" not in result.stdout, _failure(result)
    assert "Read the Helm release records of istio_csr" not in result.stdout, _failure(result)


def test_teardown_without_confirmation_refuses_and_changes_nothing(cluster):
    before = len(cluster.writes())
    result = cluster.run("playbooks/teardown.yml")
    wrong = cluster.run("playbooks/teardown.yml", teardown_confirm="prod")
    assert result.returncode != 0 and wrong.returncode != 0
    assert "Refusing to tear down cluster day2" in _text(result) and "-e teardown_confirm=test" in _text(result)
    assert "(teardown_confirm is 'prod', not the environment's name)" in _text(wrong)
    assert "Find the certmesh objects" not in result.stdout
    assert len(cluster.writes()) == before


def test_teardown_in_check_mode_lists_what_would_go_and_changes_nothing(cluster):
    before = len(cluster.writes())
    result = cluster.run("playbooks/teardown.yml", "--check", teardown_confirm="test")
    assert result.returncode == 0, _failure(result)
    out = result.stdout
    for line in ("remove PrometheusRule cert-manager/certmesh-mesh", "remove PeerAuthentication istio-system/mesh-wide",
                 "remove AuthorizationPolicy default/allow-mesh-workloads",
                 "uninstall Helm release istio-system/istiod (chart istiod)", "remove ClusterIssuer istio-ca",
                 "uninstall Helm release cert-manager/cert-manager (chart cert-manager)",
                 "remove CustomResourceDefinition certificates.cert-manager.io",
                 "remove Namespace istio-system (and wait until it is gone)",
                 "keep CA Secret cert-manager/istio-ca-key-pair"):
        assert line in out, line
    assert out.index("remove PrometheusRule") < out.index("Helm release istio-system/istiod") \
        < out.index("remove ClusterIssuer") < out.index("Helm release cert-manager/cert-manager (chart")
    assert "remove Namespace cert-manager" not in out
    assert len(cluster.writes()) == before


def test_teardown_removes_everything_site_installed_but_the_ca(cluster):
    result = cluster.run("playbooks/teardown.yml", teardown_confirm="test")
    assert result.returncode == 0, _failure(result)
    api = cluster.api
    assert [s for s in api.list("v1", "Secret") if s.get("type") == "helm.sh/release.v1"] == []
    assert api.get("v1", "Namespace", "istio-system") is None
    assert api.list("apps/v1", "Deployment") == []
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):  # Istio's CRDs went with the base chart
        assert api.resource_type("security.istio.io/v1", kind) is None or api.list("security.istio.io/v1", kind) == []
    assert api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "certificates.cert-manager.io") is None
    assert api.list("monitoring.coreos.com/v1", "PrometheusRule") == []
    assert api.list("v1", "ConfigMap") == []
    kept = {s["metadata"]["name"] for s in api.list("v1", "Secret", "cert-manager")}
    assert kept == {"istio-ca-key-pair", "istio-root-ca"}
    assert (cluster.out / "test" / "day2" / "pki" / "intermediate-ca.key").is_file()
    assert (cluster.out / "test" / "mesh-root" / "root-ca.key").is_file()


def test_a_namespace_held_by_a_finalizer_is_named_after_the_timeout(cluster):
    cluster.api.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "held", "namespace": "cert-manager", "finalizers": ["example.com/hold"]}})
    result = cluster.run("playbooks/teardown.yml", teardown_confirm="test", teardown_remove_ca=True,
                         teardown_namespace_timeout=2, teardown_namespace_poll=1)
    assert result.returncode != 0
    assert "Waiting up to 2s" in _text(result)
    assert "namespace(s) still terminating after 2s: cert-manager (" in _text(result), _failure(result)
    assert ("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
            in _text(result)), _failure(result)


def test_teardown_with_remove_ca_removes_the_ca_secrets_and_the_pki_store(cluster):
    held = cluster.api.get("v1", "ConfigMap", "held", "cert-manager")
    if held is not None:  # the hold of the test before (absent when this test runs alone): release it
        held["metadata"]["finalizers"] = []
        cluster.api.request("PUT", cluster.api.path_for("v1", "ConfigMap", "cert-manager", "held"), held)
    result = cluster.run("playbooks/teardown.yml", teardown_confirm="test", teardown_remove_ca=True)
    assert result.returncode == 0, _failure(result)
    assert cluster.api.get("v1", "Namespace", "cert-manager") is None
    assert cluster.api.list("v1", "Secret") == []
    assert not (cluster.out / "test" / "day2" / "pki").exists()
    assert not (cluster.out / "test" / "mesh-root").exists()
