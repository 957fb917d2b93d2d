# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: chain_checks.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certmesh.istio.plugins.module_utils.mesh_trust import purpose_of


def chain_checks(certificates, cluster, kubeconfig=None, context=None):
    """One certmesh.istio.chain_verify ``chains`` item per cert-manager Certificate."""
    if not isinstance(certificates, list):
        raise AnsibleFilterError("certmesh.istio.chain_checks: expected a list of Certificate objects")
    checks = []
    for certificate in certificates:
        meta = certificate.get("metadata") or {}
        spec = certificate.get("spec") or {}
        secret = {"namespace": meta.get("namespace"), "name": spec.get("secretName")}
        if kubeconfig:
            secret["kubeconfig"] = kubeconfig
        if context:
            secret["context"] = context
        check = {
            "name": "cluster %s: Certificate %s/%s (Secret %s)" % (cluster, meta.get("namespace"), meta.get("name"), spec.get("secretName")),
            "secret": secret,
            "purpose": purpose_of(spec),
        }
        if check["purpose"] == "gateway" and spec.get("dnsNames"):
            check["dns_names"] = list(spec["dnsNames"])
        checks.append(check)
    return checks


class FilterModule(object):
    def filters(self):
        return {"chain_checks": chain_checks}
