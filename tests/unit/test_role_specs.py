"""Every role's argument_specs.yml and README table are generated from, and match, its defaults."""

import subprocess
import sys

import pytest

from tests.support.playbook import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import role_specs  # noqa: E402  pylint: disable=wrong-import-position


def test_role_specs_and_readmes_are_in_step_with_defaults():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "role_specs.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, "run scripts/role_specs.py to refresh:\n" + result.stdout


def test_every_role_has_an_argument_spec_with_typed_described_options():
    roles = [d for d in (REPO_ROOT / "roles").iterdir() if (d / "defaults" / "main.yml").exists()]
    assert len(roles) >= 7
    for role in roles:
        spec = role_specs.build_spec(role)["argument_specs"]["main"]["options"]
        for name, option in spec.items():
            assert option["type"] in {"str", "bool", "int", "float", "list", "dict", "path", "raw"}, (role.name, name)
            assert option["description"], (role.name, name)


def test_a_variable_without_a_comment_is_refused(tmp_path):
    role = tmp_path / "demo"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "meta" / "main.yml").write_text("galaxy_info:\n  description: demo\n")
    (role / "defaults" / "main.yml").write_text("---\ndemo_undocumented: 1\n")
    with pytest.raises(SystemExit, match="demo_undocumented"):
        role_specs.build_spec(role)


def test_annotations_become_spec_keys():
    text = "# Mode.\n# @choices apply render\nx_mode: apply\n# Items.\n# @elements dict\nx_items: []\n"
    assert role_specs.parse_defaults(text) == [
        ("x_mode", "Mode.", {"choices": "apply render"}),
        ("x_items", "Items.", {"elements": "dict"}),
    ]


def _demo_role(tmp_path, defaults, readme=None):
    role = tmp_path / "demo"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "meta" / "main.yml").write_text("galaxy_info:\n  description: Demo summary.\n")
    (role / "defaults" / "main.yml").write_text(defaults)
    if readme is not None:
        (role / "README.md").write_text(readme)
    return role


def test_a_computed_default_of_a_non_string_type_is_described_not_given_as_default(tmp_path):
    role = _demo_role(tmp_path, "---\n# The issuer.\n# @type dict\ndemo_issuer: \"{{ other_issuer }}\"\n"
                                "# Whether on.\n# @type bool\ndemo_on: \"{% if x %}true{% endif %}\"\n")
    options = role_specs.build_spec(role)["argument_specs"]["main"]["options"]
    assert "default" not in options["demo_issuer"] and "default" not in options["demo_on"]
    assert options["demo_issuer"]["description"] == "The issuer. Default (computed at run time): `{{ other_issuer }}`."
    assert "{% if x %}true{% endif %}" in options["demo_on"]["description"]
    assert "computed, see description" in role_specs.render_table(role_specs.build_spec(role))


def test_a_computed_default_of_a_string_type_stays_the_default(tmp_path):
    role = _demo_role(tmp_path, "---\n# The namespace.\ndemo_namespace: \"{{ other_namespace }}\"\n")
    option = role_specs.build_spec(role)["argument_specs"]["main"]["options"]["demo_namespace"]
    assert option["default"] == "{{ other_namespace }}" and option["description"] == "The namespace."


def test_the_entry_point_is_described_by_the_readme_first_paragraph(tmp_path):
    role = _demo_role(tmp_path, "---\n# A value.\ndemo_value: 1\n",
                      readme="# certmesh.istio.demo\n\nDoes the demo\nthing, see [the docs](../docs/x.md).\n\nMore.\n")
    main = role_specs.build_spec(role)["argument_specs"]["main"]
    assert main["short_description"] == "Demo summary."
    assert main["description"] == ["Does the demo thing, see the docs."]


def test_the_entry_point_falls_back_to_the_summary_without_a_readme_paragraph(tmp_path):
    role = _demo_role(tmp_path, "---\n# A value.\ndemo_value: 1\n", readme="# demo\n\nIt refuses:\n\n- this\n")
    assert role_specs.build_spec(role)["argument_specs"]["main"]["description"] == ["Demo summary."]
    assert role_specs.build_spec(_demo_role(tmp_path / "b", "---\n# A value.\ndemo_value: 1\n"))[
        "argument_specs"]["main"]["description"] == ["Demo summary."]


def test_every_role_entry_point_has_a_description_and_no_templated_default_for_a_non_string_type():
    roles = [d for d in (REPO_ROOT / "roles").iterdir() if (d / "defaults" / "main.yml").exists()]
    for role in roles:
        main = role_specs.build_spec(role)["argument_specs"]["main"]
        assert main["description"] and all(main["description"]), role.name
        for name, option in main["options"].items():
            if option["type"] not in role_specs.STRING_TYPES:
                assert not role_specs.is_computed(option.get("default")), (role.name, name)


def test_a_pipe_in_a_described_default_does_not_split_the_readme_table_row(tmp_path):
    role = _demo_role(tmp_path, "---\n# The issuer.\n# @type dict\ndemo_issuer: \"{{ a | default(b) }}\"\n")
    row = role_specs.render_table(role_specs.build_spec(role)).splitlines()[4]
    assert row.count(" | ") == 3 and "a \\| default(b)" in row
