"""Desired objects are built as data: no input value, whatever it holds, changes their shape."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

import pytest
import yaml

from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects as builders
from ansible_collections.certmesh.istio.plugins.module_utils import render
from tests.support.object_shape import carries, key_paths, string_scalars

ISSUER = {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"

# The role defaults, as the roles hand them to the builders (one entry per builder).
DEFAULTS = {
    builders.gateway_certs_objects: dict(
        namespace="istio-system", hosts=[{"name": "app", "dns_names": ["app.example.com"]}], default_issuer=ISSUER,
        duration="2160h", renew_before="720h", private_key_algorithm="ECDSA", private_key_size=256,
        gateway_name="mesh-gateway", gateway_selector={"istio": "ingressgateway"}, https_redirect=True),
    builders.istio_csr_objects: dict(certificate_namespace="istio-system"),
    builders.mesh_ca_objects: dict(
        # The issuer's group is not part of these objects (their apiVersion is cert-manager's).
        root_ca_secret_name="istio-root-ca", cert_manager_namespace="cert-manager", trusted_root_pems=[PEM],
        issuer={"name": "istio-ca", "kind": "ClusterIssuer"}, ca_secret_name="istio-ca-key-pair", issuer_namespace="cert-manager"),
    builders.mesh_ca_secret_objects: dict(
        ca_secret_name="istio-ca-key-pair", namespace="cert-manager", cluster_name="cluster1",
        ca_chain_pem=PEM + "\n" + PEM, ca_key_b64="a2V5", root_pem=PEM),
    builders.mesh_policy_objects: dict(
        mtls_mode="STRICT", mtls_namespaces=[], istio_namespace="istio-system", trust_domain="cluster.local",
        authorization_policies=[{"name": "allow-mesh-workloads", "namespace": "default",
                                 "allow_from": [{"namespace": "*", "service_account": "*"}]}]),
    builders.vault_pki_objects: dict(
        service_account="vault-issuer", cert_manager_namespace="cert-manager", cert_manager_service_account="cert-manager",
        token_secret=False, issuer_name="vault-istio-ca", server="https://vault.example.com:8200",
        issuer_path="pki_int/sign/istio-mesh", vault_namespace="", ca_bundle="", kubernetes_auth_role="cert-manager",
        kubernetes_auth_mount="kubernetes"),
    builders.cert_manager_values: dict(install_crds=True),
    builders.istio_csr_values: dict(
        certificate_namespace="istio-system", issuer=ISSUER, trust_domain="cluster.local",
        root_ca_mount_path="/var/run/secrets/istio-csr", service="cert-manager-istio-csr",
        cert_manager_namespace="cert-manager", serving_certificate_duration="1h", cluster_id="cluster1",
        max_certificate_duration="1h", istio_revisions=["default"], istio_namespace="istio-system",
        root_ca_secret_name="istio-root-ca"),
    builders.istiod_values: dict(
        ca_address="cert-manager-istio-csr.cert-manager.svc:443", mesh_id="mesh1", cluster_name="cluster1",
        network="network1", revision="", trust_domain="cluster.local"),
}

# Inputs that switch optional parts on, so that those parts are proven too.
SWITCHED_ON = {
    builders.gateway_certs_objects: dict(
        hosts=[{"name": "app", "dns_names": ["app.example.com", "www.example.com"], "secret_name": "app-cert",
                "issuer": {"name": "letsencrypt", "kind": "ClusterIssuer"}, "duration": "24h", "renew_before": "8h"},
               {"name": "api", "dns_names": ["api.example.com"]}]),
    builders.mesh_ca_objects: dict(issuer={"name": "istio-ca", "kind": "Issuer"}, trusted_root_pems=[PEM, PEM]),
    builders.mesh_policy_objects: dict(
        mtls_namespaces=["apps", "payments"],
        authorization_policies=[{"name": "payments", "namespace": "payments", "selector": {"app": "api"},
                                 "ports": [8443, "9090"],
                                 "allow_from": [{"namespace": "frontend", "service_account": "web"},
                                                {"namespace": "batch"}]}]),
    builders.vault_pki_objects: dict(token_secret=True, vault_namespace="team-a", ca_bundle=PEM + "\n\n"),
    builders.istiod_values: dict(revision="canary"),
}

# Inputs that the switched-on variant leaves out of the objects by design.
UNUSED_WHEN_SWITCHED_ON = {
    builders.mesh_policy_objects: {"istio_namespace"},
    builders.vault_pki_objects: {"cert_manager_service_account"},
}

PAYLOADS = [
    "\nextra: injected",
    "\n  extra: injected\n- listed: item",
    "' \"quoted\": \"value\" '",
    "{{ lookup('env', 'HOME') }} {% raw %}",
    "/../../etc/passwd",
    " Zürich – 東京 ☃ 😀",
    "\x85\u2028\u2029 trailing  \n\tleading\r\n",
]

CASES = [(builder, variant) for builder in DEFAULTS for variant in ("defaults", "switched on") if
         variant == "defaults" or builder in SWITCHED_ON]


def _inputs(builder, variant):
    inputs = copy.deepcopy(DEFAULTS[builder])
    if variant == "switched on":
        inputs.update(copy.deepcopy(SWITCHED_ON[builder]))
    return inputs


# Not given a payload: base64 key material, and an issuer's kind, a choice between Issuer and
# ClusterIssuer (the argument spec refuses anything else) that decides whether there is a namespace.
NOT_FREE_TEXT = ("ca_key_b64", "kind")
# Inputs the objects carry trimmed (surrounding whitespace of a PEM bundle means nothing).
TRIMMED = ("ca_bundle",)


def _with_payload(value, payload, skip=NOT_FREE_TEXT):
    """Every non-empty free-text string value (not mapping keys) with payload appended."""
    if isinstance(value, dict):
        return {k: (v if k in skip else _with_payload(v, payload)) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_payload(v, payload) for v in value]
    if isinstance(value, str) and value:
        return value + payload
    return value


def _payload_strings(inputs, unused=()):
    """The payload-bearing strings a builder was given, in full."""
    found = []
    for key, value in inputs.items():
        if key in unused:
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(v for k, v in item.items() if k not in NOT_FREE_TEXT)
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and key not in NOT_FREE_TEXT:
                found.append(item.strip() if key in TRIMMED else item)
    return found


def _encoded(document):
    """document, and the text of every base64 value in it (Secret data, caBundle), decoded."""
    texts = [document]
    for value in string_scalars(document):
        try:
            texts.append(base64.b64decode(value, validate=True).decode("utf-8"))
        except ValueError:
            continue
    return texts


@pytest.mark.parametrize("builder,variant", CASES, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_a_payload_in_every_input_leaves_the_shape_of_the_output_unchanged(builder, variant, payload):
    plain = builder(**_inputs(builder, variant))
    inputs = _with_payload(_inputs(builder, variant), payload)
    loaded = builder(**inputs)
    assert key_paths(loaded) == key_paths(plain)
    unused = UNUSED_WHEN_SWITCHED_ON.get(builder, ()) if variant == "switched on" else ()
    for text in _payload_strings(inputs, unused):
        assert any(carries(doc, text) for doc in _encoded(loaded)), text


@pytest.mark.parametrize("builder,variant", CASES, ids=lambda v: getattr(v, "__name__", v))
def test_the_render_sink_writes_every_payload_byte_exact_as_one_scalar(builder, variant):
    payload = "".join(PAYLOADS)
    inputs = _with_payload(_inputs(builder, variant), payload)
    built = builder(**inputs)
    for document in built if isinstance(built, list) else [built]:
        assert yaml.safe_load(render.to_yaml(document)) == document


def test_default_gateway_objects_are_the_certificate_and_the_gateway_of_the_seed_design():
    certificate, gateway = builders.gateway_certs_objects(**DEFAULTS[builders.gateway_certs_objects])
    assert certificate["spec"] == {
        "secretName": "app-tls", "dnsNames": ["app.example.com"], "duration": "2160h", "renewBefore": "720h",
        "usages": ["server auth", "digital signature", "key encipherment"],
        "privateKey": {"rotationPolicy": "Always", "algorithm": "ECDSA", "size": 256},
        "issuerRef": {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    assert [s["port"]["name"] for s in gateway["spec"]["servers"]] == ["https-app", "http"]


def test_a_key_size_typed_on_the_command_line_is_the_number_it_spells():
    inputs = dict(DEFAULTS[builders.gateway_certs_objects], private_key_size="384")
    certificate = builders.gateway_certs_objects(**inputs)[0]
    assert certificate["spec"]["privateKey"]["size"] == 384


def test_the_https_redirect_serves_every_host_name_once_in_order():
    inputs = dict(DEFAULTS[builders.gateway_certs_objects], hosts=[
        {"name": "a", "dns_names": ["a.example.com", "shared.example.com"]},
        {"name": "b", "dns_names": ["shared.example.com", "b.example.com"]},
    ])
    redirect = builders.gateway_certs_objects(**inputs)[-1]["spec"]["servers"][-1]
    assert redirect["hosts"] == ["a.example.com", "shared.example.com", "b.example.com"]


def test_principals_follow_istio_wildcards_and_ports_are_strings():
    inputs = dict(DEFAULTS[builders.mesh_policy_objects], **SWITCHED_ON[builders.mesh_policy_objects])
    policy = builders.mesh_policy_objects(**inputs)[-1]
    rule = policy["spec"]["rules"][0]
    assert rule["from"][0]["source"]["principals"] == ["cluster.local/ns/frontend/sa/web", "cluster.local/ns/batch/*"]
    assert rule["to"] == [{"operation": {"ports": ["8443", "9090"]}}]
    assert policy["spec"]["selector"] == {"matchLabels": {"app": "api"}}


def test_a_namespaced_mesh_issuer_gets_the_ca_secret_namespace():
    inputs = dict(DEFAULTS[builders.mesh_ca_objects], issuer={"name": "istio-ca", "kind": "Issuer"})
    issuer = builders.mesh_ca_objects(**inputs)[1]
    assert issuer["metadata"] == {"name": "istio-ca", "namespace": "cert-manager",
                                  "labels": {"app.kubernetes.io/managed-by": "certmesh.istio"}}


def test_the_pinned_root_bundle_holds_every_trusted_root_with_a_final_newline():
    inputs = dict(DEFAULTS[builders.mesh_ca_objects], trusted_root_pems=["ROOT-A", "ROOT-B"])
    bundle = base64.b64decode(builders.mesh_ca_objects(**inputs)[0]["data"]["ca.pem"]).decode()
    assert bundle == "ROOT-A\nROOT-B\n"


def test_a_long_lived_vault_token_replaces_the_token_request_role():
    inputs = dict(DEFAULTS[builders.vault_pki_objects], token_secret=True)
    kinds = [obj["kind"] for obj in builders.vault_pki_objects(**inputs)]
    assert kinds == ["ServiceAccount", "Secret", "ClusterIssuer"]
    issuer = builders.vault_pki_objects(**inputs)[-1]
    assert issuer["spec"]["vault"]["auth"]["kubernetes"] == {
        "role": "cert-manager", "mountPath": "/v1/auth/kubernetes", "secretRef": {"name": "vault-issuer-token", "key": "token"}}


def test_the_vault_auth_mount_path_is_trimmed_of_slashes():
    inputs = dict(DEFAULTS[builders.vault_pki_objects], kubernetes_auth_mount="/clusters/eu/")
    issuer = builders.vault_pki_objects(**inputs)[-1]
    assert issuer["spec"]["vault"]["auth"]["kubernetes"]["mountPath"] == "/v1/auth/clusters/eu"
