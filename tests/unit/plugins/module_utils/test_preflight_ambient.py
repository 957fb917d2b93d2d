"""The input gate refuses ambient-mode inventories that cannot work, naming variable and host; teardown knows the ambient charts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import input_gate as gate
from ansible_collections.certmesh.istio.plugins.module_utils import preflight

SPECS = {"certmesh_istio_mode": {"type": "str", "choices": ["sidecar", "ambient"]},
         "istio_ambient_namespaces": {"type": "list", "elements": "str"}}


def _values(tmp_path, cluster="east", **extra):
    out = str(tmp_path / "out")
    values = {
        "certmesh_output_dir": out, "certmesh_environment": "local", "certmesh_cluster_name": cluster,
        "certmesh_mesh_root_dir": out + "/local/mesh-root", "certmesh_render_dir": out + "/local/" + cluster,
        "certmesh_trust_domain": "cluster.local", "certmesh_mesh_id": "mesh1", "mesh_ca_byo_root_certificate": "",
        "istio_csr_cluster_id": cluster, "certmesh_istio_mode": "ambient", "istio_cni_enabled": True,
    }
    values.update(extra)
    return values


def test_ambient_with_istio_cni_on_passes_the_gate(tmp_path):
    assert gate.check_host("east", _values(tmp_path, istio_ambient_namespaces=["apps"]), SPECS) == []


def test_ambient_with_istio_cni_off_is_refused_naming_the_variable_and_host(tmp_path):
    found = gate.check_host("east", _values(tmp_path, istio_cni_enabled="false"), SPECS)
    assert len(found) == 1
    assert found[0].startswith("istio_cni_enabled (inventory host east) is false while certmesh_istio_mode is ambient")


def test_sidecar_mode_does_not_need_istio_cni(tmp_path):
    assert gate.check_host("east", _values(tmp_path, certmesh_istio_mode="sidecar", istio_cni_enabled=False), SPECS) == []


def test_cni_values_that_switch_ambient_redirection_off_are_refused(tmp_path):
    found = preflight.ambient_problems("east", _values(tmp_path, istio_cni_helm_values={"ambient": {"enabled": False}}))
    assert len(found) == 1 and "istio_cni_helm_values (inventory host east) sets ambient.enabled false" in found[0]


def test_an_unknown_istio_mode_is_refused_with_the_choices(tmp_path):
    found = gate.check_host("east", _values(tmp_path, certmesh_istio_mode="ztunnel"), SPECS)
    assert found == ["certmesh_istio_mode (inventory host east) must be one of sidecar, ambient: got 'ztunnel'"]


def test_an_ambient_namespace_that_is_no_dns_label_is_refused(tmp_path):
    found = gate.check_host("east", _values(tmp_path, istio_ambient_namespaces=["apps", "Bad_NS"]), SPECS)
    assert len(found) == 1 and found[0].startswith("istio_ambient_namespaces (inventory host east) element 1 must be")


def test_ambient_clusters_with_one_root_pass_and_with_two_roots_are_refused(tmp_path):
    shared = {"east": _values(tmp_path, "east"), "west": _values(tmp_path, "west")}
    assert gate.check_unique(shared) == []
    split = dict(shared, west=_values(tmp_path, "west", certmesh_mesh_root_dir=str(tmp_path / "out/other/mesh-root")))
    found = gate.check_unique(split)
    assert len(found) == 1
    assert found[0].startswith("certmesh_mesh_root_dir differs between inventory hosts (east: ")
    assert "ambient multi-cluster needs one shared root of trust" in found[0]


def test_a_brought_root_on_one_cluster_only_is_refused_when_any_cluster_is_ambient(tmp_path):
    values = {"east": _values(tmp_path, "east", certmesh_istio_mode="sidecar"),
              "west": _values(tmp_path, "west", mesh_ca_byo_root_certificate="/pki/root.pem")}
    found = preflight.ambient_mesh_problems(values)
    assert [item.split(" ")[0] for item in found] == ["mesh_ca_byo_root_certificate"]
    assert "ambient on west" in found[0]


def test_a_single_cluster_or_a_sidecar_mesh_needs_no_shared_root_check(tmp_path):
    assert preflight.ambient_mesh_problems({"east": _values(tmp_path, "east")}) == []
    sidecars = {"east": _values(tmp_path, "east", certmesh_istio_mode="sidecar"),
                "west": _values(tmp_path, "west", certmesh_istio_mode="sidecar", certmesh_trust_domain="other.example")}
    assert preflight.ambient_mesh_problems(sidecars) == []


def test_teardown_removes_ztunnel_and_istio_cni_before_istiod():
    from ansible_collections.certmesh.istio.plugins.module_utils import teardown  # pylint: disable=import-outside-toplevel
    infos = [{"status": {"name": name, "namespace": "istio-system", "chart": chart}} for name, chart in (
        ("istiod", "istiod-1.30.3"), ("ztunnel", "ztunnel-1.30.3"), ("istio-cni", "cni-1.30.3"),
        ("istio-base", "base-1.30.3"))]
    assert [r["name"] for r in teardown.releases_to_remove(infos)] == ["ztunnel", "istio-cni", "istiod", "istio-base"]


def _cilium(exclusive):
    return {"metadata": {"name": "cilium-config", "namespace": "kube-system"}, "data": {"cni-exclusive": exclusive}}


def test_an_ambient_cluster_whose_cilium_removes_other_cni_configs_is_refused_naming_the_configmap():
    settings = dict(issuer={"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
                    certificate_namespace="istio-system", istio_namespace="istio-system", trust_domains={},
                    max_workload_seconds=3600, cluster="east", istio_mode="ambient")
    found = preflight.run_all(settings, {"cilium_config": _cilium("true")}, None)
    assert [p["code"] for p in found] == ["ambient_cni_exclusive"]
    assert found[0]["object"] == "ConfigMap kube-system/cilium-config"
    assert found[0]["message"].startswith("cluster east: ConfigMap kube-system/cilium-config sets cni-exclusive")
    assert "cni.exclusive=false" in found[0]["message"]


def test_cilium_chaining_other_cnis_or_a_sidecar_mesh_or_no_cilium_passes():
    assert preflight.check_ambient_cni("east", "ambient", _cilium("false")) == []
    assert preflight.check_ambient_cni("east", "sidecar", _cilium("true")) == []
    assert preflight.check_ambient_cni("east", "ambient", None) == []
