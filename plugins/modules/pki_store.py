#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pki_store
short_description: Keep the mesh root and cluster intermediates as Secrets in a management cluster
version_added: 0.1.0
description:
  - The shared PKI store of C(certmesh_pki_store=kubernetes). Each entry (the mesh root, one
    cluster intermediate) is a C(kubernetes.io/tls) Secret C(certmesh-<environment>-<entry>) in
    O(namespace) of the management cluster.
  - O(action=fetch) copies an existing entry into O(folder) (certificate 0644, key 0600) and
    returns RV(found); nothing is written when the entry does not exist.
  - O(action=publish) creates the entry from the files in O(folder) unless it exists. Creation
    is race-safe - Kubernetes create answers 409 AlreadyExists to every writer but the first, so
    when another control node won, its entry replaces the local files (RV(adopted)) and
    concurrent runs end with one root.
  - Entries are never updated or deleted by this module.
  - Run it with C(no_log) - the key passes through the module's arguments' files, never its
    result, but an error from the API server could echo a request.
author:
  - certmesh developers (@certmesh)
extends_documentation_fragment:
  - certmesh.istio.cluster_connection
attributes:
  check_mode:
    support: full
    description: O(action=fetch) reads; O(action=publish) reports what it would create and writes nothing.
  diff_mode:
    support: none
    description: No diff.
options:
  action:
    description: Copy an entry out of the store, or create it from local files unless it exists.
    type: str
    choices: [fetch, publish]
    required: true
  namespace:
    description: Namespace of the store in the management cluster (created by O(action=publish) when missing).
    type: str
    required: true
  environment:
    description: Environment the entry belongs to (C(certmesh_environment)); part of the Secret name.
    type: str
    required: true
  entry:
    description: The entry, for example V(mesh-root) or V(intermediate-east).
    type: str
    required: true
  folder:
    description: Local folder of the scratch copy (a 0700 temporary folder).
    type: path
    required: true
  certificate_name:
    description: File name of the certificate in O(folder).
    type: str
    required: true
  key_name:
    description: File name of the private key in O(folder).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Copy the mesh root out of the store
  certmesh.istio.pki_store:
    kubeconfig: ~/.kube/management
    action: fetch
    namespace: certmesh-pki
    environment: prod
    entry: mesh-root
    folder: "{{ scratch.path }}/mesh-root"
    certificate_name: root-ca.crt
    key_name: root-ca.key
  no_log: true
  register: stored_root

- name: Keep the new mesh root unless another control node stored one first
  certmesh.istio.pki_store:
    kubeconfig: ~/.kube/management
    action: publish
    namespace: certmesh-pki
    environment: prod
    entry: mesh-root
    folder: "{{ scratch.path }}/mesh-root"
    certificate_name: root-ca.crt
    key_name: root-ca.key
  no_log: true
"""

RETURN = r"""
found:
  description: The entry existed in the store (O(action=fetch)).
  returned: always
  type: bool
created:
  description: This run created the entry (O(action=publish)).
  returned: always
  type: bool
adopted:
  description: Another writer had stored the entry first; its files replaced the local ones (O(action=publish)).
  returned: always
  type: bool
secret:
  description: Namespace and name of the entry's Secret.
  returned: always
  type: str
  sample: certmesh-pki/certmesh-prod-mesh-root
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import kube, pki_store

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:
    AUTH_ARG_SPEC = {}


def main():
    argument_spec = dict(
        action=dict(type="str", required=True, choices=["fetch", "publish"]),
        namespace=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        entry=dict(type="str", required=True),
        folder=dict(type="path", required=True),
        certificate_name=dict(type="str", required=True),
        key_name=dict(type="str", required=True),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    kube.reveal_kubeconfig_paths(module)
    if not AUTH_ARG_SPEC:
        module.fail_json(msg=missing_required_lib("the kubernetes.core collection"))
    params = module.params
    name = pki_store.secret_name(params["environment"], params["entry"])
    where = "%s/%s" % (params["namespace"], name)
    result = dict(changed=False, found=False, created=False, adopted=False, secret=where)
    try:
        client = kube.api_client(dict((key, params.get(key)) for key in AUTH_ARG_SPEC))
        if params["action"] == "fetch":
            result.update(found=pki_store.fetch(client, params["namespace"], name, params["folder"],
                                                params["certificate_name"], params["key_name"])["found"])
        else:
            outcome = pki_store.publish(client, params["namespace"], name, params["environment"], params["folder"],
                                        params["certificate_name"], params["key_name"], check_mode=module.check_mode)
            result.update(found=not outcome["created"], created=outcome["created"], adopted=outcome["adopted"],
                          changed=outcome["created"])
    except (kube.KubeError, pki_store.StoreError) as exc:
        module.fail_json(msg="PKI store (management cluster, %s): %s" % (where, exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="PKI store %s: local scratch copy in %s: %s" % (where, params["folder"], exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
