# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: teardown_plan.yml, teardown_releases.yml, helm_release_names.yml and namespace_holders.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import teardown


class FilterModule(object):
    def filters(self):
        return {"teardown_plan": teardown.plan,
                "teardown_releases": teardown.releases_to_remove,
                "helm_release_names": teardown.release_names,
                "namespace_holders": teardown.namespace_holders}
