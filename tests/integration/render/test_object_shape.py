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
  and vault_pki, which needs Vault: its builder is unit-tested with the same payloads.

Two payload families, each given to every selected variable at once, marked with the variable's
name so each one can be found in the output: "<default>\\nextra: 'injected-<var>'\\n\\"key\\": x"
(newline, colon, quotes) and, with !unsafe so Ansible keeps it literal, "<default> {{ x }}
{% raw %} ../../ Zürich-東京-<var>" (Jinja, ../ and non-ASCII). A run is refused when it fails
with a message naming some of the variables and no object was rendered; those variables are
then covered, and the run is repeated for the variables it did not name, so one variable's
refusal never masks another's (an input gate that names every broken variable at once keeps this
to one refused run per family; without a gate, the run renders and every object is checked).
A render must have exactly the default render's files, and each file the same paths of keys and
list lengths; every variable must show up whole in one scalar, or be named by a refusal.
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
# A str option whose default is a mapping from another variable (covered through that variable).
MAPPING_DEFAULTS = {"gateway_certs_issuer"}
# Mapping keys whose values are choices, not free text (an issuer's kind decides its scope).
CHOICE_KEYS = {"kind"}


def _options():
    for role in OBJECT_ROLES:
        spec = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for name, option in (spec["argument_specs"]["main"].get("options") or {}).items():
            yield name, option


def string_inputs():
    """{variable: default} for every string input (see the module docstring for what is left out)."""
    inputs = {}
    for name, option in _options():
        default = option.get("default")
        if name in NOT_OBJECT_INPUTS or name in MAPPING_DEFAULTS or option.get("choices") or option.get("no_log"):
            continue
        if option.get("type", "str") == "str" and isinstance(default, str) and default:
            inputs[name] = default
        elif isinstance(default, (list, dict)) and default and "{{" not in json.dumps(default):
            inputs[name] = default
    return inputs


def _with_payload(value, payload):
    if isinstance(value, dict):
        return {k: (v if k in CHOICE_KEYS else _with_payload(v, payload)) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_payload(v, payload) for v in value]
    return value + payload if isinstance(value, str) and value else value


def _marker(name):
    # A number, not the name: a refusal that quotes the value must not count as naming the variable.
    return "%03d" % sorted(string_inputs()).index(name)


def newline_payload(name):
    return "\nextra: 'injected-%s'\n\"key\": x" % _marker(name)


def jinja_payload(name):
    return " {{ x }} {%% raw %%} ../../ Zürich-東京-%s" % _marker(name)


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
        for path in sorted(index.parent.glob("*/*.yaml")):
            documents[str(path.relative_to(index.parent))] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return documents


def _render(tmp_path, label, variables, unsafe):
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
        component, name = path.split("/", 1)
        kind = "helm-" + name.rsplit(".", 2)[-2] if name.startswith("helm-") else (document or {}).get("kind")
        shapes.setdefault(component, []).append((str(kind), sorted(map(repr, key_paths(document)))))
    return {component: sorted(files) for component, files in shapes.items()}


@pytest.fixture(scope="module")
def default_render(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("default")
    result, documents = _render(tmp, "default", {}, unsafe=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(documents) >= 15
    return documents


def _family(default_render, tmp_path, payload, unsafe):
    """Render with every input carrying payload; return {variable: 'refused'|'rendered'}."""
    remaining = string_inputs()
    covered = {}
    for attempt in range(len(remaining) + 1):
        if not remaining:
            break
        variables = {name: _with_payload(default, payload(name)) for name, default in remaining.items()}
        result, documents = _render(tmp_path, "run%d" % attempt, variables, unsafe)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output[-3000:]
        if result.returncode != 0:
            named = {name for name in remaining if _named(name, output)}
            assert named, "refused without naming a variable:\n" + output[-3000:]
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
    assert set(covered) == set(string_inputs())
    return covered


def test_the_walk_finds_the_string_inputs_that_reach_objects():
    inputs = string_inputs()
    assert {"certmesh_trust_domain", "certmesh_cert_manager_namespace", "certmesh_ca_secret_name",
            "istio_csr_cluster_id", "gateway_certs_hosts", "mesh_policy_authorization_policies"} <= set(inputs)
    assert len(inputs) >= 30


def test_a_newline_colon_and_quotes_in_every_string_input_is_refused_or_keeps_every_object_shape(default_render, tmp_path):
    _family(default_render, tmp_path, newline_payload, unsafe=False)


def test_jinja_dot_dot_slashes_and_non_ascii_in_every_string_input_are_refused_or_kept_byte_exact(default_render, tmp_path):
    _family(default_render, tmp_path, jinja_payload, unsafe=True)
