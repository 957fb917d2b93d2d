# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: mesh_monitoring_objects.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def mesh_monitoring_objects(settings, ca_certificates=None):
    """Settings of one cluster to its PrometheusRule and ServiceMonitors (a list of dicts)."""
    mesh_monitoring, pki = lazy_filters.module("mesh_monitoring"), lazy_filters.module("pki")
    if not pki.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("certmesh.istio.mesh_monitoring_objects needs the Python library cryptography "
                                 "on the controller: %s" % to_native(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    if not isinstance(settings, dict):
        raise AnsibleFilterError("certmesh.istio.mesh_monitoring_objects expects a dict of settings, got %s"
                                 % type(settings).__name__)
    try:
        objects, problems = mesh_monitoring.monitoring_objects(settings, ca_certificates)
    except mesh_monitoring.MonitoringInputError as exc:
        raise AnsibleFilterError("cluster %s: %s" % (settings.get("cluster"), to_native(exc)))
    if problems:
        raise AnsibleFilterError("cluster %s: cannot read the CA certificate to watch: %s"
                                 % (settings.get("cluster"), "; ".join(problems)))
    return objects


class FilterModule(object):
    def filters(self):
        return {"mesh_monitoring_objects": mesh_monitoring_objects}
