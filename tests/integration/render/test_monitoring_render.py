"""site.yml in render mode with monitoring on, run by its tags: the objects validate against the upstream CRDs."""

import pytest
import yaml

from tests.integration.render.test_site_render import kinds_preflight_does_not_observe
from tests.support.playbook import recap, run_playbook
from tests.support.upstream import crd_validator

pytestmark = pytest.mark.slow


def test_monitoring_renders_valid_prometheus_operator_objects_with_the_ca_recorded(tmp_path):
    out = tmp_path / "out"
    result = run_playbook("playbooks/site.yml", "--tags", "pki,mesh_monitoring", tmp_path=tmp_path,
                          extra_vars={"certmesh_output_dir": str(out), "mesh_monitoring_enabled": True})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "certmesh.istio.istio_csr : Describe" not in result.stdout
    folder = out / "local" / "cluster1" / "mesh_monitoring"
    objects = [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml")) if p.name != "kustomization.yaml"]
    assert sorted(o["kind"] for o in objects) == ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    assert kinds_preflight_does_not_observe(objects) == []
    for obj in objects:
        assert crd_validator(obj["apiVersion"], obj["kind"]).errors(obj) == [], obj["metadata"]["name"]
    rule = next(o for o in objects if o["kind"] == "PrometheusRule")
    recorded = {r["labels"]["certificate"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    assert recorded == {"mesh_root", "cluster_intermediate"}
    again = run_playbook("playbooks/site.yml", "--tags", "pki,mesh_monitoring", tmp_path=tmp_path,
                         extra_vars={"certmesh_output_dir": str(out), "mesh_monitoring_enabled": True})
    assert recap(again.stdout)["cluster1"]["changed"] == 0, again.stdout[-4000:]
