# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's trust in ambient mode: ztunnel on every node, asking istio-csr, and the namespaces
that join the ambient data plane.

Private to the collection. Kept beside ``mesh_trust`` (not inside it) because only ambient
clusters need it: ``snapshot()`` reads the ztunnel DaemonSet and the namespaces the inventory
names; the checks are pure and give results of the same shape as ``mesh_trust.result``.
Workload certificates of ambient namespaces are proven by the verify role's probe
Certificates, which ``mesh_trust``'s chain check already covers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils import desired_objects
from ansible_collections.certmesh.istio.plugins.module_utils import kube
from ansible_collections.certmesh.istio.plugins.module_utils import mesh_trust

AMBIENT = "ambient"
CHECKS = ("ztunnel_ready", "ambient_namespaces")
DATAPLANE_LABEL, DATAPLANE_AMBIENT = next(iter(desired_objects.AMBIENT_LABEL.items()))


def _object_name(kind, namespace, name):
    return "%s %s%s" % (kind, "%s/" % namespace if namespace else "", name)


def snapshot(client, istio_namespace, ambient_namespaces):
    """The ztunnel DaemonSet and the named namespaces of one cluster (None where missing)."""
    return {
        "ztunnel": kube.get_object(client, "DaemonSet", "apps/v1", istio_namespace, desired_objects.ZTUNNEL_NAME),
        "ambient_namespaces": dict((name, kube.get_object(client, "Namespace", "v1", None, name))
                                   for name in ambient_namespaces or []),
    }


def _container_env(workload):
    env = {}
    for container in (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
        for item in container.get("env") or []:
            env[item.get("name")] = item.get("value")
    return env


def check_ztunnel(cluster, snap, settings):
    """ztunnel runs ready and up to date on every node it is scheduled on, and asks istio-csr."""
    istio_ns = settings["istio_namespace"]
    obj = _object_name("DaemonSet", istio_ns, desired_objects.ZTUNNEL_NAME)
    daemonset = snap.get("ztunnel")
    if daemonset is None:
        return mesh_trust.result(cluster, "ztunnel_ready", False, obj, "%s does not exist" % obj,
                                 "ambient mode is not installed: run playbooks/site.yml with certmesh_istio_mode=ambient "
                                 "(role istio)")
    status = daemonset.get("status") or {}
    desired = status.get("desiredNumberScheduled")
    counts = dict((key, status.get(key) or 0) for key in ("numberReady", "updatedNumberScheduled", "numberUnavailable"))
    stale = status.get("observedGeneration") != (daemonset.get("metadata") or {}).get("generation")
    if not desired or counts["numberReady"] != desired or counts["updatedNumberScheduled"] != desired \
            or counts["numberUnavailable"] or stale:
        return mesh_trust.result(cluster, "ztunnel_ready", False, obj,
                                 "%s is not ready: %s of %s node(s) ready, %s up to date%s" % (
                                     obj, counts["numberReady"], desired or 0, counts["updatedNumberScheduled"],
                                     ", status not yet observed" if stale else ""),
                                 "ztunnel pods do not start: see the DaemonSet's events and the pod logs (no "
                                 "certificate from istio-csr, or istio-cni not running on the node)",
                                 {"status": status})
    csr_host = "%s.%s.svc" % (settings["istio_csr_name"], settings["cert_manager_namespace"])
    ca_address = _container_env(daemonset).get("CA_ADDRESS")
    if csr_host not in str(ca_address or ""):
        return mesh_trust.result(cluster, "ztunnel_ready", False, obj,
                                 "%s asks CA_ADDRESS %r for workload certificates, not istio-csr (%s)"
                                 % (obj, ca_address, csr_host),
                                 "the ztunnel chart's caAddress must point at istio-csr: re-run the istio role")
    return mesh_trust.result(cluster, "ztunnel_ready", True, obj, "%s is ready on %s node(s) and asks istio-csr (%s)"
                             % (obj, desired, csr_host))


def check_ambient_namespaces(cluster, snap):
    """Every namespace the inventory names exists and is labelled istio.io/dataplane-mode=ambient."""
    out = []
    for name, namespace in sorted((snap.get("ambient_namespaces") or {}).items()):
        obj = _object_name("Namespace", None, name)
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        if namespace is None:
            out.append(mesh_trust.result(cluster, "ambient_namespaces", False, obj, "%s does not exist" % obj,
                                         "istio_ambient_namespaces names a namespace that is not there: re-run the "
                                         "istio role, or remove it from istio_ambient_namespaces"))
        elif labels.get(DATAPLANE_LABEL) != DATAPLANE_AMBIENT:
            out.append(mesh_trust.result(cluster, "ambient_namespaces", False, obj, "%s is labelled %s=%r, not %s" % (
                obj, DATAPLANE_LABEL, labels.get(DATAPLANE_LABEL), DATAPLANE_AMBIENT),
                "its pods stay out of the ambient mesh: re-run the istio role (someone changed the label)",
                {"labels": labels}))
        else:
            out.append(mesh_trust.result(cluster, "ambient_namespaces", True, obj,
                                         "%s joins the ambient data plane" % obj))
    return out


def ambient_checks(cluster, snap, settings):
    """Every ambient check of one cluster; ``settings`` as ``mesh_trust.settings_with_defaults``."""
    settings = mesh_trust.settings_with_defaults(settings)
    return [check_ztunnel(cluster, snap, settings)] + check_ambient_namespaces(cluster, snap)
