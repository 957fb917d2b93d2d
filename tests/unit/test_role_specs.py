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
