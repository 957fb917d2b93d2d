# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: rollout_report.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def rollout_report(hosts, done, failed, waves, environment="", failed_task="", failed_message=""):
    """The rollout report of site.yml, wave by wave; see rollout_report.yml."""
    broken = lazy_filters.module("input_rules").check_rollout_waves(waves)
    if broken:
        raise AnsibleFilterError("certmesh.istio.rollout_report: certmesh_rollout_waves %s" % broken)
    return lazy_filters.module("rollout").report(environment, list(hosts), list(done), list(failed), waves, failed_task, failed_message)


class FilterModule(object):
    def filters(self):
        return {"rollout_report": rollout_report}
