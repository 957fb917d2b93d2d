"""mesh_ca accepts an existing CA, and refuses a broken one before writing anything."""

import base64

import pytest
import yaml

from tests.support.pki_factory import make_intermediate, make_key, make_leaf, make_root
from tests.support.playbook import run_playbook

# One worker runs the whole module, so its module-scoped fixture is built once (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bring_your_own_ca")]


@pytest.fixture(scope="module")
def brought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    root = make_root(common_name="corp root")
    intermediate = make_intermediate(root, common_name="corp mesh intermediate", path_length=0)
    (folder / "root.crt").write_text(root.pem)
    (folder / "ca.crt").write_text(intermediate.pem)
    (folder / "ca.key").write_text(intermediate.key_pem)
    (folder / "other.key").write_text(make_intermediate(root, key=make_key("ec", cached=False)).key_pem)
    leaf = make_leaf(intermediate, dns_names=["not-a-ca.example.com"], key=make_key("ec", cached=False))
    (folder / "leaf.crt").write_text(leaf.pem)
    (folder / "leaf.key").write_text(leaf.key_pem)
    return folder


def _run(tmp_path, folder, certificate="ca.crt", key="ca.key"):
    out = tmp_path / "out"
    extra = {
        "certmesh_output_dir": str(out),
        "mesh_ca_byo_ca_certificate": str(folder / certificate),
        "mesh_ca_byo_ca_key": str(folder / key),
        "mesh_ca_byo_root_certificate": str(folder / "root.crt"),
    }
    return out, run_playbook("playbooks/site.yml", extra_vars=extra, tmp_path=tmp_path)


def test_a_brought_ca_is_used_instead_of_generating_one(tmp_path, brought):
    out, result = _run(tmp_path, brought)
    assert result.returncode == 0, result.stdout[-4000:]
    secret = yaml.safe_load((out / "local" / "cluster1" / "secrets" / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml").read_text())
    assert base64.b64decode(secret["data"]["tls.crt"]).decode().startswith((brought / "ca.crt").read_text().strip())
    assert base64.b64decode(secret["data"]["ca.crt"]).decode().strip() == (brought / "root.crt").read_text().strip()
    assert not (out / "local" / "mesh-root" / "root-ca.key").exists()
    assert (brought / "ca.key").read_text().splitlines()[1] not in result.stdout


def test_a_key_that_does_not_match_the_certificate_is_refused_before_any_change(tmp_path, brought):
    out, result = _run(tmp_path, brought, key="other.key")
    assert result.returncode != 0
    assert "cluster cluster1" in result.stdout and "mesh_ca_byo_ca_key is not the key of this certificate" in result.stdout
    assert not out.exists()


def test_a_certificate_that_is_not_a_ca_is_refused_before_any_change(tmp_path, brought):
    out, result = _run(tmp_path, brought, certificate="leaf.crt", key="leaf.key")
    assert result.returncode != 0
    assert "cluster cluster1" in result.stdout and "[not_a_ca]" in result.stdout
    assert not out.exists()


def test_a_gateway_certificate_lifetime_cert_manager_refuses_stops_the_cluster_before_anything_is_rendered(tmp_path):
    out = tmp_path / "out"
    result = run_playbook("playbooks/site.yml", extra_vars={
        "certmesh_output_dir": str(out), "gateway_certs_duration": "90d", "gateway_certs_renew_before": "1m"},
        tmp_path=tmp_path)
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    # The input gate refuses both in one message, before the mesh PKI or any manifest is written.
    assert ("gateway_certs_duration (inventory host cluster1) must be a Go duration" in text and "90 days = 2160h" in text
            and "gateway_certs_hosts[0] (Certificate app, inventory host cluster1): renew_before 1m is shorter than "
                "the 5m cert-manager accepts" in text), result.stdout[-4000:]
    assert not out.exists()
