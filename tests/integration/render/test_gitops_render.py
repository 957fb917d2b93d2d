"""Render mode for Flux and Argo CD: a tree the engine syncs as it is, with no key in its Git part.

The kustomize engine (the default) is covered by test_site_render.py, on the same checks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from tests.integration.render.gitops_tree import git_part, private_keys_in, rendered_objects, schema_errors, unrendered_namespaces
from tests.support.playbook import recap, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gitops_render")]

INSTALL_ORDER = ["namespaces", "cert_manager", "mesh_ca", "istio_csr", "istio", "gateway_certs", "mesh_policy"]


@pytest.fixture(scope="module", params=["flux", "argocd"])
def engine_render(request, tmp_path_factory):
    """Run playbooks/site.yml twice for one engine into a fresh output folder."""
    tmp = tmp_path_factory.mktemp(request.param)
    extra = {"certmesh_output_dir": str(tmp / "out"), "certmesh_gitops_engine": request.param}
    first = run_playbook("playbooks/site.yml", extra_vars=extra, tmp_path=tmp)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    second = run_playbook("playbooks/site.yml", extra_vars=extra, tmp_path=tmp)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    return {"engine": request.param, "top": tmp / "out" / "local", "cluster": tmp / "out" / "local" / "cluster1",
            "first": first, "second": second}


def _load(path):
    return yaml.safe_load(path.read_text())


def test_a_second_render_for_the_engine_changes_nothing(engine_render):
    assert recap(engine_render["first"].stdout)["cluster1"]["changed"] > 0
    assert recap(engine_render["second"].stdout)["cluster1"]["changed"] == 0


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
    assert "[`cluster1`](cluster1/INDEX.md)" in (engine_render["top"] / "INDEX.md").read_text()


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
        assert obj["spec"]["wait"] is True and obj["spec"]["path"].startswith("./local/cluster1/")
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
    assert wave["cluster1-cert-manager"] < wave["cluster1-mesh-ca"] < wave["cluster1-cert-manager-istio-csr"] \
        < wave["cluster1-istiod"] < wave["cluster1-istio-ingressgateway"] < wave["cluster1-mesh-policy"]
    root = _load(engine_render["cluster"] / "argocd" / "app-of-apps.yaml")
    assert root["spec"]["source"]["path"] == "local/cluster1/argocd/apps" and root["spec"]["source"]["directory"]["recurse"]
    helm_sources = [app["spec"]["source"] for app in apps if "chart" in app["spec"]["source"]]
    assert {s["chart"] for s in helm_sources} == {"cert-manager", "cert-manager-istio-csr", "base", "istiod", "gateway"}
