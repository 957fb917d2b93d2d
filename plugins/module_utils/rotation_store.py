# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation state marker kept beside the shared PKI store, and a copy on every cluster.

Private to the collection. With ``certmesh_pki_store`` kubernetes or vault a rotation can start
on one control node (one AWX execution node) and be resumed, checked or aborted from another
that never saw the first one's disk. So the marker that ``rotation.py`` keeps as a local file
also lives in the store - a ConfigMap ``certmesh-<environment>-rotation-state`` in the store's
namespace of the management cluster, or the KV v2 key ``<path>/<environment>/rotation-state`` -
and each cluster carries a copy (ConfigMap ``certmesh-rotation-state``), so that whoever looks
at one cluster sees that a rotation is under way and which phase it reached.

The marker holds no key material (phases, times, root fingerprints), hence a ConfigMap.

Writes are optimistic: a Kubernetes replace carries the resourceVersion read, a KV v2 write the
version read as ``cas``; a marker that another control node changed meanwhile is refused with
409 Conflict or Vault's check-and-set error, and the run stops instead of losing a phase.

Which marker wins when the local file and the store differ (``newer``): the history of a
rotation only grows, so of two markers of the same rotation the one whose history extends the
other's is the newer. Markers of two different rotations are refused unless the older one is
finished or aborted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.certmesh.istio.plugins.module_utils import kube, pki_store, pki_store_vault, rotation, vault

try:
    import hvac.exceptions
except ImportError:  # pragma: no cover - the module fails on HAS_HVAC first
    pass

MARKER_KEY = "rotation-state.json"
ENTRY = "rotation-state"
CLUSTER_COPY_NAME = "certmesh-rotation-state"


class StoreConflict(rotation.RotationError):
    """Another control node changed the stored marker between this run's read and write."""


def marker_name(environment):
    return pki_store.secret_name(environment, ENTRY)


def _parse(text, where):
    try:
        state = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise rotation.RotationError("the rotation state marker in %s cannot be read (%s); fix or delete it" % (where, exc))
    problem = rotation.marker_problem(state)
    if problem:
        raise rotation.RotationError("the rotation state marker in %s is not valid: %s; fix or delete it"
                                     % (where, problem))
    state.setdefault("aborted_at", None)
    return state


def _text(state):
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


def _config_map(namespace, name, environment, state, resource_version=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": pki_store.MANAGED_BY,
                                    "certmesh.istio/environment": environment}},
            "data": {MARKER_KEY: _text(state)}}
    if resource_version:
        body["metadata"]["resourceVersion"] = resource_version
    return body


class KubernetesMarker:
    """The marker as a ConfigMap; ``where`` names it for messages."""

    def __init__(self, client, namespace, environment, name=None, where="the management cluster"):
        self.client, self.namespace, self.environment = client, namespace, environment
        self.name = name or marker_name(environment)
        self.where = "ConfigMap %s/%s in %s" % (namespace, self.name, where)
        self.version = None

    def read(self):
        try:
            found = kube.get_object(self.client, "ConfigMap", "v1", self.namespace, self.name)
        except kube.KubeError as exc:
            raise rotation.RotationError("cannot read the rotation state marker %s: %s" % (self.where, exc))
        if found is None:
            self.version = None
            return None
        self.version = (found.get("metadata") or {}).get("resourceVersion")
        return _parse(((found.get("data") or {}).get(MARKER_KEY)), self.where)

    def write(self, state):
        resource = self.client.resource("ConfigMap", "v1")
        try:
            if self.version is None:
                pki_store.ensure_namespace(self.client, self.namespace)
                self.client.create(resource, _config_map(self.namespace, self.name, self.environment, state),
                                   namespace=self.namespace)
            else:
                self.client.replace(resource, _config_map(self.namespace, self.name, self.environment, state,
                                                          self.version), name=self.name, namespace=self.namespace)
        except pki_store.StoreError as exc:
            raise rotation.RotationError(str(exc))
        except Exception as exc:  # kubernetes.dynamic ApiException subclasses
            if getattr(exc, "status", None) == 409:
                raise StoreConflict("the rotation state marker %s was changed by another control node since this "
                                    "run read it (409 Conflict); nothing was lost: run playbooks/rotate.yml again, it "
                                    "resumes from the stored marker" % self.where)
            raise rotation.RotationError("cannot write the rotation state marker %s: %s"
                                         % (self.where, kube.error_reason(exc)))
        self.read()


class VaultMarker:
    """The marker as a KV v2 key with the field ``marker`` (JSON text)."""

    def __init__(self, session, mount, prefix, environment):
        self.session, self.mount = session, mount.strip("/")
        self.path = pki_store_vault.entry_path(prefix, environment, ENTRY)
        self.where = "%s of Vault at %s" % (pki_store_vault.api_path(self.mount, self.path), session.where)
        self.version = 0

    def read(self):
        kv = self.session.client.secrets.kv.v2

        def _read():
            try:
                return kv.read_secret_version(path=self.path, mount_point=self.mount, raise_on_deleted_version=False)
            except hvac.exceptions.InvalidPath:
                return None

        response = self.session.call(pki_store_vault.api_path(self.mount, self.path), "read", _read)
        body = (response or {}).get("data") or {} if isinstance(response, dict) else {}
        metadata = body.get("metadata") or {}
        self.version = metadata.get("version") or 0
        data = body.get("data")
        if not isinstance(data, dict):
            return None  # none yet, or its latest version deleted: the next write is a new version
        return _parse(data.get("marker"), self.where)

    def write(self, state):
        kv = self.session.client.secrets.kv.v2
        where = pki_store_vault.api_path(self.mount, self.path)

        def _write():
            try:
                return kv.create_or_update_secret(path=self.path, secret={"marker": _text(state)}, cas=self.version,
                                                  mount_point=self.mount)
            except hvac.exceptions.InvalidRequest as exc:
                if pki_store_vault.CAS_MISMATCH in vault.error_text(exc):
                    raise StoreConflict(
                        "the rotation state marker %s was changed by another control node since this run read it "
                        "(%s); nothing was lost: run playbooks/rotate.yml again, it resumes from the stored marker"
                        % (self.where, pki_store_vault.CAS_MISMATCH))
                raise

        try:
            response = self.session.call(where, "create" if not self.version else "update", _write)
        except vault.VaultError as exc:
            raise rotation.RotationError("cannot write the rotation state marker %s: %s" % (self.where, exc))
        self.version = ((response or {}).get("data") or {}).get("version") or self.version + 1


def newer(local, stored):
    """The marker to go on with: ``local`` (the file) or ``stored``, whichever is ahead."""
    if stored is None:
        return local
    if local is None:
        return stored
    if local["id"] == stored["id"]:
        short, long_ = sorted((local, stored), key=lambda state: len(state["history"]))
        if long_["history"][:len(short["history"])] != short["history"]:
            raise rotation.RotationError(
                "the rotation state marker on this control node and the stored one have diverged (rotation %s: "
                "their histories differ); keep the right one (the stored one is what other nodes see), delete "
                "the other and run again" % local["id"])
        return long_
    older, later = sorted((local, stored), key=lambda state: state["started_at"])
    if not rotation.closed(older):
        raise rotation.RotationError(
            "the rotation state marker on this control node (rotation %s) and the stored one (rotation %s) belong "
            "to two rotations, and %s is not finished: finish or abort it first, or delete the stale marker"
            % (local["id"], stored["id"], older["id"]))
    return later


_CONNECTION_KEYS = ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert",
                    "client_key", "proxy", "no_proxy")


def cluster_copy(connection, namespace, environment, state):
    """Write the copy of the marker on one cluster (``connection``: its kubernetes.core options
    and ``name``); create it, or replace what is there. Returns where it was written."""
    name = connection.get("name") or "?"
    try:
        client = kube.api_client(dict((key, connection.get(key)) for key in _CONNECTION_KEYS if connection.get(key)))
    except kube.KubeError as exc:
        raise rotation.RotationError("cannot write the copy of the rotation state marker on cluster %s: %s"
                                     % (name, exc))
    marker = KubernetesMarker(client, namespace, environment, CLUSTER_COPY_NAME, "cluster %s" % name)
    marker.read()
    marker.write(state)
    return marker.where
