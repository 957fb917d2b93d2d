"""The input gate refuses every bad input before anything is written, with one message naming
variable, inventory host and rule; booleans typed on the command line mean their typed value;
--check --diff on a fresh folder plans the whole mesh and writes nothing."""

import pathlib

import pytest
import yaml

from tests.support.playbook import REPO_ROOT, recap, run_playbook

pytestmark = pytest.mark.slow

TWO_HOSTS_ONE_NAME = {
    "mesh": {"hosts": {
        "east": {"certmesh_cluster_name": "shared"},
        "west": {"certmesh_cluster_name": "shared"},
    }, "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
}

# (case, -e arguments, inventory, what the refusal must say)
BAD_INPUTS = [
    ("trust domain outside the SPIFFE grammar", ["certmesh_trust_domain=Corp_Example.com!"], None,
     ["certmesh_trust_domain (inventory host cluster1) must be a SPIFFE trust domain", "got 'Corp_Example.com!'"]),
    ("workload duration in days", ["certmesh_max_workload_certificate_duration=90d"], None,
     ["certmesh_max_workload_certificate_duration (inventory host cluster1) must be a Go duration",
      "90 days = 2160h"]),
    ("list given as a string", ["gateway_certs_hosts=app.example.com"], None,
     ["gateway_certs_hosts (inventory host cluster1) is of type str and we were unable to convert to list"]),
    ("environment that climbs out of the output folder", ["certmesh_environment=../../.."], None,
     ["certmesh_environment (inventory host cluster1) must be safe as one folder name", "got '../../..'"]),
    ("boolean that is no boolean", ["mesh_ca_intermediate_per_cluster=sometimes"], None,
     ["mesh_ca_intermediate_per_cluster (inventory host cluster1) must be a boolean (true or false)"]),
    ("two hosts with one cluster name", [], TWO_HOSTS_ONE_NAME,
     ["certmesh_cluster_name 'shared' is given to several inventory hosts (east, west)"]),
]


def _extra(args):
    found = []
    for item in args:
        found += ["-e", item]
    return found


@pytest.mark.parametrize("case, args, inventory, expected", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_a_bad_input_is_refused_before_anything_is_written(tmp_path, case, args, inventory, expected):
    out = tmp_path / "out"
    options = _extra(args + ["certmesh_output_dir=%s" % out])
    if inventory:
        (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
        options += ["-i", str(tmp_path / "hosts.yml")]
    result = run_playbook("playbooks/site.yml", *options, tmp_path=tmp_path)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in " ".join(text.split()), (fragment, text[-3000:])
    assert text.count("fatal: [") == 1, "one refusal, not one per host or per task"
    assert "Traceback" not in text and "failed filter" not in text.lower()
    assert not out.exists(), "nothing may be written before the gate passes"


def _booleans():
    found = {}
    for spec_file in sorted(pathlib.Path(REPO_ROOT).glob("roles/*/meta/argument_specs.yml")):
        options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options") or {}
        found.update((name, spec) for name, spec in options.items() if spec.get("type") == "bool")
    return sorted(found)


def _render_with_every_boolean(tmp_path, word):
    out = tmp_path / "out"
    args = ["%s=%s" % (name, word) for name in _booleans()] + ["certmesh_output_dir=%s" % out]
    result = run_playbook("playbooks/site.yml", *_extra(args), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return out / "local"


def _gateway_ports(env_dir):
    gateway = yaml.safe_load((env_dir / "cluster1" / "gateway_certs" / "istio-system.gateway.mesh-gateway.yaml").read_text())
    return sorted(server["port"]["number"] for server in gateway["spec"]["servers"])


def _crds_enabled(env_dir):
    values = yaml.safe_load((env_dir / "cluster1" / "cert_manager" / "helm" / "cert-manager.values.yaml").read_text())
    return values["crds"]["enabled"]


def test_every_boolean_given_as_the_string_false_means_false(tmp_path):
    env_dir = _render_with_every_boolean(tmp_path, "false")
    assert (env_dir / "mesh-root" / "shared-intermediate" / "intermediate-ca.key").exists()
    assert not (env_dir / "cluster1" / "pki" / "intermediate-ca.key").exists()
    assert not (env_dir / "cluster1" / "istio" / "helm" / "istio-ingressgateway.values.yaml").exists()
    assert _gateway_ports(env_dir) == [443]
    assert _crds_enabled(env_dir) is False


def test_every_boolean_given_as_the_string_true_means_true(tmp_path):
    env_dir = _render_with_every_boolean(tmp_path, "true")
    assert (env_dir / "cluster1" / "pki" / "intermediate-ca.key").exists()
    assert not (env_dir / "mesh-root" / "shared-intermediate").exists()
    assert (env_dir / "cluster1" / "istio" / "helm" / "istio-ingressgateway.values.yaml").exists()
    assert _gateway_ports(env_dir) == [80, 443]
    assert _crds_enabled(env_dir) is True


def test_check_diff_on_a_fresh_folder_plans_everything_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = run_playbook("playbooks/site.yml", "--check", "--diff",
                          *_extra(["certmesh_output_dir=%s" % out, "certmesh_trust_domian=corp.example.com"]),
                          tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert not out.exists()
    assert recap(result.stdout)["cluster1"]["failed"] == 0
    text = " ".join((result.stdout + result.stderr).split())
    assert "Check mode: would create %s/local/mesh-root/root-ca.key" % out in text
    assert "certmesh_trust_domian (inventory host cluster1) is not a variable of certmesh.istio" in text
    assert "did you mean certmesh_trust_domain?" in text
