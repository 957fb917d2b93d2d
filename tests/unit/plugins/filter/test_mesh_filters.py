"""The x509_info and spiffe_id filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certmesh.istio.plugins.filter.spiffe_id import FilterModule as SpiffeFilters
from ansible_collections.certmesh.istio.plugins.filter.x509_info import FilterModule as X509Filters
from tests.support.pki_factory import MeshPKI, bundle

x509_info = X509Filters().filters()["x509_info"]
spiffe_id = SpiffeFilters().filters()["spiffe_id"]


@pytest.fixture(scope="module")
def mesh():
    return MeshPKI()


def test_x509_info_summarises_the_first_certificate(mesh):
    info = x509_info(bundle(mesh.workload, mesh.intermediate))
    assert info["spiffe_id"] == "spiffe://cluster.local/ns/shop/sa/frontend" and info["is_ca"] is False


def test_x509_info_all_returns_every_certificate(mesh):
    infos = x509_info(bundle(mesh.workload, mesh.intermediate), all=True)
    assert [i["is_ca"] for i in infos] == [False, True]


def test_x509_info_counts_seconds_left_from_at(mesh):
    at = mesh.workload.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert x509_info(mesh.workload.pem, at=at)["seconds_left"] == 0


@pytest.mark.parametrize("bad", ["", "garbage", 42])
def test_x509_info_rejects_bad_input_with_a_filter_error(bad):
    with pytest.raises(AnsibleFilterError) as caught:
        x509_info(bad)
    assert "certmesh.istio.x509_info" in str(caught.value)


def test_x509_info_on_a_private_key_does_not_echo_it(mesh):
    with pytest.raises(AnsibleFilterError) as caught:
        x509_info(mesh.workload.key_pem)
    assert mesh.workload.key_pem.splitlines()[1] not in str(caught.value)


def test_spiffe_id_parses_an_istio_id():
    parsed = spiffe_id("spiffe://cluster.local/ns/shop/sa/frontend")
    assert (parsed["valid"], parsed["namespace"], parsed["service_account"]) == (True, "shop", "frontend")


def test_spiffe_id_raises_on_an_invalid_id_when_strict():
    with pytest.raises(AnsibleFilterError) as caught:
        spiffe_id("spiffe://Cluster.local/ns/a/sa/b")
    assert "lowercase" in str(caught.value)


def test_spiffe_id_returns_the_error_when_not_strict():
    parsed = spiffe_id("https://x/ns/a/sa/b", strict=False)
    assert parsed["valid"] is False and "spiffe://" in parsed["error"]


def test_spiffe_id_checks_the_trust_domain_when_given():
    parsed = spiffe_id("spiffe://east.example/ns/a/sa/b", strict=False, trust_domain="cluster.local")
    assert parsed["valid"] is False and "'cluster.local'" in parsed["error"]


def test_spiffe_id_accepts_non_istio_paths_when_asked():
    assert spiffe_id("spiffe://example.org/workload/web", istio=False)["path"] == "/workload/web"


def test_certificate_lifetime_problems_is_a_filter_of_the_collection():
    from ansible_collections.certmesh.istio.plugins.filter.certificate_lifetime_problems import FilterModule
    lifetime_problems = FilterModule().filters()["certificate_lifetime_problems"]
    assert lifetime_problems([{"name": "app", "duration": "30m"}], variable="hosts") == [
        "hosts[0] (Certificate app): duration 30m is shorter than the 1h cert-manager accepts"]
