#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pki_store
short_description: Keep the mesh root and cluster intermediates in a shared PKI store (Kubernetes Secrets or Vault KV v2)
version_added: 0.1.0
description:
  - The shared PKI store of C(certmesh_pki_store=kubernetes) and C(certmesh_pki_store=vault).
  - With O(backend=kubernetes) each entry (the mesh root, one cluster intermediate) is a
    C(kubernetes.io/tls) Secret C(certmesh-<environment>-<entry>) in O(namespace) of the
    management cluster.
  - With O(backend=vault) each entry is the key C(<vault.path>/<environment>/<entry>) of the KV
    version 2 mount O(vault.mount), with the fields C(certificate) and C(private_key). The token
    needs C(create) and C(read) on C(<mount>/data/<path>/<environment>/*) (and the C(default)
    policy); C(update) is not needed, as entries are never overwritten.
  - O(action=fetch) copies an existing entry into O(folder) (certificate 0644, key 0600) and
    returns RV(found); nothing is written when the entry does not exist.
  - O(action=publish) creates the entry from the files in O(folder) unless it exists. Creation
    is race-safe - Kubernetes create answers 409 AlreadyExists, and a KV v2 write with
    check-and-set C(cas=0) answers C(check-and-set parameter did not match the current version),
    to every writer but the first - so when another control node won, its entry replaces the
    local files (RV(adopted)) and concurrent runs end with one root.
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
  backend:
    description: Where the store is - Secrets in a management cluster, or a Vault KV version 2 mount.
    type: str
    choices: [kubernetes, vault]
    default: kubernetes
  cluster:
    description: Inventory cluster the entry is fetched or published for; named in error messages.
    type: str
  vault:
    description:
      - How to reach the store in Vault (O(backend=vault)); named like the options of
        M(certmesh.istio.vault_pki).
    type: dict
    suboptions:
      url:
        description: URL of Vault. Defaults to E(VAULT_ADDR).
        type: str
      token:
        description: Vault token. Defaults to E(VAULT_TOKEN), then to C(~/.vault-token).
        type: str
      namespace:
        description: Vault Enterprise namespace. Defaults to E(VAULT_NAMESPACE).
        type: str
      ca_cert:
        description: CA bundle to verify Vault's TLS certificate. Defaults to E(VAULT_CACERT).
        type: path
      validate_certs:
        description: Verify Vault's TLS certificate. Defaults to true unless E(VAULT_SKIP_VERIFY) is set.
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
  action:
    description: Copy an entry out of the store, or create it from local files unless it exists.
    type: str
    choices: [fetch, publish]
    required: true
  namespace:
    description:
      - Namespace of the store in the management cluster (created by O(action=publish) when
        missing). Required with O(backend=kubernetes).
    type: str
  environment:
    description: Environment the entry belongs to (C(certmesh_environment)); part of the Secret name or KV path.
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

- name: Keep the mesh root in Vault KV v2 unless another control node stored one first
  certmesh.istio.pki_store:
    backend: vault
    vault:
      url: https://vault.example.com:8200
      mount: secret
      path: certmesh
    action: publish
    environment: prod
    entry: mesh-root
    cluster: east
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
  description: Namespace and name of the entry's Secret, or the KV v2 API path of the entry in Vault.
  returned: always
  type: str
  sample: certmesh-pki/certmesh-prod-mesh-root
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import kube, pki_store, pki_store_vault, vault

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:
    AUTH_ARG_SPEC = {}


def _for_cluster(params):
    return ", cluster %s" % params["cluster"] if params.get("cluster") else ""


def _kubernetes(module, params, result):
    if not AUTH_ARG_SPEC:
        module.fail_json(msg=missing_required_lib("the kubernetes.core collection"))
    name = pki_store.secret_name(params["environment"], params["entry"])
    where = "%s/%s" % (params["namespace"], name)
    result["secret"] = where
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
        module.fail_json(msg="PKI store (management cluster, %s%s): %s" % (where, _for_cluster(params), exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="PKI store %s%s: local scratch copy in %s: %s"
                         % (where, _for_cluster(params), params["folder"], exc), **result)


def _vault(module, params, result):
    if not vault.HAS_HVAC:
        module.fail_json(msg=missing_required_lib("hvac"), exception=str(vault.HVAC_IMPORT_ERROR))
    settings = params.get("vault") or {}
    mount = (settings.get("mount") or "secret").strip("/")
    path = pki_store_vault.entry_path(settings.get("path") or "", params["environment"], params["entry"])
    where = pki_store_vault.api_path(mount, path)
    result["secret"] = where
    address = settings.get("url") or "VAULT_ADDR"
    try:
        session = vault.VaultSession(vault.resolve_connection(settings))
        address = session.where
        vault.check_usable(session)
        if params["action"] == "fetch":
            result.update(found=pki_store_vault.fetch(session, mount, path, params["folder"],
                                                      params["certificate_name"], params["key_name"])["found"])
        else:
            outcome = pki_store_vault.publish(session, mount, path, params["environment"], params["folder"],
                                              params["certificate_name"], params["key_name"],
                                              check_mode=module.check_mode)
            result.update(found=not outcome["created"], created=outcome["created"], adopted=outcome["adopted"],
                          changed=outcome["created"])
    except (vault.VaultError, pki_store.StoreError) as exc:
        module.fail_json(msg="PKI store (Vault at %s, %s%s): %s" % (address, where, _for_cluster(params), exc),
                         **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="PKI store (Vault at %s, %s%s): local scratch copy in %s: %s"
                         % (address, where, _for_cluster(params), params["folder"], exc), **result)


def main():
    argument_spec = dict(
        backend=dict(type="str", default="kubernetes", choices=["kubernetes", "vault"]),
        cluster=dict(type="str"),
        vault=dict(type="dict", options=pki_store_vault.store_argument_spec()),
        action=dict(type="str", required=True, choices=["fetch", "publish"]),
        namespace=dict(type="str"),
        environment=dict(type="str", required=True),
        entry=dict(type="str", required=True),
        folder=dict(type="path", required=True),
        certificate_name=dict(type="str", required=True),
        key_name=dict(type="str", required=True),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("backend", "kubernetes", ["namespace"]), ("backend", "vault", ["vault"])])
    kube.reveal_kubeconfig_paths(module)
    params = module.params
    result = dict(changed=False, found=False, created=False, adopted=False, secret="")
    if params["backend"] == "vault":
        _vault(module, params, result)
    else:
        _kubernetes(module, params, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
