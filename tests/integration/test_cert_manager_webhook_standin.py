"""cert-manager's validating webhook stand-in refuses, once the chart installed it, what the real webhook refuses."""

import pytest
import kubernetes
from kubernetes.dynamic import DynamicClient

from tests.emulators.kube_api import ApiError
from tests.emulators.cert_manager_webhook import go_duration

CM = "cert-manager.io/v1"
WEBHOOK_CONFIG = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "cert-manager-webhook"},
    "webhooks": [{"name": "webhook.cert-manager.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                  "clientConfig": {"service": {"name": "cert-manager-webhook", "namespace": "cert-manager", "path": "/validate"}},
                  "rules": [{"apiGroups": ["cert-manager.io", "acme.cert-manager.io"], "apiVersions": ["v1"],
                             "operations": ["CREATE", "UPDATE"], "resources": ["*/*"]}]}],
}


def _certificate(name="app", **spec):
    body = {"secretName": "app-tls", "dnsNames": ["app.example.com"],
            "issuerRef": {"name": "istio-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}
    body.update(spec)
    return {"apiVersion": CM, "kind": "Certificate", "metadata": {"name": name, "namespace": "istio-system"}, "spec": body}


@pytest.fixture
def api(kube_emulator):
    emulator = kube_emulator.emulator
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    return kube_emulator


def _refusal(emulator, obj):
    with pytest.raises(ApiError) as raised:
        emulator.create(obj)
    return raised.value


def test_without_the_webhook_installed_the_schema_alone_decides(api):
    api.emulator.create(_certificate(duration="30m"))
    assert api.emulator.get(CM, "Certificate", "app", "istio-system")["spec"]["duration"] == "30m"


def test_a_certificate_shorter_than_an_hour_is_refused_like_the_webhook_does(api):
    api.emulator.create(WEBHOOK_CONFIG)
    error = _refusal(api.emulator, _certificate(duration="30m"))
    assert error.code == 403 and error.status["reason"] == "Forbidden"
    assert error.status["message"] == ('admission webhook "webhook.cert-manager.io" denied the request: spec.duration: '
                                       'Invalid value: 30m0s: certificate duration must be greater than 1h0m0s')
    assert api.emulator.get(CM, "Certificate", "app", "istio-system") is None


def test_every_broken_rule_is_listed_and_valid_certificates_pass(api):
    api.emulator.create(WEBHOOK_CONFIG)
    error = _refusal(api.emulator, _certificate(dnsNames=[], secretName="", duration="2h", renewBefore="2h",
                                                privateKey={"algorithm": "RSA", "size": 1024},
                                                issuerRef={"name": "", "kind": "Vault"}))
    message = error.status["message"]
    assert message.startswith('admission webhook "webhook.cert-manager.io" denied the request: [')
    for part in ("spec.secretName: Required value: must be specified",
                 "spec.issuerRef.name: Required value: must be specified",
                 'spec.issuerRef.kind: Invalid value: "Vault": must be one of Issuer or ClusterIssuer',
                 "at least one of commonName",
                 "spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for rsa keyAlgorithm",
                 "spec.renewBefore: Invalid value: 2h0m0s: certificate duration 2h0m0s must be greater than renewBefore 2h0m0s"):
        assert part in message, message
    created = api.emulator.create(_certificate(duration="2160h", renewBefore="720h", uris=["spiffe://cluster.local/ns/a/sa/b"]))
    assert created["metadata"]["name"] == "app"


def test_an_undecodable_duration_is_a_bad_request_and_dry_runs_are_checked_too(api):
    api.emulator.create(WEBHOOK_CONFIG)
    error = _refusal(api.emulator, _certificate(duration="banana"))
    assert error.code == 400
    assert error.status["message"].endswith('denied the request: time: invalid duration "banana"')
    client = DynamicClient(kubernetes.config.new_client_from_config(config_file=api.kubeconfig, context=api.context))
    issuers = client.resources.get(api_version=CM, kind="ClusterIssuer")
    with pytest.raises(kubernetes.client.exceptions.ApiException) as raised:
        issuers.create(body={"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "two"},
                             "spec": {"ca": {"secretName": "x"}, "selfSigned": {}}}, query_params=[("dryRun", "All")])
    assert raised.value.status == 403
    assert "spec.selfSigned: Forbidden: may not specify more than one issuer type" in raised.value.body


def test_issuers_need_their_required_fields(api):
    api.emulator.create(WEBHOOK_CONFIG)
    error = _refusal(api.emulator, {"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "vault"},
                                    "spec": {"vault": {"server": "https://vault:8200", "path": "pki_int/../sign/x",
                                                       "auth": {"kubernetes": {"role": "", "mountPath": "/v1/auth/kubernetes"}}}}})
    message = error.status["message"]
    for part in ("spec.vault.path: Invalid value: \"pki_int/../sign/x\": must not contain '..' path segments",
                 "spec.vault.auth.kubernetes.role: Required value",
                 "spec.vault.auth.kubernetes: Required value: please supply one of: secretRef, serviceAccountRef"):
        assert part in message, message
    api.emulator.create({"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "vault"},
                         "spec": {"vault": {"server": "https://vault:8200", "path": "pki_int/sign/istio-mesh",
                                            "auth": {"kubernetes": {"role": "cert-manager", "mountPath": "/v1/auth/kubernetes",
                                                                    "serviceAccountRef": {"name": "cert-manager"}}}}}})


def test_go_duration_prints_like_go():
    assert [go_duration(s) for s in (0, 45, 300, 3600, 5400, 7776000)] == ["0s", "45s", "5m0s", "1h0m0s", "1h30m0s", "2160h0m0s"]
