"""Issue 5 end to end: a running mesh switched from cert-manager's CA issuer to Vault without breaking trust.

The Kubernetes API emulator with ``CertManagerVaultStandIn`` (cert-manager's CA and vault issuers),
the helm stand-in and the Vault emulator; ``playbooks/site.yml`` then ``playbooks/vault.yml``.
"""

import base64
import gzip
import json

import pytest
import yaml
from cryptography import x509

from ansible_collections.certmesh.istio.plugins.module_utils import chain as chain_utils
from tests.emulators.cert_manager_vault import CertManagerVaultStandIn
from tests.support.playbook import APPLY_TEST_CA, playbook_env, recap, run_playbook
from tests.support.upstream import crd_validator

pytestmark = pytest.mark.slow

CM_API = "cert-manager.io/v1"
ISTIO_CSR = "cert-manager-istio-csr"


def _failure(result):
    return result.stdout[-6000:] + result.stderr[-3000:]


def _inventory(tmp_path, cluster):
    hosts = {cluster.name: {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "certmesh_kubeconfig": cluster.kubeconfig,
        "certmesh_kube_context": cluster.context,
    }}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"mesh": {"hosts": hosts}, "all": {"vars": dict(APPLY_TEST_CA, certmesh_environment="test")}}))
    return path


def _ready(obj):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (obj.get("status") or {}).get("conditions", []))


def _deployed_values(api, release):
    secrets = api.list("v1", "Secret", "cert-manager", label_selector="owner=helm,name=%s,status=deployed" % release)
    assert len(secrets) == 1, secrets
    record = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secrets[0]["data"]["release"]))))
    return int(secrets[0]["metadata"]["labels"]["version"]), record["config"]


@pytest.fixture
def mesh(tmp_path, vault_emulator, kube_emulator_factory, helm_standin):
    """One emulated cluster whose cert-manager stand-in also serves vault issuers, and a runner."""
    cluster = kube_emulator_factory("east", crds=False, controllers=[CertManagerVaultStandIn(vault_emulator.emulator)])
    inventory = _inventory(tmp_path, cluster)
    env = playbook_env(tmp_path, **helm_standin.env)
    env.pop("KUBECONFIG", None)
    env.update(VAULT_ADDR=vault_emulator.url, VAULT_TOKEN=vault_emulator.root_token)

    def run(playbook, *args, extra_vars=None):
        merged = {"certmesh_output_dir": str(tmp_path / "out"), "vault_pki_kubernetes_host": cluster.url}
        merged.update(extra_vars or {})
        return run_playbook(playbook, "-i", str(inventory), *args, extra_vars=merged, tmp_path=tmp_path, env=env)

    run.cluster = cluster
    run.mesh_root = tmp_path / "out" / "test" / "mesh-root" / "root-ca.crt"
    return run


def test_a_running_mesh_switches_to_vault_keeping_trust_and_a_second_run_changes_nothing(mesh, vault_emulator):
    api = mesh.cluster.emulator
    site = mesh("playbooks/site.yml")
    assert site.returncode == 0, _failure(site)
    revision_before, values_before = _deployed_values(api, ISTIO_CSR)
    assert values_before["app"]["certmanager"]["issuer"]["name"] == "istio-ca"

    switch = mesh("playbooks/vault.yml")
    assert switch.returncode == 0, _failure(switch)
    assert vault_emulator.root_token not in switch.stdout + switch.stderr
    assert "PRIVATE KEY" not in switch.stdout + switch.stderr

    # the vault ClusterIssuer, as the real cert-manager CRD accepts it, Ready through Kubernetes auth
    issuer = api.get(CM_API, "ClusterIssuer", "vault-istio-ca")
    desired = {k: v for k, v in issuer.items() if k in ("apiVersion", "kind", "spec")}
    desired["metadata"] = {"name": "vault-istio-ca"}
    assert crd_validator(CM_API, "ClusterIssuer").errors(desired) == []
    assert issuer["spec"]["vault"] == {
        "server": vault_emulator.url, "path": "pki_int/sign/istio-mesh",
        "auth": {"kubernetes": {"role": "cert-manager", "mountPath": "/v1/auth/kubernetes",
                                "serviceAccountRef": {"name": "vault-issuer"}}}}
    assert _ready(issuer), issuer.get("status")
    assert api.get("v1", "ServiceAccount", "vault-issuer", "cert-manager") is not None
    role = api.get("rbac.authorization.k8s.io/v1", "Role", "vault-issuer-token-creator", "cert-manager")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["serviceaccounts/token"],
                              "resourceNames": ["vault-issuer"], "verbs": ["create"]}]

    # istio-csr: the same release upgraded, now naming the vault issuer, still pinned to the mesh root
    revision_after, values_after = _deployed_values(api, ISTIO_CSR)
    assert revision_after == revision_before + 1
    assert values_after["app"]["certmanager"]["issuer"] == {
        "enabled": True, "name": "vault-istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert values_after["app"]["tls"]["rootCAFile"] == values_before["app"]["tls"]["rootCAFile"]

    # the role's probe went through cert-manager's vault issuer, and it chains to the mesh root
    probe = api.get(CM_API, "Certificate", "certmesh-verify-vault-workload", "istio-system")
    assert _ready(probe), probe.get("status")

    # a workload SVID as istio-csr asks for it (only a SPIFFE URI SAN, no CN), signed by the Vault role
    # with the token cert-manager gets: it verifies against the mesh root workloads already trust
    token = vault_emulator.emulator.create_token(["cert-manager-istio-mesh"])
    spiffe_id = "spiffe://cluster.local/ns/shop/sa/cart"
    signed = vault_emulator.sign_workload_csr("pki_int/sign/istio-mesh", spiffe_id, token=token, key_type="rsa")
    assert signed["status"] == 200, signed
    store = chain_utils.load_store(str(mesh.mesh_root))
    result = chain_utils.check([signed["data"]["certificate"]] + signed["data"]["ca_chain"], store,
                               purpose="workload", trust_domain="cluster.local")
    assert result["valid"], result["problems"]
    mesh_root = x509.load_pem_x509_certificate(mesh.mesh_root.read_bytes())
    assert result["chain"][-1]["subject"] == mesh_root.subject.rfc4514_string(), result["chain"]

    again = mesh("playbooks/vault.yml")
    assert again.returncode == 0, _failure(again)
    assert recap(again.stdout)["east"]["changed"] == 0, _failure(again)
    assert _deployed_values(api, ISTIO_CSR)[0] == revision_after

    # the choice lives in the inventory: site.yml with certmesh_ca_backend=vault keeps istio-csr on
    # Vault (no upgrade back to the CA issuer) and verifies a probe SVID issued through Vault
    steady = mesh("playbooks/site.yml", extra_vars={"certmesh_ca_backend": "vault"})
    assert steady.returncode == 0, _failure(steady)
    assert _deployed_values(api, ISTIO_CSR)[0] == revision_after
    verify_probe = api.get(CM_API, "Certificate", "certmesh-verify-workload", "istio-system")
    assert verify_probe["spec"]["issuerRef"]["name"] == "vault-istio-ca" and _ready(verify_probe)


# ------------------------------------------------------------------------------------------
# render mode: no cluster, Vault still set up (the emulator), the switch written to files

def test_render_mode_writes_the_vault_issuer_and_istio_csr_values_and_refuses_an_untrusted_root(tmp_path, vault_emulator):
    env = playbook_env(tmp_path, VAULT_ADDR=vault_emulator.url, VAULT_TOKEN=vault_emulator.root_token)
    extra = {"certmesh_output_dir": str(tmp_path / "out")}
    site = run_playbook("playbooks/site.yml", extra_vars=extra, tmp_path=tmp_path, env=env)
    assert site.returncode == 0, _failure(site)
    render = tmp_path / "out" / "local" / "cluster1"

    switch = run_playbook("playbooks/vault.yml", extra_vars=extra, tmp_path=tmp_path, env=env)
    assert switch.returncode == 0, _failure(switch)
    issuer = yaml.safe_load((render / "vault_pki" / "clusterissuer.vault-istio-ca.yaml").read_text())
    assert crd_validator(CM_API, "ClusterIssuer").errors(issuer) == []
    assert issuer["spec"]["vault"]["path"] == "pki_int/sign/istio-mesh"
    assert issuer["spec"]["vault"]["server"] == vault_emulator.url
    kustomization = yaml.safe_load((render / "vault_pki" / "kustomization.yaml").read_text())
    assert "clusterissuer.vault-istio-ca.yaml" in kustomization["resources"]
    values_file = render / "istio_csr" / "helm" / "cert-manager-istio-csr.values.yaml"
    values = yaml.safe_load(values_file.read_text())
    assert values["app"]["certmanager"]["issuer"]["name"] == "vault-istio-ca"
    # Vault's intermediate is signed by the mesh root made by site.yml
    chain = vault_emulator.client().secrets.pki.read_ca_certificate_chain(mount_point="pki_int")
    leaf = x509.load_pem_x509_certificates(chain.encode())[0]
    mesh_root = x509.load_pem_x509_certificate((tmp_path / "out" / "local" / "mesh-root" / "root-ca.crt").read_bytes())
    leaf.verify_directly_issued_by(mesh_root)

    # a root generated in Vault is not trusted by the mesh: refused before anything is written
    before = {p: p.read_bytes() for p in (render / "vault_pki").iterdir()}
    before[values_file] = values_file.read_bytes()
    refused = run_playbook("playbooks/vault.yml", extra_vars=dict(
        extra, vault_pki_root="vault", vault_pki_intermediate_mount="pki_int_vault", vault_pki_issuer_name="vault-own-root"),
        tmp_path=tmp_path, env=env)
    assert refused.returncode != 0
    refusal = " ".join(refused.stdout.split())
    assert "cluster cluster1: refusing to point istio-csr at Vault, and nothing was written to Vault" in refusal, _failure(refused)
    assert "pki/ holds no root yet, and a root Vault generates now is trusted by no workload" in refusal
    assert "vault_pki_allow_root_rotation=true" in refusal
    client = vault_emulator.client()
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert "pki_int_vault/" not in mounts and "pki/" not in mounts

    # a root Vault already holds, but no workload trusts: refused the same way, Vault untouched
    client.sys.enable_secrets_engine("pki", path="pki")
    client.secrets.pki.generate_root("internal", "someone else's root", mount_point="pki")
    refused = run_playbook("playbooks/vault.yml", extra_vars=dict(
        extra, vault_pki_root="vault", vault_pki_intermediate_mount="pki_int_vault", vault_pki_issuer_name="vault-own-root"),
        tmp_path=tmp_path, env=env)
    refusal = " ".join(refused.stdout.split())
    assert refused.returncode != 0
    assert "nothing was written to Vault: the root in pki/ is not one of the trusted root(s)" in refusal, _failure(refused)
    assert "pki_int_vault/" not in client.sys.list_mounted_secrets_engines()["data"]
    assert {p: p.read_bytes() for p in (render / "vault_pki").iterdir()} == {k: v for k, v in before.items() if k != values_file}
    assert values_file.read_bytes() == before[values_file]

    # a long-lived token Secret instead of short-lived tokens: secretRef, no token-creator RBAC
    legacy = run_playbook("playbooks/vault.yml", extra_vars=dict(extra, vault_pki_token_secret=True),
                          tmp_path=tmp_path, env=env)
    assert legacy.returncode == 0, _failure(legacy)
    issuer = yaml.safe_load((render / "vault_pki" / "clusterissuer.vault-istio-ca.yaml").read_text())
    assert crd_validator(CM_API, "ClusterIssuer").errors(issuer) == []
    assert issuer["spec"]["vault"]["auth"]["kubernetes"]["secretRef"] == {"name": "vault-issuer-token", "key": "token"}
    secret = yaml.safe_load((render / "vault_pki" / "cert-manager.secret.vault-issuer-token.yaml").read_text())
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "vault-issuer"}
    assert not list((render / "vault_pki").glob("*role*"))
