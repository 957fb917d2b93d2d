"""The input gate names variable, inventory host and rule for every input it refuses, once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.certmesh.istio.plugins.module_utils import input_gate as gate

SPECS = {
    "certmesh_trust_domain": {"type": "str"},
    "certmesh_mode": {"type": "str", "choices": ["apply", "render"]},
    "gateway_certs_hosts": {"type": "list", "elements": "dict"},
    "mesh_ca_intermediate_per_cluster": {"type": "bool"},
    "cert_manager_wait_timeout": {"type": "int"},
    "gateway_certs_issuer": {"type": "dict"},
}


def _values(tmp_path, **extra):
    out = str(tmp_path / "out")
    values = {
        "certmesh_output_dir": out,
        "certmesh_environment": "local",
        "certmesh_cluster_name": "cluster1",
        "certmesh_mesh_root_dir": out + "/local/mesh-root",
        "certmesh_render_dir": out + "/local/cluster1",
        "mesh_ca_cluster_pki_dir": out + "/local/cluster1/pki",
        "certmesh_trust_domain": "cluster.local",
        "istio_csr_cluster_id": "cluster1",
    }
    values.update(extra)
    return values


def test_good_inputs_pass(tmp_path):
    assert gate.check_host("cluster1", _values(tmp_path), SPECS) == []


def test_a_bad_trust_domain_is_named_with_host_and_rule(tmp_path):
    found = gate.check_host("cluster1", _values(tmp_path, certmesh_trust_domain="Corp_Example.com!"), SPECS)
    assert found == ["certmesh_trust_domain (inventory host cluster1) must be a SPIFFE trust domain (lowercase "
                     "letters, digits, '.', '-' and '_' only, at most 255 characters, no scheme, port or path, "
                     "e.g. 'corp.example.com'): got 'Corp_Example.com!'"]


def test_a_list_given_as_a_string_gets_the_argument_spec_message(tmp_path):
    found = gate.check_host("cluster1", _values(tmp_path, gateway_certs_hosts="app.example.com"), SPECS)
    assert found == ["gateway_certs_hosts (inventory host cluster1) is of type str and we were unable to convert "
                     "to list: must be a list of dict"]


def test_booleans_and_numbers_typed_on_the_command_line_pass_and_others_are_refused(tmp_path):
    assert gate.check_host("c", _values(tmp_path, mesh_ca_intermediate_per_cluster="false",
                                        cert_manager_wait_timeout="30"), SPECS) == []
    found = gate.check_host("c", _values(tmp_path, mesh_ca_intermediate_per_cluster="nope",
                                         cert_manager_wait_timeout="soon"), SPECS)
    assert ["cert_manager_wait_timeout (inventory host c) must be an integer: got 'soon'",
            "mesh_ca_intermediate_per_cluster (inventory host c) must be a boolean (true or false): got 'nope'"] == found


def test_a_choice_outside_the_spec_is_refused(tmp_path):
    found = gate.check_host("c", _values(tmp_path, certmesh_mode="dry-run"), SPECS)
    assert found == ["certmesh_mode (inventory host c) must be one of apply, render: got 'dry-run'"]


def test_gateway_durations_in_days_get_the_go_hint(tmp_path):
    hosts = [{"name": "app", "dns_names": ["a.example.com"], "duration": "90d"}]
    found = gate.check_host("c", _values(tmp_path, gateway_certs_hosts=hosts, gateway_certs_renew_before="720h"), SPECS)
    assert len(found) == 1 and found[0].startswith("gateway_certs_hosts (inventory host c) [0].duration must be a Go")
    assert "90 days = 2160h" in found[0]


def test_an_issuer_reference_is_checked_field_by_field(tmp_path):
    issuer = {"name": "Bad Name", "kind": "cluster-issuer", "group": "cert-manager.io"}
    found = gate.check_host("c", _values(tmp_path, gateway_certs_issuer=issuer), SPECS)
    assert [f.split(" must")[0].split(" (inventory host c) ")[1] for f in found] == [".name", ".kind"]


def test_an_environment_that_climbs_out_is_refused_once_by_its_own_name(tmp_path):
    out = str(tmp_path / "out")
    values = _values(tmp_path, certmesh_environment="../../..", certmesh_mesh_root_dir=out + "/../../../mesh-root",
                     certmesh_render_dir=out + "/../../../cluster1", mesh_ca_cluster_pki_dir=out + "/../../../cluster1/pki")
    found = gate.check_host("cluster1", values, SPECS, user_set={"certmesh_environment"})
    assert len(found) == 1 and found[0].startswith("certmesh_environment (inventory host cluster1) must be safe as one")


def test_a_pki_folder_outside_the_output_dir_is_refused(tmp_path):
    found = gate.check_host("c", _values(tmp_path, certmesh_mesh_root_dir="/etc/mesh-root"), SPECS,
                            user_set={"certmesh_mesh_root_dir"})
    assert found == ["certmesh_mesh_root_dir (inventory host c) must be a folder inside certmesh_output_dir (%s), "
                     "where the PKI is written: got '/etc/mesh-root'" % os.path.realpath(str(tmp_path / "out"))]


def test_a_default_derived_from_a_refused_value_is_not_refused_again(tmp_path):
    found = gate.check_host("c", _values(tmp_path, certmesh_cluster_name="Bad_Name", istio_csr_cluster_id="Bad_Name"),
                            {}, user_set={"certmesh_cluster_name"})
    assert len(found) == 1 and found[0].startswith("certmesh_cluster_name (inventory host c)")


def test_a_key_symlink_is_refused(tmp_path):
    values = _values(tmp_path)
    root = tmp_path / "out" / "local" / "mesh-root"
    root.mkdir(parents=True)
    (root / "root-ca.key").symlink_to(tmp_path / "elsewhere.key")
    found = gate.check_host("c", values, SPECS)
    assert found == ["certmesh_mesh_root_dir (inventory host c) holds root-ca.key as a symlink; keys are never "
                     "written through one: remove %s" % (root / "root-ca.key")]


def test_a_symlinked_pki_folder_inside_the_output_dir_is_refused(tmp_path):
    values = _values(tmp_path)
    (tmp_path / "out" / "local" / "cluster1").mkdir(parents=True)
    (tmp_path / "out" / "local" / "real").mkdir()
    (tmp_path / "out" / "local" / "cluster1" / "pki").symlink_to(tmp_path / "out" / "local" / "real")
    found = gate.check_host("c", values, SPECS)
    assert found and "mesh_ca_cluster_pki_dir (inventory host c) must not be a symlink" in found[0]


def test_two_hosts_with_one_cluster_name_are_refused_naming_both():
    found = gate.check_unique({"east": {"certmesh_cluster_name": "one", "istio_csr_cluster_id": "a"},
                               "west": {"certmesh_cluster_name": "one", "istio_csr_cluster_id": "b"}})
    assert found == ["certmesh_cluster_name 'one' is given to several inventory hosts (east, west): each cluster "
                     "needs its own, or they write the same CA files and identity"]


def test_a_misspelt_variable_is_warned_once_with_the_closest_name():
    warnings = gate.unknown_variables({"a": {"certmesh_trust_domian"}, "b": {"certmesh_trust_domian", "other"}},
                                      {"certmesh_trust_domain"}, ["certmesh_"])
    assert warnings == ["certmesh_trust_domian (inventory host a, b) is not a variable of certmesh.istio and is "
                        "ignored; did you mean certmesh_trust_domain?"]


def test_the_refusal_is_one_message_with_each_problem_once():
    assert gate.refusal(["x broke"]) == "Input refused before anything was written: x broke."
    assert gate.refusal(["x", "y", "x"]) == "2 inputs refused before anything was written: x; y."


def test_gateway_lifetimes_cert_manager_refuses_are_refused_by_the_gate(tmp_path):
    found = gate.check_host("c", _values(tmp_path, gateway_certs_hosts=[{"name": "app"}], gateway_certs_duration="2160h",
                                         gateway_certs_renew_before="1m"), SPECS)
    assert found == ["gateway_certs_hosts[0] (Certificate app, inventory host c): renew_before 1m is shorter than "
                     "the 5m cert-manager accepts"]


def test_rollout_waves_of_the_wrong_shape_are_named_with_the_host_and_an_example(tmp_path):
    specs = dict(SPECS, certmesh_rollout_waves={"type": "list", "elements": "raw"})
    found = gate.check_host("cluster1", _values(tmp_path, certmesh_rollout_waves=[1, "0%"]), specs)

    assert len(found) == 1
    assert found[0].startswith("certmesh_rollout_waves (inventory host cluster1) must be a list of wave sizes")
    assert "wave 2 is '0%'" in found[0] and '[1, "100%"]' in found[0]


def test_rollout_waves_with_a_canary_then_percentages_pass(tmp_path):
    specs = dict(SPECS, certmesh_rollout_waves={"type": "list", "elements": "raw"})
    assert gate.check_host("cluster1", _values(tmp_path, certmesh_rollout_waves=[1, 5, "25%"]), specs) == []


def test_the_vault_store_without_an_address_is_refused_naming_the_variable(tmp_path):
    problems = gate.check_host("cluster1", _values(tmp_path, certmesh_pki_store="vault",
                                                   certmesh_pki_store_vault_url=""), SPECS)

    assert problems == ["certmesh_pki_store_vault_url (inventory host cluster1) must be set when certmesh_pki_store is "
                        "vault: give Vault's address (e.g. https://vault.example.com:8200) or export VAULT_ADDR on the "
                        "control node"]


def test_empty_vault_settings_are_fine_while_the_store_is_elsewhere(tmp_path):
    assert gate.check_host("cluster1", _values(tmp_path, certmesh_pki_store="kubernetes",
                                               certmesh_pki_store_vault_url="", certmesh_pki_store_vault_namespace="",
                                               certmesh_pki_store_vault_ca_cert=""), SPECS) == []


def test_the_vault_store_mount_and_folder_keep_their_rules(tmp_path):
    problems = gate.check_host("cluster1", _values(tmp_path, certmesh_pki_store="vault",
                                                   certmesh_pki_store_vault_url="https://vault:8200",
                                                   certmesh_pki_store_vault_mount="sys",
                                                   certmesh_pki_store_vault_path="../x"), SPECS)

    assert [problem.split(" (")[0] for problem in problems] == ["certmesh_pki_store_vault_mount",
                                                                "certmesh_pki_store_vault_path"]
