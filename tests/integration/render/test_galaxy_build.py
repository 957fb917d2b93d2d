"""The built collection tarball installs offline and its playbooks and roles run by FQCN."""

import pathlib
import subprocess
import sys

import pytest

from tests.support.playbook import REPO_ROOT, playbook_env, recap

# One worker runs the whole module, so its module-scoped fixture is built once (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("galaxy_build")]

INVENTORY = """\
mesh:
  hosts:
    edge1:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""
ROLE_PLAYBOOK = """\
- name: Use one role of the installed collection by its full name
  hosts: all
  gather_facts: false
  roles:
    - role: certmesh.istio.mesh_policy
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the tarball from the checkout and install it into an isolated collections path."""
    tmp = tmp_path_factory.mktemp("galaxy")
    (tmp / "ansible.cfg").write_text("[defaults]\ncollections_path = %s\n" % (tmp / "collections"))
    env = playbook_env(tmp, ANSIBLE_CONFIG=str(tmp / "ansible.cfg"))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    galaxy = str(pathlib.Path(sys.executable).parent / "ansible-galaxy")
    build = subprocess.run([galaxy, "collection", "build", str(REPO_ROOT), "--output-path", str(tmp)],
                           cwd=tmp, env=env, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = next(tmp.glob("certmesh-istio-*.tar.gz"))
    install = subprocess.run([galaxy, "collection", "install", str(tarball), "-p", str(tmp / "collections")],
                             cwd=tmp, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    (tmp / "inventory.yml").write_text(INVENTORY)
    return {"tmp": tmp, "env": env, "tarball": tarball, "install": install}


def test_install_needs_no_galaxy_access(installed):
    assert "certmesh.istio:" in installed["install"].stdout and "was installed successfully" in installed["install"].stdout
    root = installed["tmp"] / "collections" / "ansible_collections" / "certmesh" / "istio"
    assert (root / "plugins" / "modules" / "manifest_render.py").is_file()
    assert (root / "roles" / "mesh_ca" / "meta" / "argument_specs.yml").is_file()
    assert not (root / ".venv").exists() and not (root / ".build").exists()


def test_installed_site_playbook_runs_by_fqcn(installed):
    playbook = str(pathlib.Path(sys.executable).parent / "ansible-playbook")
    result = subprocess.run(
        [playbook, "certmesh.istio.site", "-i", "inventory.yml", "-e", "certmesh_output_dir=%s" % (installed["tmp"] / "out")],
        cwd=installed["tmp"], env=installed["env"], capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert recap(result.stdout)["edge1"]["failed"] == 0
    assert (installed["tmp"] / "out" / "local" / "edge1" / "mesh_ca" / "clusterissuer.istio-ca.yaml").is_file()


def test_installed_role_runs_by_fqcn(installed):
    (installed["tmp"] / "role.yml").write_text(ROLE_PLAYBOOK)
    playbook = str(pathlib.Path(sys.executable).parent / "ansible-playbook")
    result = subprocess.run(
        [playbook, "role.yml", "-i", "inventory.yml", "-e", "certmesh_output_dir=%s" % (installed["tmp"] / "role-out")],
        cwd=installed["tmp"], env=installed["env"], capture_output=True, text=True, check=False, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert (installed["tmp"] / "role-out" / "local" / "edge1" / "mesh_policy" / "istio-system.peerauthentication.mesh-wide.yaml").is_file()
