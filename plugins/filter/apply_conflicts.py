# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: apply_conflicts.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


class FilterModule(object):
    def filters(self):
        return {"apply_conflicts": lazy_filters.function("apply_conflicts", "apply_conflicts")}
