#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rotation_state
short_description: Plan, record and resume the phases of a mesh CA rotation
version_added: 0.1.0
description:
  - Keeps the state marker of a root or intermediate rotation (a JSON file on the control
    node) for C(playbooks/rotate.yml). A root rotation runs the phases C(prepare), C(publish),
    C(switch), C(drain), C(retire), C(promote); an intermediate rotation C(prepare), C(switch),
    C(drain), C(promote).
  - O(action=plan) reads the marker (or starts a new rotation) and returns the phases this run
    executes, resuming at the first incomplete one, with what each phase trusts and signs.
  - O(action=begin), O(action=complete) and O(action=fail) record a phase; phases run in order.
  - O(action=status) only reads - whether a rotation is in progress and what the clusters
    trust at this point (C(trust), as in O(action=plan)'s settings), for verify.yml.
  - O(action=drain) returns how many seconds remain before the old chain may be dropped.
  - O(action=promote) moves the new CA folders into place, keeping the old ones, resumably.
  - O(action=plan) with O(abort=true) plans the abort of a rotation that has not begun its
    C(switch) phase - the one step C(abort) pins the old root alone again - and refuses, saying
    to roll forward, once a switch has begun. O(action=begin) and O(action=complete) with
    O(phase=abort) record it; the marker then holds C(aborted_at).
  - O(action=set_aside) moves the new CA folders of an aborted rotation out of the way.
  - A marker that cannot be read, or misses a field or holds one of the wrong type, fails with a
    message naming the file and the field.
  - In check mode nothing is written, nothing reports a change and O(action=plan) shows the plan.
  - With O(store) (C(certmesh_pki_store) V(kubernetes) or V(vault)) the marker also lives in the
    shared PKI store - a ConfigMap C(certmesh-<environment>-rotation-state) in the store's
    namespace, or the KV v2 key C(<path>/<environment>/rotation-state) - so a rotation started on
    one control node (AWX execution node) is seen, resumed or aborted from any other. The newer
    of the stored and the local marker is used (a rotation's history only grows), and every
    change is written back with the version read (Kubernetes resourceVersion, KV v2 C(cas)), so a
    concurrent change is refused instead of lost.
  - With O(cluster_copies) every change is also copied to a ConfigMap C(certmesh-rotation-state)
    in O(cluster_copy_namespace) of each cluster, so an interrupted rotation is visible on the
    clusters themselves.
author:
  - certmesh developers (@certmesh)
attributes:
  check_mode:
    support: full
    description: Nothing is written in check mode; the plan is returned.
  diff_mode:
    support: none
    description: No diff.
options:
  path:
    description: The state marker file.
    type: path
    required: true
  store:
    description: The shared PKI store that keeps the marker too (see the description).
    type: dict
    suboptions:
      backend:
        description: Secrets and ConfigMaps in a management cluster, or Vault KV version 2.
        type: str
        choices: [kubernetes, vault]
        required: true
      environment:
        description: Environment of the marker (C(certmesh_environment)); part of its name.
        type: str
        required: true
      kubeconfig:
        description: Kubeconfig of the management cluster (O(store.backend=kubernetes)).
        type: str
      context:
        description: Context of the management cluster in that kubeconfig.
        type: str
      namespace:
        description: Namespace of the store in the management cluster.
        type: str
        default: certmesh-pki
      vault:
        description: How to reach Vault (O(store.backend=vault)); as the O(certmesh.istio.pki_store#module:vault) option.
        type: dict
        suboptions:
          url:
            description: URL of Vault. Defaults to E(VAULT_ADDR).
            type: str
          token:
            description: Vault token (C(create), C(read) and C(update) on the marker's key). Defaults to E(VAULT_TOKEN).
            type: str
          namespace:
            description: Vault Enterprise namespace. Defaults to E(VAULT_NAMESPACE).
            type: str
          ca_cert:
            description: CA bundle to verify Vault's TLS certificate. Defaults to E(VAULT_CACERT).
            type: path
          validate_certs:
            description: Verify Vault's TLS certificate.
            type: bool
          timeout:
            description: Seconds to wait for each Vault request.
            type: int
            default: 30
          mount:
            description: Path of the KV version 2 mount.
            type: str
            default: secret
          path:
            description: Folder of the store's keys in the mount.
            type: str
            default: certmesh
  cluster_copies:
    description: Clusters that carry a copy of the marker, each with its name and kubernetes.core connection.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Cluster name, for messages.
        type: str
        required: true
      kubeconfig:
        description: Kubeconfig of the cluster; unset means the client's default lookup.
        type: str
      context:
        description: Context in that kubeconfig.
        type: str
  cluster_copy_namespace:
    description: Namespace of the marker's copy on each cluster.
    type: str
    default: cert-manager
  action:
    description: What to do.
    type: str
    choices: [plan, status, begin, complete, fail, drain, promote, set_aside]
    default: plan
  kind:
    description: Rotation kind (O(action=plan)).
    type: str
    choices: [root, intermediate]
    default: root
  clusters:
    description: Names of the clusters the rotation covers (O(action=plan)); a rotation keeps its clusters until finished.
    type: list
    elements: str
    default: []
  abort:
    description:
      - Plan the abort of the rotation in progress instead of its next phases (O(action=plan)).
      - Refused once the rotation's C(switch) phase has begun.
    type: bool
    default: false
  phase:
    description: The phase to record (O(action=begin), O(action=complete), O(action=fail)); V(abort) for an abort.
    type: str
  reason:
    description: Why the phase failed (O(action=fail)).
    type: str
  facts:
    description: Facts to keep in the marker when a phase completes (for example root fingerprints).
    type: dict
    default: {}
  stop_after:
    description: Run the phases up to and including this one, then stop (O(action=plan)).
    type: str
  new:
    description: Start a new rotation when the last one is finished (O(action=plan)).
    type: bool
    default: false
  drain_period:
    description:
      - Time that must pass after the switch phase (O(action=drain)), as a Go duration (V(1h),
        V(90m), V(0s)) - the longest workload certificate lifetime istio-csr signs.
    type: str
    default: 0s
  moves:
    description: Folders to promote (O(action=promote)).
    type: list
    elements: dict
    default: []
    suboptions:
      current:
        description: Folder in use (kept as O(moves[].retired)).
        type: path
        required: true
      next:
        description: Folder with the new CA files.
        type: path
        required: true
      retired:
        description: Where the old folder is kept.
        type: path
        required: true
  folders:
    description: Folders to set aside (O(action=set_aside)); a folder that does not exist is skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Folder to move away.
        type: path
        required: true
      dest:
        description: Where it is kept.
        type: path
        required: true
"""

EXAMPLES = r"""
- name: Plan the root rotation of the mesh
  certmesh.istio.rotation_state:
    path: out/prod/rotation-state.json
    kind: root
    clusters: "{{ ansible_play_hosts_all }}"
  register: rotation
  run_once: true

- name: Plan the abort of the rotation in progress
  certmesh.istio.rotation_state:
    path: out/prod/rotation-state.json
    clusters: "{{ ansible_play_hosts_all }}"
    abort: true
  register: rotation
  run_once: true

- name: Record that the publish phase is complete
  certmesh.istio.rotation_state:
    path: out/prod/rotation-state.json
    action: complete
    phase: publish
  run_once: true
"""

RETURN = r"""
state:
  description: The state marker after the action.
  returned: always
  type: dict
stored:
  description: Where the marker was written besides the local file (the store, the cluster copies).
  returned: always
  type: list
  elements: str
plan:
  description: >-
    With O(action=plan) - kind, id, phases, completed, run (the phases this run executes),
    resume_at, in_progress, new, finished, aborted, descriptions, and settings (per phase and
    for V(abort) - signing_root,
    ca_dir, extra_trusted_roots, expected_roots, chain_roots as V(current) or V(next)).
  returned: when O(action=plan)
  type: dict
trust:
  description: >-
    With O(action=status) - the settings of the last completed phase of an unfinished rotation
    (expected_roots, chain_roots... as V(current)/V(next), plus phase and id), or null.
  returned: when O(action=status)
  type: dict
remaining_seconds:
  description: Seconds to wait before the drain is over.
  returned: when O(action=drain)
  type: int
actions:
  description: The folder moves done (or planned in check mode).
  returned: when O(action=promote) or O(action=set_aside)
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.certmesh.istio.plugins.module_utils import pki_store_vault  # the store's nested vault option
from ansible_collections.certmesh.istio.plugins.module_utils import rotation

try:
    from ansible_collections.certmesh.istio.plugins.module_utils import kube, rotation_store, vault
    HAS_STORE = True
except ImportError:  # pragma: no cover - the store needs kubernetes/hvac; the local marker does not
    HAS_STORE = False


class _Marker(object):
    """The local marker file, plus the shared store and the cluster copies when given."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.remote = None
        self.stored = []
        store = self.params.get("store")
        if store:
            self.remote = self._remote(store)

    def _remote(self, store):
        try:
            if store["backend"] == "vault":
                settings = dict(store.get("vault") or {})
                session = vault.VaultSession(vault.resolve_connection(settings))
                vault.check_usable(session)
                return rotation_store.VaultMarker(session, settings.get("mount") or "secret",
                                                  settings.get("path") or "", store["environment"])
            client = kube.api_client({"kubeconfig": store.get("kubeconfig") or None,
                                      "context": store.get("context") or None})
            return rotation_store.KubernetesMarker(client, store["namespace"], store["environment"])
        except (vault.VaultError, kube.KubeError) as exc:
            raise rotation.RotationError("the shared PKI store of the rotation state marker: %s" % exc)

    def load(self):
        local = rotation.load(self.params["path"])
        if self.remote is None:
            return local
        try:
            stored = self.remote.read()
        except vault.VaultError as exc:
            raise rotation.RotationError("cannot read the rotation state marker %s: %s" % (self.remote.where, exc))
        state = rotation_store.newer(local, stored)
        # A fresh control node (a new AWX container) starts from the stored marker; a status
        # read (verify.yml) leaves the control node as it was.
        if state is not None and state != local and not self.module.check_mode and self.params["action"] != "status":
            rotation.save(self.params["path"], state)
        return state

    def save(self, state):
        rotation.save(self.params["path"], state)
        if self.remote is not None:
            self.remote.write(state)
            self.stored.append(self.remote.where)
        store = self.params.get("store") or {}
        for cluster in self.params["cluster_copies"]:
            self.stored.append(rotation_store.cluster_copy(cluster, self.params["cluster_copy_namespace"],
                                                           store.get("environment") or "", state))


def _plan(module, marker, state):
    params = module.params
    state, summary = rotation.plan(state, params["kind"], params["clusters"], params["stop_after"], params["new"],
                                   abort=params["abort"])
    summary["settings"] = dict((phase, rotation.phase_settings(state["kind"], phase))
                               for phase in list(state["phases"]) + [rotation.ABORT])
    # Showing a plan in check mode changes nothing (the phases would, and they do not run).
    changed = (summary["new"] or not os.path.exists(params["path"])) and not module.check_mode
    if changed:
        marker.save(state)
    return dict(changed=changed, state=state, plan=summary, stored=marker.stored)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            action=dict(type="str", default="plan",
                        choices=["plan", "status", "begin", "complete", "fail", "drain", "promote", "set_aside"]),
            kind=dict(type="str", default="root", choices=list(rotation.KINDS)),
            clusters=dict(type="list", elements="str", default=[]),
            abort=dict(type="bool", default=False),
            phase=dict(type="str"),
            reason=dict(type="str"),
            facts=dict(type="dict", default={}),
            stop_after=dict(type="str"),
            new=dict(type="bool", default=False),
            drain_period=dict(type="str", default="0s"),
            moves=dict(type="list", elements="dict", default=[], options=dict(
                current=dict(type="path", required=True),
                next=dict(type="path", required=True),
                retired=dict(type="path", required=True),
            )),
            folders=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                dest=dict(type="path", required=True),
            )),
            store=dict(type="dict", options=dict(
                backend=dict(type="str", required=True, choices=["kubernetes", "vault"]),
                environment=dict(type="str", required=True),
                kubeconfig=dict(type="str"),
                context=dict(type="str"),
                namespace=dict(type="str", default="certmesh-pki"),
                vault=dict(type="dict", options=pki_store_vault.store_argument_spec()),
            )),
            cluster_copies=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                kubeconfig=dict(type="str"),
                context=dict(type="str"),
            )),
            cluster_copy_namespace=dict(type="str", default="cert-manager"),
        ),
        required_if=[("action", "begin", ["phase"]), ("action", "complete", ["phase"]), ("action", "fail", ["phase"])],
        supports_check_mode=True,
    )
    params = module.params
    if (params["store"] or params["cluster_copies"]) and not HAS_STORE:
        module.fail_json(msg=missing_required_lib("kubernetes and hvac (the shared PKI store)"))
    try:
        marker = _Marker(module)
        state = marker.load()
        if params["action"] == "plan":
            module.exit_json(**_plan(module, marker, state))
        if params["action"] == "status":
            module.exit_json(changed=False, state=state, trust=rotation.trust_now(state), stored=marker.stored)
        if state is None:
            module.fail_json(msg="no rotation state marker at %s: run the plan first" % params["path"])
        if params["action"] == "drain":
            try:
                period = pki.parse_duration(params["drain_period"])
            except ValueError as exc:
                module.fail_json(msg="drain_period: %s" % exc)
            module.exit_json(changed=False, state=state, remaining_seconds=rotation.drain_remaining(state, period))
        if params["action"] == "promote":
            actions = rotation.promote(params["moves"], dry_run=module.check_mode)
            module.exit_json(changed=bool(actions), state=state, actions=actions)
        if params["action"] == "set_aside":
            actions = rotation.set_aside(params["folders"], dry_run=module.check_mode)
            module.exit_json(changed=bool(actions), state=state, actions=actions)
        before = len(state["history"]), list(state["completed"])
        if params["action"] == "begin":
            rotation.begin(state, params["phase"])
        elif params["action"] == "complete":
            rotation.complete(state, params["phase"], facts=params["facts"])
        else:
            rotation.record_failure(state, params["phase"], params["reason"] or "failed")
        changed = (len(state["history"]), state["completed"]) != before
        if changed and not module.check_mode:
            marker.save(state)
        module.exit_json(changed=changed, state=state, stored=marker.stored)
    except rotation.RotationError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="rotation state marker %s: %s" % (params["path"], exc))


if __name__ == "__main__":
    main()
