"""Graceful deletion for the Kubernetes API emulator: finalizers and namespace termination.

What kube-apiserver and the namespace controller do, and what ``KubeAPIEmulator`` mixes in:

* Deleting an object whose ``metadata.finalizers`` is not empty only sets
  ``deletionTimestamp`` (and ``deletionGracePeriodSeconds: 0``); the DELETE answers 200 with the
  object. The object goes when an update removes its last finalizer.
* Deleting a Namespace sets ``deletionTimestamp`` and ``status.phase: Terminating``; the
  namespace controller then deletes everything in it (here at once, in the same request). It
  is gone when nothing is left and its own ``metadata.finalizers`` is empty. Until then it stays
  ``Terminating`` with the conditions the real controller writes:
  ``NamespaceContentRemaining`` ("Some resources are remaining: certificates.cert-manager.io has
  1 resource instances") and ``NamespaceFinalizersRemaining`` ("Some content in the namespace
  has finalizers remaining: example.com/hold in 1 resource instances").
* Creating anything in a terminating namespace is refused with 403 ``Forbidden``: "unable to
  create new content in namespace x because it is being terminated".
"""

import datetime


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind, status, reason, message):
    return {"type": kind, "status": status, "lastTransitionTime": _now(), "reason": reason, "message": message}


class GracefulDeletion:
    """Mixin for ``KubeAPIEmulator`` (uses its ``_objects``, ``_types``, ``_remove``, ``_rv``)."""

    def _is_terminating(self, namespace):
        found = self._objects.get(("", "namespaces"), {}).get((None, namespace))
        return bool(found and found["metadata"].get("deletionTimestamp"))

    def _refuse_if_terminating(self, rtype, namespace, name):
        if rtype.namespaced and namespace and self._is_terminating(namespace):
            from tests.emulators.kube_api import ApiError  # pylint: disable=import-outside-toplevel
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content in namespace %s '
                           "because it is being terminated" % (rtype.group_resource, name, namespace),
                           {"name": name, "kind": rtype.plural,
                            "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                        "message": "namespace %s is being terminated" % namespace}]})

    def _mark_deleting(self, rtype, key, obj):
        """Set deletionTimestamp on an object that finalizers keep (once)."""
        if not obj["metadata"].get("deletionTimestamp"):
            obj["metadata"]["deletionTimestamp"] = _now()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._queue_event("MODIFIED", rtype, obj)
            self._schedule_save()

    def _graceful_delete(self, rtype, key, obj):
        """Delete now, or mark for deletion when finalizers hold the object; True when it is gone."""
        if rtype.kind == "Namespace":
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = _now()
                obj.setdefault("status", {})["phase"] = "Terminating"
                self._rv += 1
                obj["metadata"]["resourceVersion"] = str(self._rv)
            return self._finish_namespace(key[1])
        if obj["metadata"].get("finalizers"):
            self._mark_deleting(rtype, key, obj)
            return False
        self._remove(rtype, key)
        return True

    def _finish_namespace(self, name):
        """The namespace controller's pass: delete the content, then the namespace if nothing holds it."""
        namespaces = self._objects[("", "namespaces")]
        namespace = namespaces.get((None, name))
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return namespace is None
        remaining, finalizers = {}, {}
        for (group, plural), store in list(self._objects.items()):
            holder = next((t for t in self._types.values() if t.group == group and t.plural == plural), None)
            if holder is None or not holder.namespaced:
                continue
            for obj_key in [k for k in store if k[0] == name]:
                obj = store[obj_key]
                if obj["metadata"].get("finalizers"):
                    self._mark_deleting(holder, obj_key, obj)
                    remaining[holder.group_resource] = remaining.get(holder.group_resource, 0) + 1
                    for finalizer in obj["metadata"]["finalizers"]:
                        finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
                else:
                    self._remove(holder, obj_key)
        if not remaining and not namespace["metadata"].get("finalizers"):
            self._remove(self._namespace_type(), (None, name))
            return True
        conditions = []
        if remaining:
            conditions.append(_condition(
                "NamespaceContentRemaining", "True", "SomeResourcesRemain", "Some resources are remaining: %s"
                % ", ".join("%s has %d resource instances" % item for item in sorted(remaining.items()))))
            conditions.append(_condition(
                "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: %s"
                % ", ".join("%s in %d resource instances" % item for item in sorted(finalizers.items()))))
        namespace["status"] = {"phase": "Terminating", "conditions": conditions}
        self._rv += 1
        namespace["metadata"]["resourceVersion"] = str(self._rv)
        self._schedule_save()
        return False

    def _namespace_type(self):
        return next(t for t in self._types.values() if t.group == "" and t.plural == "namespaces")

    def _after_write(self, rtype, key, obj):
        """An update that removed the last finalizer of an object being deleted completes the deletion."""
        if not obj["metadata"].get("deletionTimestamp") or obj["metadata"].get("finalizers"):
            return False
        if rtype.kind == "Namespace":
            return self._finish_namespace(key[1])
        self._remove(rtype, key)
        if key[0] and self._is_terminating(key[0]):
            self._finish_namespace(key[0])
        return True
