"""Which objects the sink still applies, judged from preflight's view: never "unchanged" when a
server-side apply could change something (the live objects come from the API emulator's
server-side apply, managedFields included)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import applied_objects, cluster_view
from tests.emulators.kube_api import ApiError, KubeAPIEmulator

MANAGER = "certmesh"
LABELS = {"app.kubernetes.io/managed-by": "certmesh.istio"}


class ResourceNotFoundError(Exception):
    pass


class Response:
    def __init__(self, body):
        self.data = json.dumps(body).encode()


class EmulatorClient:
    """kube.list_objects' view of the client, answered in-process by the emulator."""

    def __init__(self, api):
        self.api = api

    def resource(self, kind, api_version):
        if self.api.resource_type(api_version, kind) is None:
            raise ResourceNotFoundError(kind)
        return (api_version, kind)

    def get(self, resource, **params):
        items = self.api.list(resource[0], resource[1], params.get("namespace"), params.get("label_selector"))
        return Response({"items": items, "metadata": {}})


@pytest.fixture
def api():
    return KubeAPIEmulator()


def _config_map(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "mesh", "namespace": "default", "labels": dict(LABELS)},
            "data": data or {"a": "1", "b": "2"}}


def _secret(key="S3CRET-KEY"):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ca", "namespace": "default", "labels": dict(LABELS)}, "type": "Opaque",
            "data": {"tls.key": base64.b64encode(key.encode()).decode(), "tls.crt": "Y2VydA=="}}


def _view(api, namespaces=("default",)):
    return {"objects": applied_objects.observe(EmulatorClient(api), MANAGER, namespaces)}


def _patch_as(api, obj, patch, manager="kubectl-edit"):
    meta = obj["metadata"]
    path = api.path_for(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]) + "?fieldManager=" + manager
    api.request("PATCH", path, patch, "application/merge-patch+json")


def test_objects_applied_as_they_are_are_not_applied_again(api):
    desired = [_config_map(), _secret()]
    for obj in desired:
        api.apply(obj, manager=MANAGER)
    assert applied_objects.pending(desired, _view(api)) == []


def test_a_field_dropped_from_the_inventory_is_still_owned_so_the_object_is_applied(api):
    api.apply(_config_map(a="1", b="2"), manager=MANAGER)
    smaller = _config_map(a="1")
    assert applied_objects.pending([smaller], _view(api)) == [smaller]


def test_a_value_another_manager_changed_is_applied_back(api):
    desired = _config_map()
    api.apply(desired, manager=MANAGER)
    _patch_as(api, desired, {"data": {"a": "changed"}})
    assert applied_objects.pending([desired], _view(api)) == [desired]


def test_a_field_another_manager_added_beside_ours_changes_nothing_for_the_apply(api):
    desired = _config_map()
    api.apply(desired, manager=MANAGER)
    _patch_as(api, desired, {"data": {"a": "1", "c": "3"}})  # "c" is theirs; "a", not changed, stays ours
    view = _view(api)
    owned = view["objects"]["v1/ConfigMap/default/mesh"]["owned"]
    assert ["data", "c"] not in owned and ["data", "a"] in owned
    assert applied_objects.pending([desired], view) == []


def test_the_same_fields_applied_by_a_second_manager_leave_the_object_unchanged(api):
    desired = _config_map()
    api.apply(desired, manager=MANAGER)
    api.apply(desired, manager="flux")  # shared ownership, as after a GitOps sync of the render
    assert applied_objects.pending([desired], _view(api)) == []


def test_a_deleted_object_a_new_value_and_another_kind_are_applied(api):
    desired = _config_map()
    api.apply(desired, manager=MANAGER)
    view = _view(api)
    api.delete("v1", "ConfigMap", "mesh", "default")
    assert applied_objects.pending([desired], _view(api)) == [desired]
    changed = _config_map(a="1", b="3")
    assert applied_objects.pending([changed], view) == [changed]
    service_account = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "default"}}
    assert applied_objects.pending([service_account], view) == [service_account]


def test_an_object_applied_by_another_manager_only_is_applied(api):
    desired = _config_map()
    api.apply(desired, manager="flux")
    assert applied_objects.pending([desired], _view(api)) == [desired]


def test_a_secret_is_compared_by_digest_and_its_values_never_enter_the_view(api):
    desired = _secret()
    api.apply(desired, manager=MANAGER)
    view = _view(api)
    text = json.dumps(view)
    assert desired["data"]["tls.key"] not in text and "S3CRET" not in text and "Y2VydA==" not in text
    assert applied_objects.pending([desired], view) == []
    rotated = _secret(key="OTHER-KEY")
    assert applied_objects.pending([rotated], view) == [rotated]
    with_string_data = dict(_secret(), stringData={"x": "y"})
    assert applied_objects.pending([with_string_data], view) == [with_string_data]


def test_a_field_the_server_owns_whole_must_be_equal_as_a_whole(api):
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default", "labels": dict(LABELS)},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}}
    api.apply(service, manager=MANAGER)
    live = api.get("v1", "Service", "web", "default")
    records = {applied_objects.key("v1", "Service", "default", "web"): applied_objects.record(live, MANAGER)}
    owned = records["v1/Service/default/web"]["owned"]
    assert ["spec", "selector"] in owned  # an atomic map: one leaf
    assert applied_objects.unchanged(service, records)
    wider = copy.deepcopy(live)
    wider["spec"]["selector"]["tier"] = "front"  # a key the atomic apply would remove
    records = {"v1/Service/default/web": applied_objects.record(wider, MANAGER)}
    assert not applied_objects.unchanged(service, records)


def test_a_namespace_of_only_a_name_counts_when_observed(api):
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}
    api.apply(namespace, manager=MANAGER)
    assert applied_objects.pending([namespace], _view(api, namespaces=["istio-system"])) == []
    assert applied_objects.pending([namespace], _view(api, namespaces=[])) == [namespace]


def test_without_objects_in_the_view_everything_is_applied_and_nothing_raises(api):
    desired = [_config_map(), _secret()]
    assert applied_objects.pending(desired, {}) == desired
    assert applied_objects.pending(desired, {"objects": None}) == desired
    assert applied_objects.pending(desired, None) == desired
    broken = {"objects": {"v1/ConfigMap/default/mesh": {"object": _config_map(), "owned": None},
                          "v1/Secret/default/ca": "nonsense"}}
    assert applied_objects.pending(desired, broken) == desired
    assert applied_objects.pending([None, "x", {"kind": "ConfigMap"}], {"objects": {}}) == [None, "x", {"kind": "ConfigMap"}]
    assert applied_objects.owned_paths({"f:data": "not a tree"}) is None
    assert applied_objects.owned_paths(None) is None


def test_fields_v1_reduces_lists_and_ignores_the_dot():
    fields = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
              "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:name": {}}}, "f:finalizers": {'v:"x"': {}},
                         "f:selfSigned": {}}}
    assert applied_objects.owned_paths(fields) == {("metadata", "labels", "app"), ("spec", "containers"),
                                                   ("spec", "finalizers"), ("spec", "selfSigned")}


def test_preflight_view_carries_the_objects_only_when_asked(api):
    api.apply(_config_map(), manager=MANAGER)
    client = EmulatorClient(api)
    assert "objects" not in cluster_view.observe(client, ["default"])
    view = cluster_view.observe(client, ["default"], objects={"field_manager": MANAGER})
    assert sorted(view["objects"]) == ["v1/ConfigMap/default/mesh", "v1/Namespace//default"]


def test_a_failing_read_is_a_kube_error(api):
    class Failing(EmulatorClient):
        def get(self, resource, **params):
            raise ApiError(403, "Forbidden", "configmaps is forbidden")

    with pytest.raises(Exception) as caught:
        applied_objects.observe(Failing(api), MANAGER)
    assert caught.type.__name__ == "KubeError" and "Namespace" in str(caught.value)
