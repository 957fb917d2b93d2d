# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: ca_files_drift.yml, helm_releases_to_apply.yml, apply_results.yml, observed_ready.yml,
# observed_covers_releases.yml, not_ready.yml, applied_unchanged.yml and objects_to_apply.yml beside this file
# (the file takes the name of one of its filters, so galaxy-importer finds docs for it).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.lazy_filters import function


class FilterModule(object):
    def filters(self):
        return {"ca_files_drift": function("noop", "ca_files_drift"),
                "helm_releases_to_apply": function("noop", "helm_releases_to_apply"),
                "apply_results": function("noop", "apply_results"),
                "observed_ready": function("cluster_view", "known_ready"),
                "observed_covers_releases": function("cluster_view", "covers_releases"),
                "not_ready": function("cluster_view", "not_ready"),
                "applied_unchanged": function("cluster_view", "applied_unchanged"),
                "objects_to_apply": function("applied_objects", "pending")}
