# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: desired_objects.yml and helm_values.yml beside this file.
"""Thin wrappers over module_utils/desired_objects: roles build objects as data, never as YAML text."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def _build(kind, table, inputs, component):
    if component not in table:
        raise AnsibleFilterError("certmesh.istio.%s: unknown component %r (known: %s)"
                                 % (kind, component, ", ".join(sorted(table))))
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("certmesh.istio.%s(%s): the input must be a mapping of named inputs, not %s"
                                 % (kind, component, type(inputs).__name__))
    try:
        return table[component](**inputs)
    except (TypeError, KeyError, AttributeError) as exc:
        # Only a role calling the filter wrongly gets here: user values were checked before.
        raise AnsibleFilterError("certmesh.istio.%s(%s): %s" % (kind, component, to_native(exc)))


def desired_objects(inputs, component):
    """Kubernetes objects of one component; see desired_objects.yml."""
    return _build("desired_objects", lazy_filters.module("desired_objects").OBJECT_BUILDERS, inputs, component)


def helm_values(inputs, chart):
    """Helm values the collection sets for one chart; see helm_values.yml."""
    return _build("helm_values", lazy_filters.module("desired_objects").VALUES_BUILDERS, inputs, chart)


class FilterModule(object):
    def filters(self):
        return {"desired_objects": desired_objects, "helm_values": helm_values}
