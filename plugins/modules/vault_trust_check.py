#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_trust_check
short_description: Check that the Vault intermediate chains to a root the mesh already trusts
version_added: 0.1.0
description:
  - Run before switching istio-csr from its current issuer to Vault. Workloads only accept peers whose
    certificates chain to a root in their trust bundle; if the Vault intermediate chains to another root,
    switching breaks mTLS across the mesh until every workload has the new root.
  - Reads the intermediate and its chain from O(intermediate_mount) (C(cert/ca_chain)), or takes
    O(intermediate_chain), and checks the signatures up to one of O(mesh_roots) (the current mesh root, or a
    bundle with both the old and the new root), and that every certificate on the way is a valid CA.
  - Fails with the reasons when the chain does not reach a trusted root, unless O(allow_root_rotation) is true
    (you are running the root rotation procedure and distribute the new root first).
author:
  - certmesh developers (@certmesh)
requirements:
  - hvac >= 1.0 (unless O(intermediate_chain) is given)
  - cryptography >= 39.0
extends_documentation_fragment:
  - certmesh.istio.vault_connection
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  platform:
    platforms: posix
    support: full
    description: Runs wherever hvac can reach Vault.
options:
  cluster:
    description:
      - Name of the cluster being checked (the inventory's C(certmesh_cluster_name)); every error message starts with it.
    type: str
  mesh_roots:
    description:
      - PEM of the root(s) workloads trust today. A list of PEMs or bundles.
    type: list
    elements: str
    required: true
  intermediate_chain:
    description:
      - PEM of the Vault intermediate and its parents. When given, Vault is not contacted.
    type: str
  intermediate_mount:
    description: Path of the Vault PKI mount istio-csr would sign with.
    type: str
    default: pki_int
  allow_root_rotation:
    description:
      - Report an untrusted chain without failing. Only for the root rotation procedure, where the new root is
        added to the mesh trust bundle before istio-csr switches.
    type: bool
    default: false
seealso:
  - module: certmesh.istio.vault_pki
'''

EXAMPLES = r'''
- name: Refuse to switch istio-csr to Vault unless workloads trust the Vault intermediate
  certmesh.istio.vault_trust_check:
    url: https://vault.example.com:8200
    intermediate_mount: pki_int
    mesh_roots:
      - "{{ lookup('file', 'mesh-root.pem') }}"
'''

RETURN = r'''
trusted:
  description: Whether the intermediate chains to one of O(mesh_roots) and every certificate on the way is a valid CA.
  returned: always
  type: bool
matched_root:
  description: Subject, serial, expiry and SHA-256 fingerprint of the mesh root reached.
  returned: always
  type: dict
intermediate:
  description: Summary of the Vault intermediate.
  returned: always
  type: dict
path:
  description: Summaries of the certificates from the intermediate to the root reached.
  returned: always
  type: list
  elements: dict
problems:
  description: Why the chain is not trusted, one sentence each.
  returned: always
  type: list
  elements: str
ca_chain:
  description: PEMs checked (the intermediate first).
  returned: always
  type: list
  elements: str
ca_missing:
  description: True when the task failed because O(intermediate_mount) holds no CA certificate yet.
  returned: failure
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils.vault import (
    HAS_HVAC,
    HVAC_IMPORT_ERROR,
    VaultError,
    VaultSession,
    check_usable,
    connection_argument_spec,
    resolve_connection,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_pem import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_trust import (
    intermediate_trust,
    read_intermediate_chain,
)


def main():
    spec = connection_argument_spec()
    spec.update(
        cluster=dict(type='str'),
        mesh_roots=dict(type='list', elements='str', required=True),
        intermediate_chain=dict(type='str'),
        intermediate_mount=dict(type='str', default='pki_int'),
        allow_root_rotation=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    prefix = 'cluster %s: ' % module.params['cluster'] if module.params['cluster'] else ''
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=prefix + missing_required_lib('cryptography'), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    mount = module.params['intermediate_mount'].strip('/')
    where = 'the intermediate_chain option'
    try:
        if module.params['intermediate_chain']:
            chain = [module.params['intermediate_chain']]
        else:
            if not HAS_HVAC:
                module.fail_json(msg=prefix + missing_required_lib('hvac'), exception=str(HVAC_IMPORT_ERROR))
            session = VaultSession(resolve_connection(module.params))
            check_usable(session)
            chain = read_intermediate_chain(session, mount)
            where = '%s/ at %s' % (mount, session.where)
            if not chain:
                module.fail_json(msg=prefix + 'the PKI mount %s has no CA certificate yet: run certmesh.istio.vault_pki first'
                                 % where, ca_missing=True)
        result = intermediate_trust(chain, module.params['mesh_roots'])
    except VaultError as exc:
        module.fail_json(msg=prefix + str(exc))
    except ValueError as exc:
        module.fail_json(msg=prefix + 'cannot read the certificates: %s' % exc)
    result['ca_chain'] = chain
    if not result['trusted']:
        message = ('the Vault intermediate from %s does not chain to a root the mesh trusts: %s. Switching istio-csr '
                   'to Vault now would break mTLS between workloads. Sign the Vault intermediate with the current '
                   'mesh root (certmesh.istio.vault_pki external_root), or run the root rotation procedure (add the '
                   'new root to the trust bundle everywhere first) and re-run with allow_root_rotation: true'
                   % (where, '; '.join(result['problems'])))
        if not module.params['allow_root_rotation']:
            module.fail_json(msg=prefix + message, **result)
        module.warn(prefix + message)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
