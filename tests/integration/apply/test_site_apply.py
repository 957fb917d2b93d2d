"""playbooks/site.yml in apply mode against the Kubernetes API emulator and the helm stand-in."""

import json
import re

import pytest
import yaml

from tests.support.playbook import APPLY_TEST_CA, playbook_env, recap, run_playbook
from tests.support.secrets import leaked_key_material

pytestmark = pytest.mark.slow


def _inventory(tmp_path, clusters, host_vars=None):
    hosts = {}
    for cluster in clusters:
        hosts[cluster.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "certmesh_kubeconfig": cluster.kubeconfig,
            "certmesh_kube_context": cluster.context,
        }
        hosts[cluster.name].update((host_vars or {}).get(cluster.name, {}))
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"mesh": {"hosts": hosts}, "all": {"vars": dict(APPLY_TEST_CA, certmesh_environment="test")}}))
    return path


@pytest.fixture
def apply_run(tmp_path, kube_emulator_factory, helm_standin):
    """Run site.yml against emulated clusters: ``run(clusters, *args, extra_vars)``."""

    def run(clusters, *args, extra_vars=None, host_vars=None):
        env = playbook_env(tmp_path, **helm_standin.env)
        env.pop("KUBECONFIG", None)
        merged = {"certmesh_output_dir": str(tmp_path / "out")}
        merged.update(extra_vars or {})
        return run_playbook("playbooks/site.yml", "-i", str(_inventory(tmp_path, clusters, host_vars)), *args,
                            extra_vars=merged, tmp_path=tmp_path, env=env)

    return run


def _failure(result):
    return result.stdout[-6000:] + result.stderr[-3000:]


def _task_outcome(stdout, task):
    """``ok``, ``changed`` or ``skipping``: how the first task whose name starts with ``task`` ended."""
    section = stdout.split(task, 1)[1].split("TASK [", 1)[0] if task in stdout else ""
    found = re.search(r"^(ok|changed|skipping|fatal): \[", section, re.M)
    return found.group(1) if found else None


def test_site_converges_idempotently_and_checks_with_diff(kube_emulator_factory, apply_run, tmp_path, helm_standin):
    cluster = kube_emulator_factory("east", crds=False)
    first = apply_run([cluster], "-vvv")
    assert first.returncode == 0, _failure(first)
    assert recap(first.stdout)["east"]["changed"] > 0
    assert "ESTABLISH LOCAL CONNECTION" in first.stdout
    assert "PRIVATE KEY-----" not in first.stdout + first.stderr
    assert leaked_key_material(first.stdout + first.stderr, tmp_path / "out") == []

    api = cluster.emulator
    issuer = api.get("cert-manager.io/v1", "ClusterIssuer", "istio-ca")
    assert issuer["spec"]["ca"]["secretName"] == "istio-ca-key-pair"
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in issuer["status"]["conditions"])
    assert api.get("v1", "Secret", "istio-ca-key-pair", "cert-manager")["type"] == "kubernetes.io/tls"
    certificate = api.get("cert-manager.io/v1", "Certificate", "app", "istio-system")
    assert certificate["spec"]["renewBefore"] == "720h" and certificate["spec"]["privateKey"]["rotationPolicy"] == "Always"
    assert api.get("v1", "Secret", "app-tls", "istio-system")["type"] == "kubernetes.io/tls"
    assert api.get("security.istio.io/v1", "PeerAuthentication", "mesh-wide", "istio-system")["spec"]["mtls"]["mode"] == "STRICT"
    assert api.get("networking.istio.io/v1", "Gateway", "mesh-gateway", "istio-system")["spec"]["servers"][0]["tls"]["credentialName"] == "app-tls"

    helm_calls = len(helm_standin.calls())
    second = apply_run([cluster])
    assert second.returncode == 0, _failure(second)
    assert recap(second.stdout)["east"]["changed"] == 0, _failure(second)
    # Unchanged releases are skipped before helm (Helm's release Secrets say so): not one helm process.
    assert helm_standin.calls()[helm_calls:] == [] or not helm_standin.is_standin, helm_standin.calls()[helm_calls:]
    # What preflight's view already answers is not asked again: no wait, no release record read.
    assert _task_outcome(second.stdout, "Wait for istio-csr to be available") == "skipping", _failure(second)
    assert _task_outcome(second.stdout, "Wait for the CA issuer to be Ready") == "skipping", _failure(second)
    assert "Read the Helm release records" not in second.stdout, _failure(second)
    # Nor any object the view shows applied as it is: no kubernetes.core apply call at all.
    assert "Apply objects of" not in second.stdout and "Apply key-bearing Secrets" not in second.stdout, _failure(second)

    # A change during the run (the pinned root Secret deleted by hand, put back by mesh_ca) drops
    # the view: every later wait and read runs again.
    api.delete("v1", "Secret", "istio-root-ca", "cert-manager")
    healed = apply_run([cluster])
    assert healed.returncode == 0, _failure(healed)
    assert recap(healed.stdout)["east"]["changed"] >= 1, _failure(healed)
    assert _task_outcome(healed.stdout, "Wait for istio-csr to be available") == "ok", _failure(healed)
    assert "Read the Helm release records of istio_csr" in healed.stdout, _failure(healed)
    assert api.get("v1", "Secret", "istio-root-ca", "cert-manager") is not None

    # A value another manager changed by hand shows in preflight's view: that object is applied back.
    policy = ("security.istio.io/v1", "PeerAuthentication", "mesh-wide", "istio-system")
    api.request("PATCH", api.path_for(policy[0], policy[1], policy[3], policy[2]) + "?fieldManager=kubectl-edit",
                {"spec": {"mtls": {"mode": "PERMISSIVE"}}}, "application/merge-patch+json")
    drifted = apply_run([cluster], "--tags", "mesh_policy")
    assert drifted.returncode == 0, _failure(drifted)
    assert recap(drifted.stdout)["east"]["changed"] == 1, _failure(drifted)
    assert _task_outcome(drifted.stdout, "Apply objects of mesh_policy") == "changed", _failure(drifted)
    assert api.get(*policy)["spec"]["mtls"]["mode"] == "STRICT"

    before = api.get("cert-manager.io/v1", "Certificate", "app", "istio-system")["metadata"]["resourceVersion"]
    check = apply_run([cluster], "--check", "--diff", extra_vars={"gateway_certs_renew_before": "360h"})
    assert check.returncode == 0, _failure(check)
    assert recap(check.stdout)["east"]["changed"] >= 1
    assert '-    renewBefore: 720h' in check.stdout or '"renewBefore": "720h"' in check.stdout or "720h" in check.stdout
    assert "360h" in check.stdout
    after = api.get("cert-manager.io/v1", "Certificate", "app", "istio-system")
    assert after["metadata"]["resourceVersion"] == before and after["spec"]["renewBefore"] == "720h"


def _nothing_installed(cluster):
    return cluster.emulator.list("v1", "Secret", "cert-manager") == [] if cluster.emulator.get("v1", "Namespace", "cert-manager") else True


def test_clusters_refused_by_preflight_are_each_named_and_nothing_is_installed(kube_emulator_factory, apply_run, tmp_path):
    """Five clusters in one wave, each refused by preflight for its own reason in the same run
    (one ansible-playbook run instead of five): unreachable, wrong context, missing kubeconfig,
    an ACME issuer for mesh certificates, Istio with its own CA."""
    gone = kube_emulator_factory("gone", crds=False)
    gone.emulator.stop()
    west = kube_emulator_factory("west", crds=False)
    west.context = "no-such-context"
    lost = kube_emulator_factory("lost", crds=False)
    lost.kubeconfig = str(tmp_path / "no-such-kubeconfig.yaml")
    acme = kube_emulator_factory("acme", crds=True)
    acme.emulator.create({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "letsencrypt"},
                          "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory",
                                            "privateKeySecretRef": {"name": "letsencrypt-account"},
                                            "solvers": [{"http01": {"ingress": {"ingressClassName": "istio"}}}]}}})
    legacy = kube_emulator_factory("legacy", crds=False)
    api = legacy.emulator
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    api.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istiod", "namespace": "istio-system"},
                "spec": {"selector": {"matchLabels": {"app": "istiod"}},
                         "template": {"metadata": {"labels": {"app": "istiod"}},
                                      "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.30.3"}]}}}})

    result = apply_run([gone, west, lost, acme, legacy], extra_vars={"certmesh_rollout_waves": ["100%"]},
                       host_vars={"acme": {"istio_csr_issuer": {"name": "letsencrypt", "kind": "ClusterIssuer",
                                                                "group": "cert-manager.io"}}})
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "Install or upgrade Helm releases" not in result.stdout, _failure(result)
    # Unreachable API server.
    assert "cannot read the Kubernetes API of cluster gone" in result.stdout, _failure(result)
    # Wrong context.
    assert "cluster west" in text and "no-such-context" in text, _failure(result)
    # A missing kubeconfig: a path is not a secret (kubernetes.core's no_log on the option printed it as ********).
    assert not re.search(r"(?<!\*)\*{8}(?!\*)", result.stdout + result.stderr), _failure(result)
    assert "kubeconfig %s" % lost.kubeconfig in text and "cluster lost" in text, _failure(result)
    # An ACME issuer for mesh certificates.
    assert "cluster acme: preflight found" in result.stdout and "[acme_issuer]" in result.stdout, _failure(result)
    assert _nothing_installed(acme)
    # Istio with its own CA, and the way to migrate.
    assert "[istio_has_own_ca]" in result.stdout and "Deployment istio-system/istiod" in result.stdout, _failure(result)
    assert "migrate-to-istio-csr" in result.stdout
    assert _nothing_installed(legacy)
    report = json.loads((tmp_path / "out" / "test" / "reports" / "rollout.json").read_text())
    assert report["done"] == [], report


def test_forbidden_issuer_names_the_cluster_and_the_object_once_and_the_task_that_failed(
        kube_emulator_factory, apply_run, tmp_path):
    cluster = kube_emulator_factory("locked", crds=False)
    for verb in ("create", "patch", "update"):
        cluster.emulator.deny(verb=verb, resource="clusterissuers")
    result = apply_run([cluster])
    assert result.returncode != 0
    assert "cluster locked" in result.stdout and "ClusterIssuer istio-ca" in result.stdout, _failure(result)
    assert "forbidden" in result.stdout
    assert "Hand istio-csr to the sink" not in result.stdout
    # One task reports the API's refusal (not the apply task, then each rescue level again).
    text = " ".join(result.stdout.split())
    tasks = [section for section in result.stdout.split("TASK [") if "cannot patch resource" in section]
    assert [section.split("]")[0] for section in tasks] == [
        "certmesh.istio.manifest_sink : Name the cluster and object that could not be applied"], _failure(result)
    assert "kubeconfig %s, context %s" % (cluster.kubeconfig, cluster.context) in text, _failure(result)
    assert 'Rollout stopped at cluster locked: task "Apply objects of mesh_ca to locked" failed' in text
    report = json.loads((tmp_path / "out" / "test" / "reports" / "rollout.json").read_text())
    assert report["failed_task"] == "Apply objects of mesh_ca to locked", report
    assert "ClusterIssuer istio-ca" in report["failed_message"]


def test_an_invalid_object_is_rejected_and_named(kube_emulator_factory, apply_run):
    """Refused by the CRD schema (422), then by cert-manager's webhook (403): both name cluster and object."""
    cluster = kube_emulator_factory("strict", crds=False)
    result = apply_run([cluster], extra_vars={"gateway_certs_hosts": [{"name": "app", "dns_names": "app.example.com"}]})
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "cluster strict" in text and "could not apply Certificate istio-system/app" in text, _failure(result)
    assert "spec.dnsNames" in text and "Invalid" in text, _failure(result)

    result = apply_run([cluster], extra_vars={"gateway_certs_issuer": {"name": "istio-ca", "kind": "Vault"}})
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "could not apply Certificate istio-system/app" in text, _failure(result)
    assert "webhook.cert-manager.io" in text and "denied the request: spec.issuerRef.kind: Invalid value" in text, _failure(result)
