# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: teardown_plan.yml, teardown_releases.yml, helm_release_names.yml and namespace_holders.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.lazy_filters import function


class FilterModule(object):
    def filters(self):
        return {"teardown_plan": function("teardown", "plan"),
                "teardown_releases": function("teardown", "releases_to_remove"),
                "helm_release_names": function("teardown", "release_names"),
                "namespace_holders": function("teardown", "namespace_holders")}
