"""A render whose string inputs all carry a payload is refused, or has the default render's shape.

Every string input is found by walking the roles' meta/argument_specs.yml (roles/common's
certmesh_* variables included): options of type str with a non-empty default, and the string
leaves of list and dict options with literal defaults (gateway hosts, selectors, issuers,
authorization policies, revisions). Left out, each for a reason:

- options with ``choices`` (the argument spec refuses any other value, by design and in the
  middle of the run, so a payload there would only mask the others);
- empty defaults (they switch features on: a value there is another design, not a payload);
- folders and files on the control node (certmesh_output_dir, certmesh_mesh_root_dir,
  certmesh_render_dir, mesh_ca_cluster_pki_dir, certmesh_environment, which only names folders)
  and inputs of certificate generation that never reach an object (validity, curve,
  organization, common names); path containment is unit-tested in test_render.py;
- roles that build no object (preflight, verify, rotation, mesh_verify, diagnose, manifest_sink)
  and vault_pki with certmesh_vault_issuer, which need Vault: that builder is unit-tested with
  the same payloads.

An input whose default is a template of other inputs (istio_ca_address, gateway_certs_namespace,
istio_csr_cluster_id, ...) keeps it: it carries their payloads, as a value set directly would.
One payload is given to every other selected variable at once, numbered per variable so each can be
found in the output, and marked !unsafe so Ansible keeps it literal (a default that is a template stays literal too:
one more ``{{``):
"<default>\nextra: 'injected-NNN'\n\"key\": x {{ x }} {% raw %} ../../ Zürich-東京-NNN" - a
newline and a colon, quotes, Jinja, ../ and non-ASCII in one value. A run is refused when it
fails, without a traceback, with a message naming the variable or quoting its payload (naming
it is the input gate's own acceptance test); those variables are then covered, and the run is
repeated for the variables it did not cover, so one variable's refusal never masks another's.
Every component a refused run already wrote must have the default shape. An input gate that
names every broken variable at once keeps this to one refused run; without a gate, today's
checks refuse a few variables in turn (cluster name, gateway lifetimes, workload duration) and
the last run renders. A render must have the default render's components, each with the same
files of the same shapes (paths of keys and list lengths), and every variable's payload must
show up whole in one scalar.
"""

import json
import re

import pytest
import yaml

from tests.support.object_shape import carries, key_paths
from tests.support.playbook import REPO_ROOT, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("object_shape")]

OBJECT_ROLES = ["common", "cert_manager", "mesh_ca", "istio_csr", "istio", "gateway_certs", "mesh_policy"]
NOT_OBJECT_INPUTS = {
    "certmesh_output_dir", "certmesh_mesh_root_dir", "certmesh_render_dir", "certmesh_environment",
    "mesh_ca_cluster_pki_dir", "mesh_ca_root_not_after", "mesh_ca_intermediate_not_after", "mesh_ca_key_curve",
    "mesh_ca_organization", "mesh_ca_root_common_name", "mesh_ca_intermediate_common_name",
}
# Inputs the default design (certmesh_ca_backend ca) does not use; vault_pki's builder is unit-tested.
VAULT_ONLY_INPUTS = {"certmesh_vault_issuer"}
# Inputs of designs the default render does not use either (trust-manager, Gateway API gateways, the
# kubernetes and vault PKI stores, apply mode's field manager); their builders and rules are unit-tested.
OPTIONAL_DESIGN_INPUTS = {"certmesh_trust_manager_version", "certmesh_trust_bundle_name", "gateway_certs_gateway_class",
                          "certmesh_pki_store_namespace", "certmesh_field_manager", "certmesh_pki_store_vault_url",
                          "certmesh_pki_store_vault_namespace", "certmesh_pki_store_vault_ca_cert",
                          "certmesh_pki_store_vault_mount", "certmesh_pki_store_vault_path"}
# A str option whose default is a mapping from another variable (covered through that variable).
MAPPING_DEFAULTS = {"gateway_certs_issuer"}
# Mapping keys whose values are choices, not free text (an issuer's kind decides its scope).
CHOICE_KEYS = {"kind"}


def _options():
    for role in OBJECT_ROLES:
        spec = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for name, option in (spec["argument_specs"]["main"].get("options") or {}).items():
            yield name, option


_REFERENCE = re.compile(r"\b([a-z][a-z0-9_]*)\b")


def string_inputs():
    """{variable: default} for every string input (see the module docstring for what is left out)."""
    inputs = {}
    for name, option in _options():
        default = option.get("default")
        if name in NOT_OBJECT_INPUTS | MAPPING_DEFAULTS | VAULT_ONLY_INPUTS | OPTIONAL_DESIGN_INPUTS or option.get("choices") or option.get("no_log"):
            continue
        if option.get("type", "str") == "str" and isinstance(default, str) and default:
            inputs[name] = default
        elif isinstance(default, (list, dict)) and default and "{{" not in json.dumps(default):
            inputs[name] = default
    return inputs


def inheriting_inputs(inputs):
    """Inputs whose default is a template of other inputs: they carry those inputs' payloads."""
    return {name for name, default in inputs.items()
            if isinstance(default, str) and "{{" in default and set(_REFERENCE.findall(default)) & (set(inputs) - {name})}


def payload_inputs():
    """{variable: default} of the inputs given a payload of their own."""
    inputs = string_inputs()
    return {name: default for name, default in inputs.items() if name not in inheriting_inputs(inputs)}


def _with_payload(value, payload):
    if isinstance(value, dict):
        return {k: (v if k in CHOICE_KEYS else _with_payload(v, payload)) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_payload(v, payload) for v in value]
    return value + payload if isinstance(value, str) and value else value


def _marker(name):
    # A number, not the name: a refusal that quotes the value must not count as naming the variable.
    return "%03d" % sorted(string_inputs()).index(name)


def payload(name):
    return "\nextra: 'injected-%s'\n\"key\": x {{ x }} {%% raw %%} ../../ Zürich-東京-%s" % (_marker(name), _marker(name))


def _named(name, output):
    return re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(name), output) is not None


class _Unsafe(str):
    pass


def _unsafe_dumper():
    dumper = type("UnsafeDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(_Unsafe, lambda d, v: d.represent_scalar("!unsafe", str(v), style='"'))
    return dumper


def _unsafe(value):
    if isinstance(value, dict):
        return {k: _unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    return _Unsafe(value) if isinstance(value, str) else value


def _rendered(root):
    """{path relative to the cluster's render folder: document} for every object and Helm file."""
    documents = {}
    for index in root.rglob("INDEX.md"):
        if not (index.parent / "pki").is_dir() and not (index.parent / "kustomization.yaml").is_file():
            continue  # the environment's INDEX.md, over the clusters
        for path in sorted(index.parent.rglob("*.yaml")):
            documents[str(path.relative_to(index.parent))] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return documents


def _render(tmp_path, label, variables, unsafe=True):
    run_dir = tmp_path / label
    run_dir.mkdir()
    vars_file = run_dir / "payload.yml"
    values = dict(variables, certmesh_output_dir=str(run_dir / "out"))
    vars_file.write_text(yaml.dump(_unsafe(values) if unsafe else values, Dumper=_unsafe_dumper(),
                                   allow_unicode=True, sort_keys=True), encoding="utf-8")
    result = run_playbook("playbooks/site.yml", "-e", "@%s" % vars_file, tmp_path=run_dir)
    (run_dir / "output.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
    return result, _rendered(run_dir / "out")


def _shapes(documents):
    """{component: sorted shapes of its files}: file names follow object names, so shapes are compared."""
    shapes = {}
    for path, document in documents.items():
        component, name = path.split("/", 1) if "/" in path else (".", path)  # "." : the cluster's own files
        kind = "values-" + name.rsplit("/", 1)[-1][:-len(".values.yaml")] if name.endswith(".values.yaml") \
            else (document or {}).get("kind")
        shapes.setdefault(component, []).append((str(kind), sorted(map(repr, key_paths(document)))))
    return {component: sorted(files) for component, files in shapes.items()}


@pytest.fixture(scope="module")
def default_render(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("default")
    result, documents = _render(tmp, "default", {})
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(documents) >= 15
    return documents


def _quoted(name, output):
    """True when output quotes name's payload (its number survives any escaping of the value)."""
    return ("injected-%s" % _marker(name)) in output


def _render_with_payloads(default_render, tmp_path):
    """Render with every input carrying its payload; return {variable: 'refused'|'rendered'}."""
    remaining = payload_inputs()
    covered = {}
    for attempt in range(len(remaining) + 1):
        if not remaining:
            break
        variables = {name: _with_payload(default, payload(name)) for name, default in remaining.items()}
        result, documents = _render(tmp_path, "run%d" % attempt, variables)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output[-3000:]
        if result.returncode != 0:
            named = {name for name in remaining if _named(name, output) or _quoted(name, output)}
            assert named, "refused without naming or quoting a variable:\n" + output[-3000:]
            # A check that runs late (after some components were written) must still find
            # every written component in the default shape; refusing before anything is written
            # is the input gate's promise, tested with the gate.
            written = _shapes(documents)
            assert written == {c: s for c, s in _shapes(default_render).items() if c in written}, (
                "a refused run wrote objects of another shape")
            covered.update(dict.fromkeys(named, "refused"))
            remaining = {name: value for name, value in remaining.items() if name not in named}
            continue
        assert _shapes(documents) == _shapes(default_render), "the payload changed the shape of the render"
        for name in remaining:
            if name not in covered:
                assert any(carries(doc, payload(name)) for doc in documents.values()), (
                    "%s: its payload is not one scalar of any object" % name)
                covered[name] = "rendered"
        break
    assert set(covered) == set(payload_inputs())
    return covered


def test_the_walk_finds_the_string_inputs_that_reach_objects():
    inputs = string_inputs()
    assert {"certmesh_trust_domain", "certmesh_cert_manager_namespace", "certmesh_ca_secret_name",
            "istio_csr_cluster_id", "gateway_certs_hosts", "mesh_policy_authorization_policies"} <= set(inputs)
    assert len(inputs) >= 30
    assert {"istio_ca_address", "gateway_certs_namespace", "istio_csr_cluster_id"} <= inheriting_inputs(inputs)
    assert "certmesh_cluster_name" in payload_inputs()  # its default names a host, not another input


def test_every_object_of_a_render_whose_string_inputs_all_carry_a_payload_is_refused_or_of_the_default_shape(
        default_render, tmp_path):
    covered = _render_with_payloads(default_render, tmp_path)
    assert "rendered" in covered.values(), "every input was refused: the shape of a render was never checked"
