# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: spiffe_id.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def spiffe_id(value, istio=True, strict=True, trust_domain=None):
    """Parse and validate a SPIFFE ID; see spiffe_id.yml."""
    pki = lazy_filters.module("pki")
    try:
        parsed = pki.parse_spiffe_id(value, istio=istio)
        if trust_domain and parsed["trust_domain"] != trust_domain:
            raise pki.SpiffeIdError("%r is in trust domain %r, expected %r"
                                    % (value, parsed["trust_domain"], trust_domain))
    except pki.SpiffeIdError as exc:
        if strict:
            raise AnsibleFilterError("certmesh.istio.spiffe_id: %s" % to_native(exc))
        return {"spiffe_id": value, "valid": False, "error": to_native(exc), "trust_domain": None,
                "path": None, "namespace": None, "service_account": None}
    parsed.update(valid=True, error=None)
    return parsed


class FilterModule(object):
    def filters(self):
        return {"spiffe_id": spiffe_id}
