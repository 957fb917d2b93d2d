# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: render_drift.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.lazy_filters import function


class FilterModule(object):
    def filters(self):
        return {"render_drift": function("render_drift", "render_drift")}
