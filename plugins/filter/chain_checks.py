# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: chain_checks.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def chain_checks(certificates, cluster, kubeconfig=None, context=None):
    """One certmesh.istio.chain_verify ``chains`` item per cert-manager Certificate."""
    if not isinstance(certificates, list):
        raise AnsibleFilterError("certmesh.istio.chain_checks: expected a list of Certificate "
                                 "objects, got %s" % type(certificates).__name__)
    purpose_of = lazy_filters.module("mesh_trust").purpose_of
    checks = []
    for number, certificate in enumerate(certificates):
        meta, spec = _parts(certificate, number)
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


def _parts(certificate, number):
    """``(metadata, spec)`` of one Certificate object, refusing shapes the API never returns
    (so that a wrong variable fails here, named, and not inside the check)."""
    where = "certmesh.istio.chain_checks: item %d" % number
    if not isinstance(certificate, dict):
        raise AnsibleFilterError("%s is %s, expected a Certificate object (a dict)"
                                 % (where, type(certificate).__name__))
    meta = certificate.get("metadata") or {}
    spec = certificate.get("spec") or {}
    for field, found in (("metadata", meta), ("spec", spec)):
        if not isinstance(found, dict):
            raise AnsibleFilterError("%s: %s is %s, expected a mapping" % (where, field, type(found).__name__))
    for field in ("uris", "dnsNames"):
        if spec.get(field) is not None and not isinstance(spec[field], list):
            raise AnsibleFilterError("%s: spec.%s is %s, expected a list"
                                     % (where, field, type(spec[field]).__name__))
    return meta, spec


class FilterModule(object):
    def filters(self):
        return {"chain_checks": chain_checks}
