# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The input gate's judgement: which rule every variable keeps, and what breaks across hosts.

Private to the collection. Pure: the ``certmesh.istio.input_gate`` action plugin gathers each
inventory host's effective variables (role defaults under inventory and extra vars, templated)
and hands them here; the answer is a list of problems (one sentence each, naming variable,
inventory host and rule) and a list of warnings. Nothing here reads Ansible objects, so the
whole table is unit tested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.certmesh.istio.plugins.module_utils import input_rules as rules
from ansible_collections.certmesh.istio.plugins.module_utils import preflight

# Scalar variables and the rule each keeps (the field Kubernetes, SPIFFE, Go or Vault reads).
VARIABLE_RULES = {
    "certmesh_environment": "path_component",
    "certmesh_cluster_name": "dns1123_label",
    "certmesh_trust_domain": "spiffe_trust_domain",
    "certmesh_field_manager": "field_manager",
    "certmesh_mesh_id": "label_value",
    "certmesh_network": "label_value",
    "certmesh_cert_manager_namespace": "dns1123_label",
    "certmesh_istio_namespace": "dns1123_label",
    "certmesh_ca_secret_name": "dns1123_subdomain",
    "certmesh_root_ca_secret_name": "dns1123_subdomain",
    "certmesh_istio_csr_service": "dns1035_label",
    "certmesh_max_workload_certificate_duration": "go_duration",
    "certmesh_pki_store_namespace": "dns1123_label",
    "certmesh_pki_store_vault_url": "vault_address",
    "certmesh_pki_store_vault_mount": "vault_mount",
    "certmesh_pki_store_vault_path": "vault_kv_path",
    "certmesh_pki_store_vault_namespace": "vault_namespace",
    "certmesh_pki_store_vault_ca_cert": "control_node_file",
    "certmesh_rollout_waves": "rollout_waves",
    "cert_manager_release_name": "helm_release_name",
    "istio_csr_release_name": "helm_release_name",
    "istio_csr_certificate_namespace": "dns1123_label",
    "istio_csr_max_certificate_duration": "go_duration",
    "istio_csr_serving_certificate_duration": "go_duration",
    "istio_csr_cluster_id": "label_value",
    "istio_revision": "dns1123_label",
    "istio_ingress_gateway_name": "helm_release_name",
    "istio_ingress_gateway_namespace": "dns1123_label",
    "gateway_certs_namespace": "dns1123_label",
    "gateway_certs_gateway_name": "dns1123_subdomain",
    "gateway_certs_gateway_namespace": "dns1123_label",
    "gateway_certs_gateway_class": "dns1123_subdomain",
    "gateway_certs_duration": "go_duration",
    "gateway_certs_renew_before": "go_duration",
    "preflight_certificate_namespace": "dns1123_label",
    "preflight_max_workload_certificate_duration": "go_duration",
    "verify_certificate_selector": "label_selector",
    "verify_probe_service_account": "dns1123_subdomain",
    "verify_probe_namespace": "dns1123_label",
    "mesh_verify_certificate_selector": "label_selector",
    "rotation_drain_period": "go_duration_or_zero",
    "vault_pki_intermediate_ttl": "vault_ttl",
    "vault_pki_max_certificate_duration": "go_duration",
    "vault_pki_issuer_name": "dns1123_subdomain",
    "vault_pki_service_account": "dns1123_subdomain",
    "vault_pki_cert_manager_service_account": "dns1123_subdomain",
    "vault_pki_probe_service_account": "dns1123_subdomain",
}
# Variables whose empty value means "not set" (e.g. no Istio revision).
# The Vault store's address may stay empty unless certmesh_pki_store is vault (_store_problems).
EMPTY_ALLOWED = frozenset(["istio_revision", "certmesh_pki_store_vault_url", "certmesh_pki_store_vault_namespace",
                           "certmesh_pki_store_vault_ca_cert"])
# Lists whose every element keeps a rule.
ELEMENT_RULES = {
    "istio_csr_istio_revisions": "dns1123_label",
    "istio_ambient_namespaces": "dns1123_label",
    "mesh_policy_mtls_namespaces": "dns1123_label",
}
# Lists of dicts whose named fields keep a rule.
ITEM_FIELD_RULES = {
    "gateway_certs_hosts": {"name": "dns1123_subdomain", "duration": "go_duration",
                            "renew_before": "go_duration"},
    "mesh_policy_authorization_policies": {"name": "dns1123_subdomain", "namespace": "dns1123_label"},
}
# cert-manager issuer references ({name, kind, group[, namespace]}).
ISSUER_VARIABLES = ("certmesh_mesh_issuer", "certmesh_vault_issuer", "certmesh_workload_issuer",
                    "istio_csr_issuer", "gateway_certs_issuer", "preflight_issuer")
# Dicts of label key -> label value.
LABEL_MAP_VARIABLES = ("gateway_certs_gateway_selector",)
# Folders the PKI (keys included) is written to: they must stay inside certmesh_output_dir.
PKI_DIRECTORIES = ("certmesh_mesh_root_dir", "certmesh_render_dir", "mesh_ca_cluster_pki_dir",
                   "rotation_next_root_dir", "rotation_pki_dir", "rotation_next_pki_dir")
# Keys written under those folders: never through a symlink.
KEY_FILES = (("certmesh_mesh_root_dir", "root-ca.key"), ("mesh_ca_cluster_pki_dir", "intermediate-ca.key"),
             ("certmesh_mesh_root_dir", "shared-intermediate"),
             ("certmesh_mesh_root_dir", "shared-intermediate/intermediate-ca.key"),
             ("rotation_next_root_dir", "root-ca.key"), ("rotation_next_pki_dir", "intermediate-ca.key"))
# Names that must differ between inventory hosts: each names one cluster's files and identity.
UNIQUE_ACROSS_HOSTS = ("certmesh_cluster_name", "istio_csr_cluster_id")


def _where(name, host):
    return "%s (inventory host %s)" % (name, host)


def check_type(value, spec):
    """The argument-spec sentence for a value of the wrong type or choice, else None.

    Booleans and numbers typed on the command line (``-e x=false``, ``-e n=30``) arrive as
    strings; they pass when they stand for a boolean or a number, because every task reads
    them through ``| bool`` / ``| int``."""
    kind = spec.get("type", "str")
    if kind == "bool":
        try:
            rules.typed_boolean(value)
        except rules.InputRuleError as exc:
            return str(exc)
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not _is_number(value, kind):
            return "must be %s: got %r" % ("an integer" if kind == "int" else "a number", value)
    elif kind in ("str", "path"):
        if isinstance(value, (dict, list)):
            return rules.check_type(value, "str")
    else:
        broken = rules.check_type(value, kind, spec.get("elements"))
        if broken:
            return broken
    choices = spec.get("choices")
    if choices and value not in choices:
        return "must be one of %s: got %r" % (", ".join(str(c) for c in choices), value)
    return None


def _is_number(value, kind):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return kind == "float" or isinstance(value, int)
    if isinstance(value, str):
        try:
            int(value.strip()) if kind == "int" else float(value.strip())
        except ValueError:
            return False
        return True
    return False


def check_rules(name, value):
    """Sentences for every rule ``value`` of variable ``name`` breaks."""
    found = []
    rule = VARIABLE_RULES.get(name)
    if rule and not (name in EMPTY_ALLOWED and value in ("", None)):
        found.append(rules.check(rule, value))
    if name in ELEMENT_RULES and isinstance(value, list):
        for index, item in enumerate(value):
            broken = rules.check(ELEMENT_RULES[name], item)
            found.append(broken and "element %d %s" % (index, broken))
    if name in ITEM_FIELD_RULES and isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                found.append("element %d must be a dict: got %r" % (index, item))
                continue
            for field, field_rule in sorted(ITEM_FIELD_RULES[name].items()):
                if field in item and item[field] not in (None, ""):
                    broken = rules.check(field_rule, item[field])
                    found.append(broken and "[%d].%s %s" % (index, field, broken))
    if name in ISSUER_VARIABLES:
        found.extend(_issuer_problems(value))
    if name in LABEL_MAP_VARIABLES and isinstance(value, dict):
        for key, label in sorted(value.items(), key=lambda kv: str(kv[0])):
            broken = rules.check_label_key(key) or rules.check_label_value(label)
            found.append(broken and "[%r] %s" % (key, broken))
    return [item for item in found if item]


def _issuer_problems(value):
    if not isinstance(value, dict):
        return ["must be an issuer reference {name, kind, group}: got %r" % (value,)]
    found = []
    for field, rule in (("name", "dns1123_subdomain"), ("group", "dns1123_subdomain"), ("namespace", "dns1123_label")):
        if field == "name" or value.get(field):
            broken = rules.check(rule, value.get(field))
            found.append(broken and ".%s %s" % (field, broken))
    kind = value.get("kind", "ClusterIssuer")
    if not isinstance(kind, str) or not kind.isalnum() or not kind[:1].isupper():
        found.append(".kind must be a Kubernetes kind such as ClusterIssuer or Issuer: got %r" % (kind,))
    return found


def check_paths(values, realpath=os.path.realpath, islink=os.path.islink):
    """Sentences for PKI folders outside certmesh_output_dir and key paths that are symlinks.

    ``values`` holds one host's effective variables; ``realpath``/``islink`` are the file
    system's (passed in so tests can use a temporary folder)."""
    found = []
    output_dir = values.get("certmesh_output_dir")
    if not isinstance(output_dir, str) or not output_dir or "\x00" in output_dir:
        return [("certmesh_output_dir", "must be a folder path: got %r" % (output_dir,))]
    root = realpath(output_dir)
    for name in PKI_DIRECTORIES:
        folder = values.get(name)
        if not isinstance(folder, str) or not folder:
            continue
        if "\x00" in folder or not rules.is_inside(realpath(folder), root):
            found.append((name, "must be a folder inside certmesh_output_dir (%s), where the PKI is written: "
                                "got %r" % (root, folder)))
        elif islink(folder.rstrip("/")):
            found.append((name, "must not be a symlink (keys are never written through one): %r" % folder))
    for name, key_file in KEY_FILES:
        folder = values.get(name)
        if isinstance(folder, str) and folder and "\x00" not in folder:
            path = os.path.join(folder, key_file)
            if islink(path):
                found.append((name, "holds %s as a symlink; keys are never written through one: remove %s"
                                    % (key_file, path)))
    return found


def check_host(host, values, specs, user_set=None):
    """Problems of one inventory host: ``values`` are its effective variables, ``specs`` the
    argument spec options of every role (name -> spec), ``user_set`` the names the inventory
    or extra vars set.

    A default derived from a refused value (``istio_csr_cluster_id`` from a bad
    ``certmesh_cluster_name``, the PKI folders from a bad ``certmesh_environment``) is not
    refused again: the message names the variable the user wrote."""
    user_set = set(values) if user_set is None else set(user_set)
    found, refused_values, refused_names = [], [], set()
    for name in sorted(values, key=lambda n: (n not in user_set, n)):
        value = values[name]
        spec = specs.get(name)
        broken = check_type(value, spec) if spec else None
        sentences = [broken] if broken else check_rules(name, value)
        if not sentences:
            continue
        if name not in user_set and any(_same(value, seen) for seen in refused_values):
            continue
        refused_values.append(value)
        refused_names.add(name)
        found.extend("%s %s" % (_where(name, host), sentence) for sentence in sentences)
    found.extend(_lifetime_problems(host, values, refused_names))
    found.extend(_store_problems(host, values, refused_names))
    found.extend(preflight.ambient_problems(host, values))
    if refused_names & set(("certmesh_environment", "certmesh_cluster_name", "certmesh_output_dir")):
        return found
    path_problems = sorted(check_paths(values), key=lambda item: item[0] not in user_set)
    for name, sentence in path_problems:
        if name not in user_set and any(item[0] in user_set for item in path_problems):
            continue
        found.append("%s %s" % (_where(name, host), sentence))
        if name not in user_set:
            break
    return found


def _store_problems(host, values, refused_names):
    """The shared PKI store in Vault needs an address: without one every slice would fail at its
    first store call, after the input gate promised the inputs were fine."""
    if values.get("certmesh_pki_store") != "vault" or "certmesh_pki_store_vault_url" in refused_names:
        return []
    if values.get("certmesh_pki_store_vault_url") in ("", None):
        return ["%s must be set when certmesh_pki_store is vault: give Vault's address (e.g. "
                "https://vault.example.com:8200) or export VAULT_ADDR on the control node"
                % _where("certmesh_pki_store_vault_url", host)]
    return []


def _lifetime_problems(host, values, refused_names):
    """cert-manager's webhook rules for the gateway Certificates' lifetimes (at least 1h, renewed
    at least 5m before the end and before the duration ends); grammar is refused above."""
    hosts = values.get("gateway_certs_hosts")
    if not isinstance(hosts, list) or not all(isinstance(item, dict) for item in hosts) \
            or "gateway_certs_hosts" in refused_names:
        return []
    problems = preflight.certificate_lifetime_problems(
        hosts, values.get("gateway_certs_duration"), values.get("gateway_certs_renew_before"), "gateway_certs_hosts")
    # "gateway_certs_hosts[0] (Certificate app): ..." -> "... (Certificate app, inventory host c): ..."
    return [problem.replace("):", ", inventory host %s):" % host, 1)
            for problem in problems if "is not a Go duration" not in problem]


def _same(value, other):
    try:
        return value == other or (isinstance(other, str) and isinstance(value, str) and len(other) > 1
                                  and other in value)
    except Exception:  # values of odd types never match
        return False


def check_unique(values_by_host):
    """Problems for names that two inventory hosts share (each would overwrite the other's files)."""
    found = []
    for name in UNIQUE_ACROSS_HOSTS:
        seen = {}
        for host in sorted(values_by_host):
            value = values_by_host[host].get(name)
            if isinstance(value, str) and value:
                seen.setdefault(value, []).append(host)
        for value, hosts in sorted(seen.items()):
            if len(hosts) > 1:
                found.append("%s %r is given to several inventory hosts (%s): each cluster needs its own, or they "
                             "write the same CA files and identity" % (name, value, ", ".join(hosts)))
    found.extend(preflight.ambient_mesh_problems(values_by_host))
    return found


def unknown_variables(set_by_host, known, prefixes):
    """Warnings for variables users set that no role reads, with the closest known name.

    ``set_by_host``: host -> names the inventory or extra vars set; only names with one of
    ``prefixes`` (``certmesh_``, ``mesh_ca_``...) are judged. One warning per name."""
    hosts_by_name = {}
    for host, names in set_by_host.items():
        for name in names:
            if name.startswith(tuple(prefixes)) and name not in known:
                hosts_by_name.setdefault(name, []).append(host)
    warnings = []
    for name, hosts in sorted(hosts_by_name.items()):
        guess = rules.closest_name(name, known)
        warnings.append("%s (inventory host %s) is not a variable of certmesh.istio and is ignored%s"
                        % (name, ", ".join(sorted(hosts)),
                           "; did you mean %s?" % guess if guess else ""))
    return warnings


def refusal(problems):
    """One message for every problem found, each named once."""
    unique = []
    for item in problems:
        if item not in unique:
            unique.append(item)
    if len(unique) == 1:
        return "Input refused before anything was written: %s." % unique[0]
    return "%d inputs refused before anything was written: %s." % (len(unique), "; ".join(unique))
