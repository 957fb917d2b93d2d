"""Render mode for Flux and Argo CD: a tree the engine syncs as it is, with no key in its Git part.

One inventory renders both engines in one run (the engine is a host variable, so each cluster
gets its own): host ``fluxcluster`` for Flux, ``argocluster`` for Argo CD, in one rollout wave,
twice. The kustomize engine (the default) is covered by test_site_render.py, on the same checks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from tests.integration.render.gitops_tree import git_part, private_keys_in, rendered_objects, schema_errors, unrendered_namespaces
from tests.support.playbook import recap, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gitops_render")]

INSTALL_ORDER = ["namespaces", "cert_manager", "mesh_ca", "istio_csr", "istio", "gateway_certs", "mesh_policy"]
CLUSTERS = {"flux": "fluxcluster", "argocd": "argocluster"}


@pytest.fixture(scope="module")
def both_renders(tmp_path_factory):
    """Run playbooks/site.yml twice on one inventory: a Flux cluster and an Argo CD cluster."""
    tmp = tmp_path_factory.mktemp("gitops")
    inventory = tmp / "inventory.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"certmesh_environment": "local", "certmesh_rollout_waves": ["100%"]},
        "hosts": {name: dict(host, certmesh_gitops_engine=engine) for engine, name in CLUSTERS.items()}}}))
    extra = {"certmesh_output_dir": str(tmp / "out")}
    first = run_playbook("playbooks/site.yml", "-i", str(inventory), extra_vars=extra, tmp_path=tmp)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    second = run_playbook("playbooks/site.yml", "-i", str(inventory), extra_vars=extra, tmp_path=tmp)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    return {"top": tmp / "out" / "local", "first": first, "second": second}


@pytest.fixture(params=list(CLUSTERS))
def engine_render(request, both_renders):
    """One engine's cluster of the shared render."""
    name = CLUSTERS[request.param]
    return dict(both_renders, engine=request.param, name=name, cluster=both_renders["top"] / name)


def _load(path):
    return yaml.safe_load(path.read_text())


def test_a_second_render_for_the_engine_changes_nothing(engine_render):
    assert recap(engine_render["first"].stdout)[engine_render["name"]]["changed"] > 0
    assert recap(engine_render["second"].stdout)[engine_render["name"]]["changed"] == 0


def test_every_object_of_the_engine_render_validates_against_its_upstream_schema(engine_render):
    objects = list(rendered_objects(engine_render["cluster"]))
    kinds = {obj["kind"] for _path, obj in objects}
    assert {"flux": {"HelmRelease", "HelmRepository", "Kustomization"},
            "argocd": {"Application"}}[engine_render["engine"]] <= kinds
    assert [(path.name, schema_errors(obj)) for path, obj in objects if schema_errors(obj)] == []


def test_the_git_part_of_the_engine_render_holds_no_private_key(engine_render):
    files = git_part(engine_render["cluster"])
    assert len(files) > 15
    assert [(path.name, private_keys_in(path)) for path in files if private_keys_in(path)] == []
    assert private_keys_in(next(engine_render["cluster"].glob("secrets/mesh_ca/*.yaml")))  # the check sees keys


def test_the_not_for_git_part_is_named_by_the_gitignore_and_the_index(engine_render):
    cluster = engine_render["cluster"]
    assert (cluster / ".gitignore").read_text().splitlines()[1:] == ["/pki/", "/pki-*/", "/secrets/"]
    index = (cluster / "INDEX.md").read_text()
    assert "`secrets/mesh_ca/cert-manager.secret.istio-ca-key-pair.yaml`: key-bearing Secret" in index
    assert "`pki/intermediate-ca.key`: private key" in index
    assert "/mesh-root/" in (engine_render["top"] / ".gitignore").read_text()
    assert "[`%s`](%s/INDEX.md)" % (engine_render["name"], engine_render["name"]) in (engine_render["top"] / "INDEX.md").read_text()


def test_every_namespace_the_engine_render_uses_is_rendered(engine_render):
    engine_namespaces = {"flux": ["flux-system"], "argocd": ["argocd"]}[engine_render["engine"]]
    assert unrendered_namespaces(engine_render["cluster"], engine_namespaces) == []
    assert (engine_render["cluster"] / "namespaces" / "namespace.cert-manager.yaml").is_file()


def test_flux_kustomizations_chain_the_components_in_install_order(engine_render):
    if engine_render["engine"] != "flux":
        pytest.skip("Flux only")
    folder = engine_render["cluster"] / "flux"
    chain = {}
    for name in _load(folder / "kustomization.yaml")["resources"]:
        obj = _load(folder / name)
        chain[obj["metadata"]["name"]] = [d["name"] for d in obj["spec"].get("dependsOn", [])]
        assert obj["spec"]["wait"] is True and obj["spec"]["path"].startswith("./local/fluxcluster/")
    names = ["certmesh-" + c.replace("_", "-") for c in INSTALL_ORDER]
    assert chain == {name: names[i - 1:i] for i, name in enumerate(names)}
    istiod = _load(engine_render["cluster"] / "istio" / "helm" / "istio-system.helmrelease.istiod.yaml")
    assert istiod["spec"]["dependsOn"] == [{"name": "istio-base", "namespace": "istio-system"}]
    assert istiod["spec"]["values"]["global"]["caAddress"] == "cert-manager-istio-csr.cert-manager.svc:443"


def test_argocd_applications_sync_in_waves_of_the_install_order(engine_render):
    if engine_render["engine"] != "argocd":
        pytest.skip("Argo CD only")
    apps = [_load(p) for p in sorted((engine_render["cluster"] / "argocd" / "apps").rglob("*.yaml"))]
    wave = {app["metadata"]["name"]: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for app in apps}
    assert wave["argocluster-cert-manager"] < wave["argocluster-mesh-ca"] < wave["argocluster-cert-manager-istio-csr"] \
        < wave["argocluster-istiod"] < wave["argocluster-istio-ingressgateway"] < wave["argocluster-mesh-policy"]
    root = _load(engine_render["cluster"] / "argocd" / "app-of-apps.yaml")
    assert root["spec"]["source"]["path"] == "local/argocluster/argocd/apps" and root["spec"]["source"]["directory"]["recurse"]
    helm_sources = [app["spec"]["source"] for app in apps if "chart" in app["spec"]["source"]]
    assert {s["chart"] for s in helm_sources} == {"cert-manager", "cert-manager-istio-csr", "base", "istiod", "gateway"}


def test_each_cluster_of_one_inventory_is_rendered_for_its_own_engine(both_renders):
    flux, argocd = (both_renders["top"] / CLUSTERS[e] for e in ("flux", "argocd"))
    assert (flux / "flux").is_dir() and not (flux / "argocd").exists()
    assert (argocd / "argocd").is_dir() and not (argocd / "flux").exists()
    assert "for the `flux` engine" in (flux / "INDEX.md").read_text()
    assert "for the `argocd` engine" in (argocd / "INDEX.md").read_text()
