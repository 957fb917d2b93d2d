"""Engine objects are built as data: install order, Flux chains, Argo CD waves, the namespaces to render."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import gitops, render, render_cluster

GIT = dict(render.DEFAULT_GIT, path="prod/eu1")
BASE = {"name": "istio-base", "namespace": "istio-system", "chart": "base", "version": "1.30.3", "repo": "https://istio.example"}
ISTIOD = dict(BASE, name="istiod", chart="istiod", values={"global": {"caAddress": "csr:443"}})
ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "istio-ca"}, "spec": {"ca": {"secretName": "k"}}}
POLICY = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
          "metadata": {"name": "mesh-wide", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}


def test_components_are_ordered_for_install_and_unknown_ones_come_last():
    assert gitops.ordered_components(["mesh_policy", "zeta", "istio", "cert_manager", "mesh_ca"]) == [
        "cert_manager", "mesh_ca", "istio", "mesh_policy", "zeta"]


def test_an_unknown_engine_is_named_with_the_choices():
    assert "kustomize, flux, argocd" in gitops.engine_problem("spinnaker")
    assert gitops.engine_problem("flux") is None


def test_a_flux_helm_release_waits_for_the_release_before_it_and_keeps_its_values_inline():
    repo, base, _repo, istiod = gitops.flux_helm_objects([BASE, ISTIOD])
    assert repo["kind"] == "HelmRepository" and repo["spec"]["url"] == "https://istio.example"
    assert "dependsOn" not in base["spec"]
    assert istiod["spec"]["dependsOn"] == [{"name": "istio-base", "namespace": "istio-system"}]
    assert istiod["spec"]["values"] == {"global": {"caAddress": "csr:443"}}
    assert istiod["spec"]["chart"]["spec"]["sourceRef"] == {"kind": "HelmRepository", "name": "istiod", "namespace": "istio-system"}


def test_a_flux_kustomization_points_at_the_component_in_git_and_health_checks_its_releases():
    obj = gitops.flux_kustomization("istio_csr", GIT, "mesh_ca", [{"name": "csr", "namespace": "cert-manager"}])
    assert obj["metadata"]["name"] == "certmesh-istio-csr"
    assert obj["spec"]["path"] == "./prod/eu1/istio_csr"
    assert obj["spec"]["dependsOn"] == [{"name": "certmesh-mesh-ca"}]
    assert obj["spec"]["healthChecks"][0]["kind"] == "HelmRelease" and obj["spec"]["wait"] is True


def test_argocd_helm_applications_follow_the_component_wave_in_order():
    apps = gitops.argocd_helm_applications("istio", [BASE, ISTIOD], GIT, "eu1")
    waves = [int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps]
    assert waves == sorted(waves) and len(set(waves)) == 2
    assert int(gitops.sync_wave("istio_csr")) < waves[0] < int(gitops.sync_wave("gateway_certs"))
    assert apps[1]["spec"]["source"]["helm"]["valuesObject"] == {"global": {"caAddress": "csr:443"}}
    assert apps[1]["metadata"]["name"] == "eu1-istiod"


def test_the_argocd_directory_application_is_a_directory_source_not_kustomize():
    app = gitops.argocd_directory_application("mesh_policy", GIT, "eu1")
    assert app["spec"]["source"]["path"] == "prod/eu1/mesh_policy"
    assert app["spec"]["source"]["directory"] == {"exclude": "kustomization.yaml"}
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_namespaces_used_but_not_created_are_rendered_except_builtin_and_engine_ones():
    documents = [
        POLICY,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {"kind": "Kustomization", "helmCharts": [{"namespace": "cert-manager"}]},
        {"kind": "Application", "metadata": {"namespace": "argocd"}, "spec": {"destination": {"namespace": "monitoring"}}},
        {"kind": "Role", "metadata": {"name": "r", "namespace": "default"}},
    ]
    assert [ns["metadata"]["name"] for ns in gitops.missing_namespaces(documents, "argocd")] == ["cert-manager", "monitoring"]


def _render(tmp_path, engine):
    render.sync_component(str(tmp_path), "mesh_policy", [POLICY], [], engine=engine, git=GIT, cluster="eu1")
    render.sync_component(str(tmp_path), "istio", [], [BASE, ISTIOD], engine=engine, git=GIT, cluster="eu1")
    render.sync_component(str(tmp_path), "mesh_ca", [ISSUER], [], engine=engine, git=GIT, cluster="eu1")
    return render_cluster.sync_cluster(str(tmp_path), engine, GIT, "eu1")


def test_the_kustomize_root_lists_plain_and_helm_folders_in_install_order(tmp_path):
    _render(tmp_path, "kustomize")
    root = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    assert root["resources"] == ["namespaces", "mesh_ca", "istio/helm", "mesh_policy"]
    charts = yaml.safe_load((tmp_path / "istio" / "helm" / "kustomization.yaml").read_text())["helmCharts"]
    assert [c["releaseName"] for c in charts] == ["istio-base", "istiod"] and charts[1]["valuesFile"] == "istiod.values.yaml"


def test_the_flux_chain_skips_components_that_are_not_rendered(tmp_path):
    _render(tmp_path, "flux")
    chain = {}
    for path in (tmp_path / "flux").glob("flux-system.*.yaml"):
        obj = yaml.safe_load(path.read_text())
        chain[obj["metadata"]["name"]] = [d["name"] for d in obj["spec"].get("dependsOn", [])]
    assert chain == {"certmesh-namespaces": [], "certmesh-mesh-ca": ["certmesh-namespaces"],
                     "certmesh-istio": ["certmesh-mesh-ca"], "certmesh-mesh-policy": ["certmesh-istio"]}
    assert render_cluster.sync_cluster(str(tmp_path), "flux", GIT, "eu1") == []


def test_switching_engines_removes_the_other_engines_files(tmp_path):
    _render(tmp_path, "kustomize")
    _render(tmp_path, "argocd")
    assert not (tmp_path / "kustomization.yaml").exists()
    assert not list((tmp_path / "istio" / "helm").glob("*.yaml"))
    assert (tmp_path / "argocd" / "app-of-apps.yaml").is_file()
    assert sorted(p.name for p in (tmp_path / "argocd" / "apps" / "istio").iterdir()) == [
        "argocd.application.eu1-istio-base.yaml", "argocd.application.eu1-istiod.yaml"]


def test_the_argocd_apply_order_names_components_made_only_of_helm_applications(tmp_path):
    _render(tmp_path, "argocd")
    assert not (tmp_path / "istio").exists()  # its releases are Applications under argocd/apps/istio/
    index = (tmp_path / "INDEX.md").read_text()
    order = index.split("## Apply order")[1].split("##")[0].split()
    assert order == ["1.", "`namespaces`", "2.", "`mesh_ca`", "3.", "`istio`", "4.", "`mesh_policy`"]
    assert "- `argocd/apps/istio/argocd.application.eu1-istiod.yaml`: Application argocd/eu1-istiod" in index
    assert not (tmp_path / "argocd" / "apps" / "argocd.application.eu1-istio.yaml").exists()  # no folder, no directory app


def test_the_cluster_gitignore_keeps_the_key_material_out(tmp_path):
    _render(tmp_path, "kustomize")
    assert (tmp_path / ".gitignore").read_text().splitlines()[1:] == ["/pki/", "/pki-*/", "/secrets/"]


def test_the_next_ca_of_a_rotation_is_not_a_component_and_not_for_git(tmp_path):
    (tmp_path / "pki-next").mkdir()
    (tmp_path / "pki-next" / "intermediate-ca.key").write_text("key")
    _render(tmp_path, "kustomize")
    index = (tmp_path / "INDEX.md").read_text()
    assert "`pki-next`" not in index.split("## Meant for Git")[0]
    assert "`pki-next/intermediate-ca.key`: private key" in index


def test_the_input_gate_knows_exactly_the_engines_render_mode_supports():
    import pathlib

    spec_file = pathlib.Path(__file__).resolve().parents[4] / "roles" / "common" / "meta" / "argument_specs.yml"
    options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]["options"]
    assert options["certmesh_gitops_engine"]["choices"] == list(gitops.ENGINES)
    assert options["certmesh_gitops_engine"]["default"] == "kustomize"
