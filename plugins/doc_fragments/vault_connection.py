# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """How certmesh.istio's Vault modules reach Vault, named like community.hashi_vault's options."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - URL of Vault, for example V(https://vault.example.com:8200).
      - Defaults to the E(VAULT_ADDR) environment variable.
    type: str
    aliases: [vault_addr]
  token:
    description:
      - Vault token. Defaults to E(VAULT_TOKEN), then to the file O(token_path)/O(token_file).
      - See the module's documentation for the policy this token needs.
    type: str
  token_path:
    description: Directory of the token file. Defaults to the home directory, like the vault CLI.
    type: path
  token_file:
    description: Name of the token file in O(token_path).
    type: str
    default: .vault-token
  namespace:
    description: Vault Enterprise namespace. Defaults to E(VAULT_NAMESPACE).
    type: str
  ca_cert:
    description: CA bundle to verify Vault's TLS certificate. Defaults to E(VAULT_CACERT).
    type: path
    aliases: [cacert]
  validate_certs:
    description:
      - Verify Vault's TLS certificate. Defaults to true unless E(VAULT_SKIP_VERIFY) is set.
    type: bool
  timeout:
    description: Seconds to wait for each Vault request.
    type: int
    default: 30
"""
