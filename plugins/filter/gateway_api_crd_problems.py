# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: gateway_api_crd_problems.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def gateway_api_crd_problems(crds, source="the cluster"):
    """Messages (not problem dicts): what an assert prints."""
    return [found["message"] for found in lazy_filters.module("preflight").check_gateway_api_crds(crds, source)]


class FilterModule(object):
    def filters(self):
        return {"gateway_api_crd_problems": gateway_api_crd_problems}
