"""The Kubernetes API emulator answers the official python client the way kube-apiserver does.

Every test talks HTTPS with a bearer token through ``kubernetes.dynamic.DynamicClient``, the
client kubernetes.core uses, so what passes here is what the collection's modules will see.
"""

import base64
import json

import pytest
from kubernetes.client.exceptions import ApiException

from tests.emulators.kube_api import KubeAPIEmulator

CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "gw", "namespace": "default"},
    "spec": {"secretName": "gw-tls", "dnsNames": ["app.example.com"],
             "issuerRef": {"name": "mesh-ca", "kind": "ClusterIssuer"}},
}


def _secret(name="app", namespace="default", **extra):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}}
    body.update(extra)
    return body


def _deployment(name="web", replicas=1):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1",
                                                       "env": [{"name": "A", "value": "1"}]},
                                                      {"name": "sidecar", "image": "proxy:1"}]}}},
    }


def _error(raised):
    body = json.loads(raised.value.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == raised.value.status
    return body


@pytest.fixture
def client(kube_emulator):
    return kube_emulator.dynamic()


def _res(client, api_version, kind):
    return client.resources.get(api_version=api_version, kind=kind)


# ----- discovery ----------------------------------------------------------------------------------
def test_discovery_lists_builtin_groups_and_every_applied_crd(kube_emulator, client):
    assert client.version["kubernetes"]["major"] == "1"
    groups = {g["name"]: g for g in client.request("GET", "/apis").to_dict()["groups"]}
    for group in ("apps", "rbac.authorization.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
                  "cert-manager.io", "acme.cert-manager.io", "networking.istio.io", "security.istio.io"):
        assert group in groups, group
    assert groups["networking.istio.io"]["preferredVersion"]["version"] == "v1"
    resources = {r["name"]: r for r in client.request("GET", "/apis/cert-manager.io/v1").to_dict()["resources"]}
    assert resources["certificates"]["kind"] == "Certificate"
    assert resources["certificates"]["namespaced"] is True
    assert set(resources["certificates"]["shortNames"]) == {"cert", "certs"}
    assert resources["certificates/status"]["verbs"] == ["get", "patch", "update"]
    assert resources["clusterissuers"]["namespaced"] is False
    core = {r["name"]: r for r in client.request("GET", "/api/v1").to_dict()["resources"]}
    assert {"namespaces", "secrets", "configmaps", "services", "serviceaccounts", "events"} <= set(core)
    assert "deletecollection" in core["secrets"]["verbs"]
    assert _res(client, "apps/v1", "Deployment").namespaced


def test_unknown_api_path_is_404_status(client):
    with pytest.raises(ApiException) as raised:
        client.request("GET", "/apis/example.com/v1/widgets")
    assert _error(raised)["reason"] == "NotFound"


# ----- CRUD and metadata ----------------------------------------------------------------------------
def test_create_sets_server_metadata_and_folds_string_data(client):
    secrets = _res(client, "v1", "Secret")
    created = secrets.create(body=_secret(stringData={"token": "hello"}, data={"raw": "aGk="}), namespace="default")
    meta = created.metadata
    assert meta.uid and meta.creationTimestamp and int(meta.resourceVersion) > 0
    assert created.data.token == base64.b64encode(b"hello").decode()
    assert created.data.raw == "aGk="
    assert "stringData" not in created.to_dict()
    assert created.type == "Opaque"
    fetched = secrets.get(name="app", namespace="default")
    assert fetched.metadata.uid == meta.uid


def test_resource_versions_increase_and_noop_writes_keep_them(client):
    config_maps = _res(client, "v1", "ConfigMap")
    first = config_maps.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
                                     "data": {"a": "1"}}, namespace="default")
    same = config_maps.patch(body={"data": {"a": "1"}}, name="c", namespace="default",
                             content_type="application/merge-patch+json")
    assert same.metadata.resourceVersion == first.metadata.resourceVersion
    changed = config_maps.patch(body={"data": {"a": "2"}}, name="c", namespace="default",
                                content_type="application/merge-patch+json")
    assert int(changed.metadata.resourceVersion) > int(first.metadata.resourceVersion)


def test_get_missing_object_is_404_with_real_status_body(client):
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").get(name="nope", namespace="default")
    body = _error(raised)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'secrets "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "secrets"}


def test_creating_twice_is_409_already_exists(client):
    certs = _res(client, "cert-manager.io/v1", "Certificate")
    certs.create(body=CERTIFICATE, namespace="default")
    with pytest.raises(ApiException) as raised:
        certs.create(body=CERTIFICATE, namespace="default")
    body = _error(raised)
    assert (body["code"], body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'certificates.cert-manager.io "gw" already exists'
    assert body["details"] == {"name": "gw", "group": "cert-manager.io", "kind": "certificates"}


def test_replace_with_stale_resource_version_is_409_conflict(client):
    secrets = _res(client, "v1", "Secret")
    created = secrets.create(body=_secret(data={"a": "YQ=="}), namespace="default").to_dict()
    secrets.patch(body={"data": {"a": "Yg=="}}, name="app", namespace="default", content_type="application/merge-patch+json")
    with pytest.raises(ApiException) as raised:
        secrets.replace(body=created, name="app", namespace="default")
    body = _error(raised)
    assert (body["code"], body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]


def test_replace_of_custom_resource_needs_a_resource_version(client):
    certs = _res(client, "cert-manager.io/v1", "Certificate")
    certs.create(body=CERTIFICATE, namespace="default")
    with pytest.raises(ApiException) as raised:
        certs.replace(body=CERTIFICATE, name="gw", namespace="default")
    assert _error(raised)["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_objects_need_an_existing_namespace(client):
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "ConfigMap").create(
            body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "missing"}},
            namespace="missing")
    body = _error(raised)
    assert (body["code"], body["message"]) == (404, 'namespaces "missing" not found')


def test_names_must_be_dns_subdomains(client):
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").create(body=_secret(name="Bad_Name"), namespace="default")
    body = _error(raised)
    assert (body["code"], body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123 subdomain" in body["message"]


def test_tls_secret_needs_certificate_and_key(client):
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").create(body=_secret(type="kubernetes.io/tls", data={"tls.crt": "eA=="}),
                                            namespace="default")
    body = _error(raised)
    assert [(c["field"], c["reason"]) for c in body["details"]["causes"]] == [("data[tls.key]", "FieldValueRequired")]


def test_secret_data_must_be_base64(client):
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").create(body=_secret(data={"a": "not base64!"}), namespace="default")
    assert _error(raised)["reason"] == "BadRequest"


def test_label_values_must_be_strings(client):
    body = _secret()
    body["metadata"]["labels"] = {"version": 2}
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").create(body=body, namespace="default")
    assert "cannot unmarshal number" in _error(raised)["message"]


def test_generate_name_gets_a_suffix(client):
    created = _res(client, "v1", "ConfigMap").create(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-", "namespace": "default"}},
        namespace="default")
    assert created.metadata.name.startswith("job-") and len(created.metadata.name) > 4


def test_delete_returns_success_status_and_namespace_deletion_removes_its_objects(client):
    namespaces = _res(client, "v1", "Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert namespaces.get(name="team").status.phase == "Active"
    secrets = _res(client, "v1", "Secret")
    secrets.create(body=_secret(namespace="team"), namespace="team")
    secrets.create(body=_secret(name="other"), namespace="default")
    gone = secrets.delete(name="other", namespace="default")
    assert gone.status == "Success" and gone.details.name == "other"
    namespaces.delete(name="team")
    assert [s.metadata.name for s in secrets.get(namespace="team").items] == []
    with pytest.raises(ApiException):
        namespaces.get(name="team")


# ----- list and selectors ---------------------------------------------------------------------------
@pytest.mark.parametrize("selector, expected", [
    ("tier=web", ["a", "b"]),
    ("tier==web,env!=prod", ["a"]),
    ("env in (prod,stage)", ["b", "c"]),
    ("env notin (prod)", ["a", "c", "d"]),  # like the real server, notin also selects objects without the label
    ("env", ["a", "b", "c"]),
    ("!env", ["d"]),
])
def test_label_selectors_filter_lists(client, selector, expected):
    config_maps = _res(client, "v1", "ConfigMap")
    for name, labels in (("a", {"tier": "web", "env": "dev"}), ("b", {"tier": "web", "env": "prod"}),
                         ("c", {"tier": "db", "env": "stage"}), ("d", {"tier": "db"})):
        config_maps.create(body={"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": name, "namespace": "default", "labels": labels}}, namespace="default")
    listed = config_maps.get(namespace="default", label_selector=selector)
    assert listed.kind == "ConfigMapList"
    assert sorted(i.metadata.name for i in listed.items) == expected


def test_field_selector_on_name_and_unsupported_field(client):
    namespaces = _res(client, "v1", "Namespace")
    assert [n.metadata.name for n in namespaces.get(field_selector="metadata.name=kube-system").items] == ["kube-system"]
    with pytest.raises(ApiException) as raised:
        namespaces.get(field_selector="spec.color=blue")
    assert _error(raised)["reason"] == "BadRequest"


# ----- patches ----------------------------------------------------------------------------------------
def test_json_patch_and_merge_patch(client):
    config_maps = _res(client, "v1", "ConfigMap")
    config_maps.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
                             "data": {"a": "1", "b": "2"}}, namespace="default")
    merged = config_maps.patch(body={"data": {"a": None, "c": "3"}}, name="c", namespace="default",
                               content_type="application/merge-patch+json")
    assert merged.data.to_dict() == {"b": "2", "c": "3"}
    patched = config_maps.patch(body=[{"op": "replace", "path": "/data/b", "value": "20"},
                                      {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}],
                                name="c", namespace="default", content_type="application/json-patch+json")
    assert patched.data.b == "20" and patched.metadata.labels.x == "y"
    with pytest.raises(ApiException) as raised:
        config_maps.patch(body=[{"op": "remove", "path": "/data/missing"}], name="c", namespace="default",
                          content_type="application/json-patch+json")
    assert raised.value.status == 422


def test_strategic_merge_patch_merges_containers_by_name(client):
    deployments = _res(client, "apps/v1", "Deployment")
    deployments.create(body=_deployment(), namespace="default")
    patched = deployments.patch(
        body={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2",
                                                             "env": [{"name": "B", "value": "2"}]}]}}}},
        name="web", namespace="default", content_type="application/strategic-merge-patch+json")
    containers = patched.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("app", "nginx:2"), ("sidecar", "proxy:1")]
    assert [e.name for e in containers[0].env] == ["A", "B"]


def test_strategic_merge_patch_of_a_custom_resource_is_415(client):
    certs = _res(client, "cert-manager.io/v1", "Certificate")
    certs.create(body=CERTIFICATE, namespace="default")
    with pytest.raises(ApiException) as raised:
        certs.patch(body={"spec": {"dnsNames": ["b.example.com"]}}, name="gw", namespace="default")
    assert (raised.value.status, _error(raised)["reason"]) == (415, "UnsupportedMediaType")


def test_server_side_apply_creates_tracks_owners_and_reports_conflicts(client):
    config_maps = _res(client, "v1", "ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mesh", "namespace": "default"},
            "data": {"trustDomain": "cluster.local", "extra": "x"}}
    created = config_maps.server_side_apply(body=body, name="mesh", namespace="default", field_manager="certmesh")
    assert created.metadata.managedFields[0].manager == "certmesh"
    assert created.metadata.managedFields[0].operation == "Apply"
    with pytest.raises(ApiException) as raised:
        config_maps.server_side_apply(body={**body, "data": {"trustDomain": "other.local"}}, name="mesh",
                                      namespace="default", field_manager="someone-else")
    conflict = _error(raised)
    assert (conflict["code"], conflict["reason"]) == (409, "Conflict")
    assert conflict["details"]["causes"][0]["field"] == ".data.trustDomain"
    assert 'conflict with "certmesh"' in conflict["message"]
    forced = config_maps.server_side_apply(body={**body, "data": {"trustDomain": "other.local"}}, name="mesh",
                                           namespace="default", field_manager="someone-else", force_conflicts=True)
    assert forced.data.trustDomain == "other.local"
    # the first manager stops applying "extra": the field goes, as it has no other owner
    shrunk = config_maps.server_side_apply(body={**body, "data": {"trustDomain": "other.local"}}, name="mesh",
                                           namespace="default", field_manager="certmesh", force_conflicts=True)
    assert "extra" not in shrunk.data.to_dict()


def test_server_side_apply_of_a_large_crd_registers_it(client):
    # the fixture created cert-manager's issuer CRDs (over 256 KiB of YAML) by server-side apply
    crds = _res(client, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    crd = crds.get(name="clusterissuers.cert-manager.io").to_dict()
    assert crd["metadata"]["managedFields"][0]["operation"] == "Apply"
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    widget = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
              "metadata": {"name": "widgets.example.com"},
              "spec": {"group": "example.com", "scope": "Namespaced",
                       "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                       "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                           "type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                                                                     "properties": {"size": {"type": "integer"}}}}}}}]}}
    crds.server_side_apply(body=widget, name="widgets.example.com", field_manager="test")
    client.resources.invalidate_cache()
    widgets = _res(client, "example.com/v1", "Widget")
    widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
                         "spec": {"size": 3}}, namespace="default")
    with pytest.raises(ApiException) as raised:
        widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget",
                             "metadata": {"name": "v", "namespace": "default"}, "spec": {}}, namespace="default")
    assert _error(raised)["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value",
                                                    "field": "spec.size"}]


def test_dry_run_validates_but_does_not_persist(client):
    secrets = _res(client, "v1", "Secret")
    answer = secrets.create(body=_secret(stringData={"a": "b"}), namespace="default", dry_run="All")
    assert answer.data.a == base64.b64encode(b"b").decode()
    with pytest.raises(ApiException):
        secrets.get(name="app", namespace="default")
    with pytest.raises(ApiException) as raised:
        secrets.create(body=_secret(name="Nope"), namespace="default", dry_run="All")
    assert raised.value.status == 422


# ----- status subresource and generation --------------------------------------------------------------
def test_status_subresource_separates_spec_and_status_and_generation_tracks_spec(client):
    certs = _res(client, "cert-manager.io/v1", "Certificate")
    body = dict(CERTIFICATE, status={"revision": 9})
    created = certs.create(body=body, namespace="default").to_dict()
    assert "status" not in created and created["metadata"]["generation"] == 1
    with_status = client.request("PATCH", "/apis/cert-manager.io/v1/namespaces/default/certificates/gw/status",
                                 body={"status": {"revision": 1}}, content_type="application/merge-patch+json")
    assert with_status.status.revision == 1 and with_status.metadata.generation == 1
    ignored = certs.patch(body={"status": {"revision": 5}, "metadata": {"labels": {"a": "b"}}}, name="gw",
                          namespace="default", content_type="application/merge-patch+json")
    assert ignored.status.revision == 1 and ignored.metadata.generation == 1
    bumped = certs.patch(body={"spec": {"dnsNames": ["b.example.com"]}}, name="gw", namespace="default",
                         content_type="application/merge-patch+json")
    assert bumped.metadata.generation == 2


def test_deployments_report_available_for_waiters(client):
    deployment = _res(client, "apps/v1", "Deployment").create(body=_deployment(replicas=2), namespace="default")
    assert deployment.status.availableReplicas == 2
    assert deployment.status.observedGeneration == deployment.metadata.generation
    assert {c.type: c.status for c in deployment.status.conditions}["Available"] == "True"


def test_deployment_selector_must_match_template_labels(client):
    body = _deployment()
    body["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as raised:
        _res(client, "apps/v1", "Deployment").create(body=body, namespace="default")
    assert _error(raised)["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


# ----- custom resource validation ---------------------------------------------------------------------
def test_invalid_certificate_is_422_listing_every_cause(client):
    spec = {"secretName": "gw-tls", "dnsNames": "x"}
    with pytest.raises(ApiException) as raised:
        _res(client, "cert-manager.io/v1", "Certificate").create(body=dict(CERTIFICATE, spec=spec), namespace="default")
    body = _error(raised)
    assert (body["code"], body["reason"]) == (422, "Invalid")
    assert body["message"].startswith('Certificate.cert-manager.io "gw" is invalid: [')
    assert body["details"]["kind"] == "Certificate" and body["details"]["group"] == "cert-manager.io"
    causes = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert causes == {"spec.dnsNames": "FieldValueTypeInvalid", "spec.issuerRef": "FieldValueRequired"}


def test_cel_rules_of_the_crds_are_enforced(client):
    peer_authentications = _res(client, "security.istio.io/v1", "PeerAuthentication")
    body = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "ports", "namespace": "default"},
            "spec": {"portLevelMtls": {"8080": {"mode": "DISABLE"}}}}
    with pytest.raises(ApiException) as raised:
        peer_authentications.create(body=body, namespace="default")
    assert _error(raised)["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec",
                                                    "message": 'Invalid value: "object": portLevelMtls requires selector'}]
    body["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    assert peer_authentications.create(body=body, namespace="default").spec.selector.matchLabels.app == "web"
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "venafi"},
              "spec": {"venafi": {"zone": "z"}}}
    with pytest.raises(ApiException) as raised:
        _res(client, "cert-manager.io/v1", "ClusterIssuer").create(body=issuer)
    assert "exactly one of tpp, cloud, or ngts must be configured" in _error(raised)["message"]


def test_unknown_field_is_400_under_strict_and_pruned_with_a_warning_otherwise(client):
    certs = _res(client, "cert-manager.io/v1", "Certificate")
    body = dict(CERTIFICATE, spec=dict(CERTIFICATE["spec"], dnsName=["typo"]))
    with pytest.raises(ApiException) as raised:
        certs.create(body=body, namespace="default", query_params=[("fieldValidation", "Strict")])
    strict = _error(raised)
    assert (strict["code"], strict["reason"]) == (400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.dnsName"' in strict["message"]
    response = client.request("POST", "/apis/cert-manager.io/v1/namespaces/default/certificates", body=body,
                              serialize=False)
    assert 'unknown field \\"spec.dnsName\\"' in response.headers["Warning"]
    assert "dnsName" not in json.loads(response.data)["spec"]


# ----- authentication and authorization ----------------------------------------------------------------
def test_wrong_token_is_401(kube_emulator):
    with pytest.raises(ApiException) as raised:
        kube_emulator.dynamic(token="wrong")
    assert raised.value.status == 401
    assert _error(raised)["reason"] == "Unauthorized"


def test_denied_verb_is_403_with_the_real_message(kube_emulator):
    kube_emulator.emulator.add_token("reader-token", "reader")
    kube_emulator.emulator.deny(verb="get", resource="secrets", namespace="default", user="reader")
    kube_emulator.emulator.deny(verb="create", resource="certificates", user="reader")
    client = kube_emulator.dynamic(token="reader-token")
    with pytest.raises(ApiException) as raised:
        _res(client, "v1", "Secret").get(name="ca", namespace="default")
    body = _error(raised)
    assert (body["code"], body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('secrets "ca" is forbidden: User "reader" cannot get resource "secrets" in API group "" '
                               'in the namespace "default"')
    with pytest.raises(ApiException) as raised:
        _res(client, "cert-manager.io/v1", "Certificate").create(body=CERTIFICATE, namespace="default")
    assert _error(raised)["message"] == ('certificates.cert-manager.io is forbidden: User "reader" cannot create resource '
                                         '"certificates" in API group "cert-manager.io" in the namespace "default"')
    assert _res(client, "v1", "Secret").get(namespace="kube-system").items == []


def test_plain_http_emulator_serves_the_client_too(kube_emulator_factory):
    cluster = kube_emulator_factory("plain", crds=False, tls=False)
    assert cluster.url.startswith("http://")
    assert _res(cluster.dynamic(), "v1", "Namespace").get(name="default").metadata.name == "default"


def test_state_dir_keeps_objects_across_restarts(tmp_path):
    first = KubeAPIEmulator(state_dir=tmp_path / "state")
    first.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "default"},
                  "data": {"a": "b"}})
    first.stop()
    second = KubeAPIEmulator(state_dir=tmp_path / "state")
    assert second.get("v1", "ConfigMap", "kept", "default")["data"] == {"a": "b"}
