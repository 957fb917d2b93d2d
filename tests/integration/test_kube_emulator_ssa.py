"""Server-side apply in the Kubernetes API emulator: field managers, merges and conflicts as kube-apiserver.

Every request goes through ``kubernetes.dynamic.DynamicClient`` over HTTPS, as kubernetes.core's
do; expected wordings and ``fieldsV1`` shapes are the real server's (structured-merge-diff v4).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from kubernetes.client.exceptions import ApiException

from tests.emulators import kube_ssa

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "parts": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                               "items": {"type": "object", "required": ["name"], "properties": {
                                   "name": {"type": "string"}, "size": {"type": "integer"}}}},
                     "tags": {"type": "array", "items": {"type": "string"}},
                     "owners": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                 }}}}}}]},
}


@pytest.fixture
def client(kube_emulator_factory):
    cluster = kube_emulator_factory("ssa", crds=False)
    cluster.emulator.apply(WIDGET_CRD, manager="test-crds")
    return cluster.dynamic()


def _res(client, api_version, kind):
    return client.resources.get(api_version=api_version, kind=kind)


def _config_map(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mesh", "namespace": "default"}, "data": data}


def _deployment(containers):
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default",
                                                                        "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}}


def _apply(resource, body, manager, force=None):
    return resource.server_side_apply(body=body, name=body["metadata"]["name"], namespace=body["metadata"].get("namespace"),
                                      field_manager=manager, force_conflicts=force).to_dict()


def _refusal(call):
    with pytest.raises(ApiException) as raised:
        call()
    body = json.loads(raised.value.body)
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == raised.value.status
    return body


def _owners(obj):
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_apply_without_a_field_manager_is_refused_in_the_servers_words(client):
    config_maps = _res(client, "v1", "ConfigMap")
    body = _refusal(lambda: config_maps.server_side_apply(body=_config_map(a="1"), name="mesh", namespace="default"))
    assert body["code"] == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    assert body["details"]["causes"] == [{"reason": "FieldValueRequired", "field": "fieldManager",
                                          "message": "Required value: is required for apply patch"}]


def test_force_on_a_merge_patch_is_forbidden(client):
    config_maps = _res(client, "v1", "ConfigMap")
    config_maps.create(body=_config_map(a="1"), namespace="default")
    body = _refusal(lambda: client.request("PATCH", "/api/v1/namespaces/default/configmaps/mesh",
                                           body={"data": {"a": "2"}}, query_params=[("force", "true")],
                                           content_type="application/merge-patch+json"))
    assert body["message"] == 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'


def test_apply_creates_the_object_and_owns_only_what_it_applied_in_fieldsv1_keys(client):
    deployments = _res(client, "apps/v1", "Deployment")
    created = _apply(deployments, _deployment([{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 8080}],
                                                "env": [{"name": "A", "value": "1"}]}]), "certmesh")
    entry = created["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == \
        ("certmesh", "Apply", "apps/v1", "FieldsV1")
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
            'k:{"name":"app"}': {".": {}, "f:name": {}, "f:image": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
                                 "f:ports": {'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}}
    assert created["spec"]["replicas"] == 1  # defaulted, and nobody's


def test_a_create_is_an_update_of_the_client_named_after_its_user_agent(client):
    config_maps = _res(client, "v1", "ConfigMap")
    created = config_maps.create(body={**_config_map(a="1"), "metadata": {"name": "mesh", "namespace": "default",
                                                                          "labels": {"team": "mesh"}}},
                                 namespace="default").to_dict()
    assert _owners(created) == {("OpenAPI-Generator", "Update"): {
        "f:data": {"f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:team": {}}}}}


def test_appliers_of_the_same_values_share_the_fields_and_a_repeated_apply_writes_nothing(client):
    config_maps = _res(client, "v1", "ConfigMap")
    _apply(config_maps, _config_map(a="1", b="2"), "certmesh")
    shared = _apply(config_maps, _config_map(a="1"), "flux")
    assert _owners(shared) == {("certmesh", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}},
                               ("flux", "Apply"): {"f:data": {"f:a": {}}}}
    again = _apply(config_maps, _config_map(a="1", b="2"), "certmesh")
    assert again["metadata"]["resourceVersion"] == shared["metadata"]["resourceVersion"]
    # certmesh stops applying "a": flux still owns it, so it stays; "b" has no other owner and goes
    shrunk = _apply(config_maps, _config_map(), "certmesh")
    assert shrunk["data"] == {"a": "1"}


def test_a_different_value_conflicts_with_each_field_and_manager_named(client):
    config_maps = _res(client, "v1", "ConfigMap")
    _apply(config_maps, _config_map(a="1", b="2"), "certmesh")
    body = _refusal(lambda: _apply(config_maps, _config_map(a="9"), "flux"))
    assert (body["code"], body["reason"]) == (409, "Conflict")
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "certmesh": .data.a'
    assert body["details"] == {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "certmesh"',
                                           "field": ".data.a"}]}
    body = _refusal(lambda: _apply(config_maps, _config_map(a="9", b="8"), "flux"))
    assert body["message"] == 'Apply failed with 2 conflicts: conflicts with "certmesh":\n- .data.a\n- .data.b'
    assert [c["field"] for c in body["details"]["causes"]] == [".data.a", ".data.b"]


def test_a_client_side_update_conflicts_as_the_generic_manager_with_its_api_version(client):
    config_maps = _res(client, "v1", "ConfigMap")
    _apply(config_maps, _config_map(a="1"), "certmesh")
    edited = config_maps.patch(body={"data": {"a": "2"}}, name="mesh", namespace="default",
                               content_type="application/merge-patch+json").to_dict()
    assert _owners(edited) == {("OpenAPI-Generator", "Update"): {"f:data": {"f:a": {}}}}  # the edit took the field
    body = _refusal(lambda: _apply(config_maps, _config_map(a="1"), "certmesh"))
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using v1: .data.a'
    forced = _apply(config_maps, _config_map(a="1"), "certmesh", force=True)
    assert forced["data"] == {"a": "1"}
    assert _owners(forced) == {("certmesh", "Apply"): {"f:data": {"f:a": {}}}}


def test_containers_and_env_merge_by_name_between_managers(client):
    deployments = _res(client, "apps/v1", "Deployment")
    _apply(deployments, _deployment([{"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]), "certmesh")
    both = _apply(deployments, _deployment([{"name": "app", "image": "nginx:1", "env": [{"name": "B", "value": "2"}]},
                                            {"name": "sidecar", "image": "proxy:1"}]), "injector")
    containers = both["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], [e["name"] for e in c.get("env", [])]) for c in containers] == [("app", ["B", "A"]), ("sidecar", [])]
    body = _refusal(lambda: _apply(deployments, _deployment([{"name": "app", "image": "nginx:2"}]), "injector"))
    assert body["message"] == ('Apply failed with 1 conflict: conflict with "certmesh": '
                               '.spec.template.spec.containers[name="app"].image')
    # the injector drops its sidecar: only its own container goes
    dropped = _apply(deployments, _deployment([{"name": "app", "image": "nginx:1"}]), "injector")
    assert [c["name"] for c in dropped["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert [e["name"] for e in dropped["spec"]["template"]["spec"]["containers"][0]["env"]] == ["A"]


def test_custom_resource_lists_follow_the_crd_list_type(client):
    client.resources.invalidate_cache()
    widgets = _res(client, "example.com/v1", "Widget")
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
            "spec": {"parts": [{"name": "a", "size": 1}], "tags": ["x"], "owners": ["certmesh"]}}
    created = _apply(widgets, body, "certmesh")
    assert _owners(created)[("certmesh", "Apply")]["f:spec"] == {
        "f:parts": {'k:{"name":"a"}': {".": {}, "f:name": {}, "f:size": {}}}, "f:tags": {}, "f:owners": {'v:"certmesh"': {}}}
    other = {**body, "spec": {"parts": [{"name": "b", "size": 2}], "owners": ["flux"]}}
    merged = _apply(widgets, other, "flux")
    assert [p["name"] for p in merged["spec"]["parts"]] == ["b", "a"]
    assert sorted(merged["spec"]["owners"]) == ["certmesh", "flux"]
    refused = _refusal(lambda: _apply(widgets, {**body, "spec": {"tags": ["y"]}}, "flux"))
    assert refused["message"] == 'Apply failed with 1 conflict: conflict with "certmesh": .spec.tags'


def test_fieldsv1_trees_read_back_into_the_same_members():
    members = {("f:data", "f:a"), ("f:spec", 'k:{"name":"a"}'), ("f:spec", 'k:{"name":"a"}', "f:size"),
               ("f:metadata", "f:finalizers", 'v:"x"')}
    tree = kube_ssa.fields_v1(members)
    assert tree["f:spec"]['k:{"name":"a"}'] == {".": {}, "f:size": {}}
    assert kube_ssa.paths_from_fields_v1(tree) == members
    assert kube_ssa.path_string(("f:spec", 'k:{"containerPort":80,"protocol":"TCP"}', "f:name")) == \
        '.spec[containerPort=80,protocol="TCP"].name'
    assert kube_ssa.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_an_apply_that_creates_needs_the_create_permission_too(kube_emulator_factory):
    cluster = kube_emulator_factory("rbac", crds=False)
    cluster.emulator.deny(verb="create", resource="configmaps")
    config_maps = _res(cluster.dynamic(), "v1", "ConfigMap")
    body = _refusal(lambda: _apply(config_maps, _config_map(a="1"), "certmesh"))
    assert (body["code"], body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('configmaps "mesh" is forbidden: User "admin" cannot create resource "configmaps" '
                               'in API group "" in the namespace "default"')
