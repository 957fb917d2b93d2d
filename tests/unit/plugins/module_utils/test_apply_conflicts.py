"""Reading field-manager conflicts out of kubernetes.core's report of a refused server-side apply."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.certmesh.istio.plugins.module_utils.apply_conflicts import apply_conflicts

CONFLICT = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": ('Apply failed with 2 conflicts: conflicts with "flux":\n- .spec.renewBefore\n'
                'conflicts with "kubectl-edit" using cert-manager.io/v1:\n- .spec.duration'),
    "reason": "Conflict", "code": 409,
    "details": {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "flux"', "field": ".spec.renewBefore"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using cert-manager.io/v1',
         "field": ".spec.duration"}]},
}


def _as_kubernetes_core_reports(status, separators=(",", ":")):
    return "Failed to apply object: %r" % json.dumps(status, separators=separators).encode()


def test_each_conflicting_field_is_named_with_its_manager():
    assert apply_conflicts(_as_kubernetes_core_reports(CONFLICT)) == [
        {"field": ".spec.renewBefore", "manager": '"flux"'},
        {"field": ".spec.duration", "manager": '"kubectl-edit" using cert-manager.io/v1'},
    ]


def test_the_emulators_spaced_json_reads_the_same():
    assert len(apply_conflicts(_as_kubernetes_core_reports(CONFLICT, separators=(", ", ": ")))) == 2


def test_a_conflict_of_another_kind_is_not_a_field_manager_conflict():
    stale = dict(CONFLICT, message="Operation cannot be fulfilled", details={"name": "app", "kind": "certificates"})
    assert apply_conflicts(_as_kubernetes_core_reports(stale)) == []


def test_other_errors_and_garbage_give_no_conflicts():
    forbidden = dict(CONFLICT, code=403, reason="Forbidden")
    for text in (_as_kubernetes_core_reports(forbidden), "Failed to apply object: b'not json'", "", None, 42,
                 "Failed to apply object: b'{\"code\": 409"):
        assert apply_conflicts(text) == []
