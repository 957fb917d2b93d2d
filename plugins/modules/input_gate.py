#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: input_gate
short_description: Check every input of every inventory host before anything is written
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin), once, before any file, key or object is written.
    Every playbook of the collection that writes calls it first.
  - Takes every inventory host's effective variables (the roles' defaults under the inventory
    and extra vars) and checks the collection-level C(certmesh_*) variables and every role
    input against the roles' argument specs (types, choices, list elements) and the input rules
    of U(https://github.com/certmesh/certmesh.istio/blob/main/docs/inputs.md) - Kubernetes names,
    SPIFFE trust domain, Go durations, Vault TTLs, folder names, PKI folders inside
    C(certmesh_output_dir), key files that are not symlinks.
  - Across the inventory, C(certmesh_cluster_name) and C(istio_csr_cluster_id) must be unique.
  - Refuses with one message that names, for every broken input, the variable, the inventory host
    and the rule. Warns for a C(certmesh_*) or role-prefixed variable no role reads, with the
    closest known name.
  - Booleans and numbers typed on the command line (C(-e name=false)) are accepted when they
    stand for a boolean or number; the roles read them through C(bool) and C(int).
author:
  - certmesh developers (@certmesh)
options:
  hosts:
    description: Inventory hosts to check; default every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
notes:
  - Run it with C(run_once) in a play with C(any_errors_fatal), so one bad host stops every host.
  - Supports check mode; it never changes anything.
attributes:
  check_mode:
    support: full
    description: The gate only reads; it runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
"""

EXAMPLES = r"""
- name: Check every input before anything is written
  hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: Refuse any input that breaks a rule
      certmesh.istio.input_gate:
      run_once: true
"""

RETURN = r"""
hosts:
  description: The inventory hosts checked.
  returned: always
  type: list
  elements: str
  sample: [cluster1, cluster2]
checked:
  description: Number of role inputs known to the gate.
  returned: always
  type: int
  sample: 180
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(hosts=dict(type="list", elements="str")), supports_check_mode=True)
    module.fail_json(msg="certmesh.istio.input_gate runs on the controller as an action plugin; "
                         "call it from a play, not with ansible -m on a remote host")


if __name__ == "__main__":
    main()
