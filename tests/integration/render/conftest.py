"""The render that the ambient, Gateway API and trust-manager render tests share.

``ambient_gateway_trust_render`` (session scope; the modules that use it share one xdist group, so
it runs once per test run): ``playbooks/site.yml`` rendered twice into a fresh folder with
``certmesh_istio_mode=ambient`` (two ambient namespaces), ``gateway_certs_api=gateway-api`` and
trust-manager on, the combination that issue 12 asks to validate in one tree. Returns
``{"cluster": <out>/local/cluster1, "first": run, "second": run}``.
"""

import pytest

from tests.support.playbook import run_playbook

XDIST_GROUP = "ambient_gateway_trust_render"
AMBIENT_GATEWAY_TRUST_VARS = {
    "certmesh_istio_mode": "ambient", "istio_ambient_namespaces": ["apps", "payments"],
    "gateway_certs_api": "gateway-api", "gateway_certs_gateway_namespace": "ingress",
    "certmesh_trust_manager_enabled": True,
}


@pytest.fixture(scope="session")
def ambient_gateway_trust_render(tmp_path_factory):
    """Run playbooks/site.yml twice with ambient, Gateway API and trust-manager on."""
    tmp = tmp_path_factory.mktemp("ambient-gateway-trust")
    extra = dict(AMBIENT_GATEWAY_TRUST_VARS, certmesh_output_dir=str(tmp / "out"))
    runs = [run_playbook("playbooks/site.yml", extra_vars=extra, tmp_path=tmp) for _run in ("first", "second")]
    for run in runs:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return {"cluster": tmp / "out" / "local" / "cluster1", "first": runs[0], "second": runs[1]}
