"""The real kubernetes.core modules, run by ansible-playbook, against the Kubernetes API emulator and helm stand-in.

Each test writes a small playbook, runs it in a subprocess exactly as a user would (kubeconfig
and context from the fixture, the venv's python as interpreter) and reads the per-task results
from the ``ansible.posix.json`` callback.
"""

import json
import sys

import pytest
import yaml

from tests.support.playbook import playbook_env, run_playbook

pytestmark = pytest.mark.slow

CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
    "metadata": {"name": "gw", "namespace": "mesh"},
    "spec": {"secretName": "gw-tls", "dnsNames": ["gw.example.com"],
             "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer"}},
}


def _play(cluster, tasks, **play_vars):
    auth = {"kubeconfig": cluster.kubeconfig, "context": cluster.context}
    return [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": dict({"ansible_python_interpreter": sys.executable, "auth": auth}, **play_vars),
        "module_defaults": {"group/kubernetes.core.k8s": {"kubeconfig": cluster.kubeconfig, "context": cluster.context}},
        "tasks": tasks,
    }]


def _run(tmp_path, cluster, tasks, *args, extra_env=None, name="play"):
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text(yaml.safe_dump(_play(cluster, tasks), sort_keys=False), encoding="utf-8")
    env = playbook_env(tmp_path, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                       **cluster.env)
    env.update(extra_env or {})
    completed = run_playbook(str(playbook), "-i", "localhost,", *args, tmp_path=tmp_path, env=env, timeout=300)
    try:
        output = json.loads(completed.stdout[completed.stdout.index("{"):])
    except ValueError as error:
        raise AssertionError("ansible-playbook printed no JSON:\n%s\n%s" % (completed.stdout, completed.stderr)) from error
    results = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            results[task["task"]["name"]] = task["hosts"]["localhost"]
    return completed, results


def _k8s(name, definition, **options):
    return {"name": name, "kubernetes.core.k8s": dict({"definition": definition}, **options)}


def _mesh_objects():
    return [
        _k8s("namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mesh"}}),
        _k8s("secret", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": "mesh"},
                        "stringData": {"token": "s3cret"}}),
        _k8s("configmap", {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "mesh", "namespace": "mesh", "labels": {"app": "mesh"}},
                           "data": {"trustDomain": "cluster.local"}}),
        _k8s("certificate", CERTIFICATE),
    ]


def test_k8s_state_present_twice_is_changed_then_ok(tmp_path, kube_emulator):
    first, results = _run(tmp_path, kube_emulator, _mesh_objects())
    assert first.returncode == 0, first.stdout
    assert all(results[t]["changed"] for t in ("namespace", "secret", "configmap", "certificate")), results
    second, results = _run(tmp_path, kube_emulator, _mesh_objects())
    assert second.returncode == 0, second.stdout
    assert not any(r["changed"] for r in results.values()), {k: r.get("diff") for k, r in results.items()}


@pytest.mark.parametrize("options", [{"apply": True}, {"apply": True, "server_side_apply": {"field_manager": "certmesh"}}],
                         ids=["client-side-apply", "server-side-apply"])
def test_k8s_apply_is_idempotent(tmp_path, kube_emulator, options):
    tasks = [_k8s("namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mesh"}}, **options),
             _k8s("certificate", CERTIFICATE, **options)]
    first, results = _run(tmp_path, kube_emulator, tasks)
    assert first.returncode == 0, first.stdout
    assert results["certificate"]["changed"]
    second, results = _run(tmp_path, kube_emulator, tasks)
    assert second.returncode == 0, second.stdout
    assert not results["certificate"]["changed"], results["certificate"]
    owners = kube_emulator.emulator.get("cert-manager.io/v1", "Certificate", "gw", "mesh")["metadata"]["managedFields"]
    if "server_side_apply" in options:
        assert ("certmesh", "Apply") in {(o["manager"], o["operation"]) for o in owners}


def test_check_mode_with_diff_reports_the_change_and_writes_nothing(tmp_path, kube_emulator):
    completed, results = _run(tmp_path, kube_emulator, _mesh_objects()[:1] + [
        _k8s("configmap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planned", "namespace": "default"},
                           "data": {"a": "1"}})], "--check", "--diff")
    assert completed.returncode == 0, completed.stdout
    assert results["configmap"]["changed"], results["configmap"]
    assert results["configmap"]["result"]["data"] == {"a": "1"}, results["configmap"]
    assert kube_emulator.emulator.get("v1", "ConfigMap", "planned", "default") is None
    assert any(query.get("dryRun") == "All" for method, _path, query in kube_emulator.emulator.requests if method == "POST")


def test_k8s_info_waits_for_the_certificate_to_be_ready(tmp_path, kube_emulator):
    issuers = [
        _k8s("cert-manager namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}}),
        _k8s("bootstrap issuer", {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                                  "metadata": {"name": "bootstrap"}, "spec": {"selfSigned": {}}}),
        _k8s("root", {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                      "metadata": {"name": "mesh-root", "namespace": "cert-manager"},
                      "spec": {"isCA": True, "commonName": "mesh-root", "secretName": "mesh-root",
                               "issuerRef": {"name": "bootstrap", "kind": "ClusterIssuer"}}}),
        _k8s("ca issuer", {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "mesh-ca"},
                           "spec": {"ca": {"secretName": "mesh-root"}}}),
    ]
    wait = {"name": "wait", "kubernetes.core.k8s_info": {
        "api_version": "cert-manager.io/v1", "kind": "Certificate", "name": "gw", "namespace": "mesh",
        "wait": True, "wait_timeout": 20, "wait_sleep": 1,
        "wait_condition": {"type": "Ready", "status": "True"}}}
    listing = {"name": "list", "kubernetes.core.k8s_info": {"kind": "ConfigMap", "namespace": "mesh",
                                                            "label_selectors": ["app=mesh"]}}
    completed, results = _run(tmp_path, kube_emulator, issuers + _mesh_objects() + [wait, listing])
    assert completed.returncode == 0, completed.stdout
    certificate = results["wait"]["resources"][0]
    assert {c["type"]: c["status"] for c in certificate["status"]["conditions"]}["Ready"] == "True"
    assert [r["metadata"]["name"] for r in results["list"]["resources"]] == ["mesh"]


def test_invalid_object_fails_with_the_servers_causes(tmp_path, kube_emulator):
    broken = dict(CERTIFICATE, metadata={"name": "gw", "namespace": "default"},
                  spec={"secretName": "gw-tls", "dnsNames": "x"})
    completed, results = _run(tmp_path, kube_emulator, [_k8s("certificate", broken)])
    assert completed.returncode != 0
    message = results["certificate"]["msg"]
    assert "Certificate.cert-manager.io \\\"gw\\\" is invalid" in message or 'Certificate.cert-manager.io "gw" is invalid' in message
    assert "spec.dnsNames" in message and "spec.issuerRef" in message and "422" in message


def test_state_absent_deletes_then_is_ok(tmp_path, kube_emulator):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "default"}}
    kube_emulator.emulator.create(config_map)
    tasks = [_k8s("delete", config_map, state="absent", wait=True, wait_timeout=10)]
    first, results = _run(tmp_path, kube_emulator, tasks)
    assert first.returncode == 0 and results["delete"]["changed"], first.stdout
    assert kube_emulator.emulator.get("v1", "ConfigMap", "old", "default") is None
    second, results = _run(tmp_path, kube_emulator, tasks)
    assert second.returncode == 0 and not results["delete"]["changed"], second.stdout


def test_forbidden_wrong_context_and_unreachable_errors(tmp_path, kube_emulator, kube_emulator_factory):
    gone = kube_emulator_factory("gone", crds=False)
    gone.emulator.stop()
    kube_emulator.emulator.add_token("reader-token", "reader")
    kube_emulator.emulator.deny(verb="list", resource="secrets", user="reader")
    reader_kubeconfig = kube_emulator.emulator.write_kubeconfig(tmp_path / "reader.yaml", cluster="emulator",
                                                                context="reader", user="reader", token="reader-token")
    tasks = [
        {"name": "forbidden", "ignore_errors": True, "kubernetes.core.k8s_info": {
            "kind": "Secret", "namespace": "default", "kubeconfig": reader_kubeconfig, "context": "reader"}},
        {"name": "wrong context", "ignore_errors": True, "kubernetes.core.k8s_info": {
            "kind": "Secret", "namespace": "default", "context": "no-such-context"}},
        {"name": "unreachable", "ignore_errors": True, "kubernetes.core.k8s_info": {
            "kind": "Secret", "namespace": "default", "kubeconfig": gone.kubeconfig, "context": gone.context}},
    ]
    results = _run(tmp_path, kube_emulator, tasks)[1]
    assert results["forbidden"].get("failed"), results
    assert 'User \\"reader\\" cannot list resource \\"secrets\\"' in results["forbidden"]["msg"] or \
        'User "reader" cannot list resource "secrets"' in results["forbidden"]["msg"]
    assert results["wrong context"]["failed"]
    assert "no-such-context" in results["wrong context"]["msg"]
    assert results["unreachable"]["failed"]
    assert "Connection refused" in results["unreachable"]["msg"] or "Max retries" in results["unreachable"]["msg"], \
        results["unreachable"]["msg"]


def _helm_task(name, values, **extra):
    return {"name": name, "kubernetes.core.helm": dict({
        "name": "cert-manager", "chart_ref": "cert-manager", "chart_repo_url": "https://charts.jetstack.io",
        "chart_version": "v1.21.1", "release_namespace": "cert-manager", "create_namespace": True, "wait": True,
        "release_values": values, "kubeconfig": "{{ auth.kubeconfig }}", "context": "{{ auth.context }}"}, **extra)}


def test_helm_installs_cert_manager_once_and_rejects_values_breaking_the_schema(tmp_path, kube_emulator_factory,
                                                                                helm_standin):
    cluster = kube_emulator_factory("helm", crds=False)
    install = [_helm_task("install", {"crds": {"enabled": True}, "replicaCount": 1})]
    completed, results = _run(tmp_path, cluster, install, extra_env=helm_standin.env)
    assert completed.returncode == 0, completed.stdout
    assert results["install"]["changed"]
    emulator = cluster.emulator
    assert emulator.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "certificates.cert-manager.io")
    deployments = {d["metadata"]["name"] for d in emulator.list("apps/v1", "Deployment", "cert-manager")}
    assert deployments == {"cert-manager", "cert-manager-webhook", "cert-manager-cainjector"}
    releases = emulator.list("v1", "Secret", "cert-manager", label_selector="owner=helm")
    assert [(s["metadata"]["name"], s["type"]) for s in releases] == [("sh.helm.release.v1.cert-manager.v1",
                                                                       "helm.sh/release.v1")]

    again, results = _run(tmp_path, cluster, install, extra_env=helm_standin.env)
    assert again.returncode == 0, again.stdout
    assert not results["install"]["changed"]

    broken = [_helm_task("install", {"crds": {"enabled": "yes"}, "replicaCount": 1, "webhooks": {}})]
    failed, results = _run(tmp_path, cluster, broken, extra_env=helm_standin.env)
    assert failed.returncode != 0
    assert "values don't meet the specifications of the schema" in results["install"]["msg"]
    assert "/crds/enabled" in results["install"]["msg"]
    if helm_standin.is_standin:
        assert any("upgrade" in call and "-i" in call for call in helm_standin.calls())
