"""The main playbook on the local inventory renders the whole mesh, validly and idempotently."""

import base64
import copy
import json
import shutil
import stat
import subprocess

import jsonschema
import pytest
import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import applied_objects
from tests.integration.render.gitops_tree import git_part, private_keys_in, schema_errors, unrendered_namespaces
from tests.support.playbook import recap, run_playbook
from tests.support.secrets import key_fragments, leaked_key_material
from tests.support.upstream import crd_validator, helm_default_values, helm_values_schema, known_custom_kinds, upstream_dir

# One worker runs the whole module, so its module-scoped fixture is built once (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site_render")]

BUILTIN_KINDS = {("v1", "Secret"), ("v1", "Namespace"), ("v1", "ConfigMap")}
CHARTS_WITH_SCHEMA = {"cert-manager": "cert-manager", "cert-manager-istio-csr": "istio-csr"}


@pytest.fixture(scope="module")
def site_render(tmp_path_factory):
    """Run playbooks/site.yml twice (first with -vvv) into a fresh output folder."""
    tmp = tmp_path_factory.mktemp("site")
    out = tmp / "out"
    first = run_playbook("playbooks/site.yml", "-vvv", extra_vars={"certmesh_output_dir": str(out)}, tmp_path=tmp)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    second = run_playbook("playbooks/site.yml", extra_vars={"certmesh_output_dir": str(out)}, tmp_path=tmp)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    return {"out": out, "cluster": out / "local" / "cluster1", "first": first, "second": second}


def _objects(cluster_dir):
    for path in sorted(cluster_dir.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.name.endswith(".values.yaml"):
            continue
        yield path, yaml.safe_load(path.read_text())


def kinds_preflight_does_not_observe(objects):
    """The (apiVersion, kind) of certmesh-labelled objects outside applied_objects.MANAGED_KINDS:
    apply mode would send those again on every re-run (preflight's view would not hold them)."""
    labelled = {(obj["apiVersion"], obj["kind"]) for obj in objects
                if ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/managed-by") == "certmesh.istio"}
    return sorted(labelled - set(applied_objects.MANAGED_KINDS))


def _helm_charts(cluster_dir):
    """(values file, helmCharts entry) of every Helm release of the kustomize render."""
    for kustomization in sorted(cluster_dir.glob("*/helm/kustomization.yaml")):
        for chart in yaml.safe_load(kustomization.read_text())["helmCharts"]:
            yield kustomization.parent / chart["valuesFile"], chart


def _deep_merge(base, override):
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def helm_values_errors(chart_folder, values):
    """Validate values the way `helm install` does: merged over the chart's defaults."""
    merged = _deep_merge(helm_default_values(chart_folder), values)
    validator = jsonschema.Draft7Validator(helm_values_schema(chart_folder))
    return sorted("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(merged))


def test_second_run_changes_nothing(site_render):
    assert recap(site_render["first"].stdout)["cluster1"]["changed"] > 0
    assert recap(site_render["second"].stdout)["cluster1"]["changed"] == 0


def test_every_object_of_the_seed_design_is_rendered(site_render):
    kinds = {(obj["kind"], obj["metadata"]["name"]) for path, obj in _objects(site_render["cluster"])}
    assert {
        ("Secret", "istio-ca-key-pair"),
        ("Secret", "istio-root-ca"),
        ("ClusterIssuer", "istio-ca"),
        ("Certificate", "app"),
        ("Gateway", "mesh-gateway"),
        ("PeerAuthentication", "mesh-wide"),
        ("AuthorizationPolicy", "allow-mesh-workloads"),
    } <= kinds
    helm = {chart["releaseName"] for _values, chart in _helm_charts(site_render["cluster"])}
    assert {"cert-manager", "cert-manager-istio-csr", "istiod"} <= helm
    assert (site_render["cluster"] / "INDEX.md").is_file()


def test_preflight_observes_every_kind_of_the_render(site_render):
    objects = [obj for _path, obj in _objects(site_render["cluster"])]
    assert len(objects) >= 5
    assert kinds_preflight_does_not_observe(objects) == []


def test_every_rendered_custom_resource_validates_against_the_upstream_crd(site_render):
    checked = 0
    for path, obj in _objects(site_render["cluster"]):
        key = (obj["apiVersion"], obj["kind"])
        if key in BUILTIN_KINDS:
            continue
        assert key in known_custom_kinds(), "%s: no upstream CRD defines %s" % (path, key)
        assert crd_validator(*key).errors(obj) == [], path
        checked += 1
    assert checked >= 5


def test_rendered_helm_values_validate_against_the_chart_schemas(site_render):
    checked = 0
    for values_file, chart in _helm_charts(site_render["cluster"]):
        if chart["name"] not in CHARTS_WITH_SCHEMA:
            continue
        values = yaml.safe_load(values_file.read_text())
        assert helm_values_errors(CHARTS_WITH_SCHEMA[chart["name"]], values) == [], values_file
        checked += 1
    assert checked == 2


def test_a_broken_certificate_fails_schema_validation(site_render):
    obj = yaml.safe_load((site_render["cluster"] / "gateway_certs" / "istio-system.certificate.app.yaml").read_text())
    obj["spec"]["dnsNames"] = "app.example.com"
    errors = crd_validator(obj["apiVersion"], obj["kind"]).errors(obj)
    assert any(e.startswith("spec.dnsNames") for e in errors)


def test_the_seeds_serving_certificate_flag_is_not_a_chart_value(site_render):
    values_file = site_render["cluster"] / "istio_csr" / "helm" / "cert-manager-istio-csr.values.yaml"
    values = yaml.safe_load(values_file.read_text())
    values["app"]["server"]["servingCertificateDuration"] = "1h"
    assert any("servingCertificateDuration" in e for e in helm_values_errors("istio-csr", values))


def test_istio_csr_values_pin_the_mesh_root_and_use_the_mesh_issuer(site_render):
    values = yaml.safe_load((site_render["cluster"] / "istio_csr" / "helm" / "cert-manager-istio-csr.values.yaml").read_text())
    assert values["app"]["certmanager"]["issuer"] == {"enabled": True, "name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert values["app"]["tls"]["rootCAFile"] == "/var/run/secrets/istio-csr/ca.pem"
    assert values["app"]["tls"]["trustDomain"] == "cluster.local"
    assert values["app"]["server"]["maxCertificateDuration"] == "1h"
    assert values["volumes"][0]["secret"]["secretName"] == "istio-root-ca"


def test_istiod_takes_certificates_from_istio_csr(site_render):
    values = yaml.safe_load((site_render["cluster"] / "istio" / "helm" / "istiod.values.yaml").read_text())
    assert values["global"]["caAddress"] == "cert-manager-istio-csr.cert-manager.svc:443"
    assert values["pilot"]["env"]["ENABLE_CA_SERVER"] == "false"
    assert values["meshConfig"]["trustDomain"] == "cluster.local"


def test_rendered_intermediate_verifies_against_the_rendered_root(site_render):
    pki = site_render["cluster"] / "pki"
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(pki / "root-ca.crt"), str(pki / "intermediate-ca.crt")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_root_is_a_self_signed_ca_and_the_intermediate_has_path_length_zero(site_render):
    from cryptography import x509

    pki = site_render["cluster"] / "pki"
    root = x509.load_pem_x509_certificate((pki / "root-ca.crt").read_bytes())
    intermediate = x509.load_pem_x509_certificate((pki / "intermediate-ca.crt").read_bytes())
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True and constraints.value.path_length == 0
    intermediate.verify_directly_issued_by(root)


def test_key_files_and_key_bearing_manifests_are_private(site_render):
    private = list(site_render["out"].rglob("*.key")) + [site_render["cluster"] / "secrets" / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml"]
    assert len(private) >= 3
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_ca_secret_holds_the_chain_and_the_root_for_cert_manager(site_render):
    secret = yaml.safe_load((site_render["cluster"] / "secrets" / "mesh_ca" / "cert-manager.secret.istio-ca-key-pair.yaml").read_text())
    assert secret["type"] == "kubernetes.io/tls"
    chain = base64.b64decode(secret["data"]["tls.crt"]).decode()
    root = (site_render["cluster"] / "pki" / "root-ca.crt").read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2 and chain.rstrip().endswith(root.strip())
    assert base64.b64decode(secret["data"]["ca.crt"]).decode().strip() == root.strip()
    assert b"PRIVATE KEY" in base64.b64decode(secret["data"]["tls.key"])


def test_no_private_key_material_appears_in_verbose_output(site_render):
    output = site_render["first"].stdout + site_render["first"].stderr
    assert "<127.0.0.1> EXEC" in output or "ESTABLISH LOCAL CONNECTION" in output  # it really was -vvv
    assert "PRIVATE KEY-----" not in output
    assert len(key_fragments(site_render["out"])) > 10
    assert leaked_key_material(output, site_render["out"]) == []


def test_the_git_part_of_the_kustomize_render_holds_no_private_key(site_render):
    files = git_part(site_render["cluster"])
    assert len(files) > 15
    assert [(path.name, private_keys_in(path)) for path in files if private_keys_in(path)] == []
    assert private_keys_in(next(site_render["cluster"].glob("secrets/mesh_ca/*.yaml")))  # the check sees keys


def test_every_object_of_the_kustomize_render_validates_and_every_namespace_is_rendered(site_render):
    assert [(path.name, schema_errors(obj)) for path, obj in _objects(site_render["cluster"]) if schema_errors(obj)] == []
    assert unrendered_namespaces(site_render["cluster"]) == []
    root = yaml.safe_load((site_render["cluster"] / "kustomization.yaml").read_text())
    assert root["resources"][:3] == ["namespaces", "cert_manager/helm", "mesh_ca"]


def _identity(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def test_the_plain_manifest_part_of_the_kustomize_render_builds_with_kubectl_kustomize(site_render, tmp_path):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH: `kubectl kustomize` of the plain-manifest part is not checked")
    cluster = site_render["cluster"]
    # The cluster's kustomization without its helmCharts folders (those need `--enable-helm`, helm and the
    # chart repositories): one `kubectl kustomize` builds every plain manifest of the Git part.
    plain = tmp_path / "cluster1"
    shutil.copytree(cluster, plain, ignore=shutil.ignore_patterns("pki", "pki-*", "secrets", "helm"))
    root = yaml.safe_load((plain / "kustomization.yaml").read_text())
    root["resources"] = [r for r in root["resources"] if not r.endswith("/helm")]
    (plain / "kustomization.yaml").write_text(yaml.safe_dump(root))
    result = subprocess.run([kubectl, "kustomize", str(plain)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    built = {_identity(doc): doc for doc in yaml.safe_load_all(result.stdout) if doc}
    files = {_identity(obj): obj for path, obj in _objects(cluster)
             if path.parent.name != "helm" and path.relative_to(cluster).parts[0] not in ("pki", "secrets")}
    assert sorted(built, key=str) == sorted(files, key=str)
    assert built == files  # kustomize changes no object: the files are what a GitOps engine applies
    assert len(built) >= 8 and ("v1", "Namespace", None, "cert-manager") in built


def test_the_ingress_gateway_values_validate_against_the_gateway_chart_schema(site_render):
    folder = upstream_dir() / "istio-1.30.3" / "charts" / "gateway"
    schema = json.loads((folder / "values.schema.json").read_text())
    defaults = yaml.safe_load((folder / "values.yaml").read_text())
    gateways = [yaml.safe_load(values_file.read_text()) for values_file, chart in _helm_charts(site_render["cluster"])
                if chart["name"] == "gateway"]
    assert len(gateways) == 1
    merged = dict(defaults, **gateways[0])
    assert sorted(e.message for e in jsonschema.Draft7Validator(schema).iter_errors(merged)) == []
