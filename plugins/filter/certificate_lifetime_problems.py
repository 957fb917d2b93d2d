# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: certificate_lifetime_problems.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


class FilterModule(object):
    def filters(self):
        return {"certificate_lifetime_problems": lazy_filters.function("preflight", "certificate_lifetime_problems")}
