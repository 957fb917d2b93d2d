# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phase plan and state marker of a CA rotation (playbooks/rotate.yml), without Ansible.

A **root** rotation replaces the mesh root without downtime; an **intermediate** rotation replaces
the clusters' intermediates under the same root. Each is a fixed sequence of phases; the state
marker (a JSON file on the control node) records which phases are complete, so a run that stops
(a failure, a lagging cluster, ``stop_after``) resumes at the first incomplete phase, and a
phase that ran partly runs again (every phase is idempotent).

Which root signs, which roots are trusted and which roots every ``istio-ca-root-cert``
ConfigMap must carry in each phase is decided here (``phase_settings``), in symbolic terms:
``current`` is the root (or per-cluster CA folder) in use before the rotation, ``next`` the
one being introduced. ``promote`` finally moves the ``next`` folders into place, so that
site.yml keeps working with its usual paths after the rotation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import shutil
import tempfile

STATE_VERSION = 1
KINDS = ("root", "intermediate")
PHASES = {
    "root": ("prepare", "publish", "switch", "drain", "retire", "promote"),
    "intermediate": ("prepare", "switch", "drain", "promote"),
}
DESCRIPTIONS = {
    "prepare": "create the new CA files on the control node (nothing changes in any cluster)",
    "publish": "pin the trust bundle old + new root on every cluster; wait until every namespace's "
               "istio-ca-root-cert carries both",
    "switch": "switch every cluster's CA issuer to the new chain (new intermediate); old certificates stay trusted",
    "drain": "wait until every managed certificate is re-issued from the new chain and the longest "
             "workload certificate lifetime has passed since the switch",
    "retire": "remove the old root from every cluster's trust bundle; wait until every namespace carries only the new root",
    "promote": "move the new CA files into place on the control node (the old ones are kept as retired)",
}
# (signing root, CA folder, extra trusted roots, roots every ConfigMap must carry, roots chains must reach)
_ROOT_SETTINGS = {
    "prepare": ("next", "next", [], ["current"], ["current"]),
    "publish": ("current", "current", ["next"], ["current", "next"], ["current", "next"]),
    "switch": ("next", "next", ["current"], ["current", "next"], ["current", "next"]),
    "drain": ("next", "next", ["current"], ["current", "next"], ["next"]),
    "retire": ("next", "next", [], ["next"], ["next"]),
    "promote": ("current", "current", [], ["current"], ["current"]),
}
_INTERMEDIATE_SETTINGS = {
    "prepare": ("current", "next", [], ["current"], ["current"]),
    "switch": ("current", "next", [], ["current"], ["current"]),
    "drain": ("current", "next", [], ["current"], ["current"]),
    "promote": ("current", "current", [], ["current"], ["current"]),
}


class RotationError(Exception):
    """The rotation cannot go on; the message says why and what to do."""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def phases(kind):
    if kind not in KINDS:
        raise RotationError("rotation kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    return PHASES[kind]


def phase_settings(kind, phase):
    """What the clusters look like during ``phase`` (symbolic: ``current``/``next``)."""
    table = _ROOT_SETTINGS if kind == "root" else _INTERMEDIATE_SETTINGS
    if phase not in table:
        raise RotationError("phase %r is not a phase of a %s rotation (%s)" % (phase, kind, ", ".join(phases(kind))))
    signing, ca_dir, extra, expected, chain_roots = table[phase]
    return {"signing_root": signing, "ca_dir": ca_dir, "extra_trusted_roots": list(extra),
            "expected_roots": list(expected), "chain_roots": list(chain_roots)}


def new_state(kind, clusters, at=None):
    at = at or now_utc()
    return {"version": STATE_VERSION, "kind": kind, "id": at.strftime("%Y%m%dT%H%M%SZ"), "clusters": list(clusters),
            "phases": list(phases(kind)), "completed": [], "current": None, "started_at": iso(at),
            "finished_at": None, "facts": {}, "history": []}


def load(path):
    """The state marker at ``path``, or None when there is none; RotationError when unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as stream:
            state = json.load(stream)
    except (OSError, ValueError) as exc:
        raise RotationError("cannot read the rotation state marker %s: %s; fix or move it away" % (path, exc))
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or state.get("kind") not in KINDS:
        raise RotationError("%s is not a certmesh rotation state marker (version %s)" % (path, STATE_VERSION))
    return state


def save(path, state):
    """Write the marker atomically (a reader never sees half a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".rotation-state-")
    with os.fdopen(handle, "w") as stream:
        json.dump(state, stream, indent=2, sort_keys=True)
        stream.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def finished(state):
    return bool(state) and list(state["completed"]) == list(state["phases"])


def pending(state):
    return [phase for phase in state["phases"] if phase not in state["completed"]]


def plan(state, kind, clusters, stop_after=None, start_new=False, at=None):
    """Decide what this run does. Returns ``(state, summary)``; ``state`` may be a new one
    (not saved yet). ``summary`` = ``{kind, id, phases, completed, run, resume_at, in_progress,
    new, descriptions}``."""
    phases(kind)
    clusters = list(clusters)
    is_new = False
    if state is None or (finished(state) and start_new):
        history = list(state["history"]) if state else []
        previous = state["id"] if state else None
        state = new_state(kind, clusters, at)
        if previous:
            state["history"] = history[-50:] + [{"event": "previous rotation", "id": previous}]
        is_new = True
    elif state["kind"] != kind and not finished(state):
        raise RotationError("a %s rotation (%s) is in progress, at phase %s: finish it (rotation_kind=%s) before "
                            "starting a %s rotation" % (state["kind"], state["id"], pending(state)[0], state["kind"], kind))
    elif state["kind"] != kind:
        raise RotationError("the last rotation (%s) was a %s rotation and is finished; run with rotation_new=true "
                            "to start a %s rotation" % (state["id"], state["kind"], kind))
    if not finished(state) and sorted(state["clusters"]) != sorted(clusters):
        missing = sorted(set(state["clusters"]) - set(clusters))
        added = sorted(set(clusters) - set(state["clusters"]))
        raise RotationError("rotation %s covers clusters %s, this run has %s (missing: %s; new: %s): run it with the "
                            "same clusters (no --limit that drops one) until it is finished" % (
                                state["id"], ", ".join(state["clusters"]), ", ".join(clusters),
                                ", ".join(missing) or "none", ", ".join(added) or "none"))
    todo = pending(state)
    if stop_after:
        if stop_after not in state["phases"]:
            raise RotationError("rotation_stop_after_phase %r is not a phase of a %s rotation (%s)"
                                % (stop_after, kind, ", ".join(state["phases"])))
        limit = state["phases"].index(stop_after)
        todo = [phase for phase in todo if state["phases"].index(phase) <= limit]
    summary = {"kind": state["kind"], "id": state["id"], "phases": list(state["phases"]),
               "completed": list(state["completed"]), "run": todo,
               "resume_at": pending(state)[0] if pending(state) else None, "in_progress": state.get("current"),
               "new": is_new, "finished": finished(state),
               "descriptions": [{"phase": p, "description": DESCRIPTIONS[p], "done": p in state["completed"],
                                 "runs_now": p in todo} for p in state["phases"]]}
    return state, summary


def trust_now(state):
    """What the clusters trust at this point of an unfinished rotation, as ``phase_settings``
    of the last completed phase (``None`` when there is no rotation in progress).

    A phase that failed half-way leaves the clusters between two phases; the ones that matter
    for checks (publish to drain) trust old and new root throughout."""
    if not state or finished(state) or not state["completed"]:
        return None
    settings = phase_settings(state["kind"], state["completed"][-1])
    settings["phase"] = state["completed"][-1]
    settings["id"] = state["id"]
    return settings


def _event(state, phase, event, at, message=None):
    entry = {"phase": phase, "event": event, "at": iso(at)}
    if message:
        entry["message"] = message
    state["history"].append(entry)


def begin(state, phase, at=None):
    """Mark ``phase`` as running; phases must run in order."""
    at = at or now_utc()
    if phase in state["completed"]:
        return state
    first = pending(state)[0]
    if phase != first:
        raise RotationError("phase %s cannot start before phase %s of rotation %s is complete" % (phase, first, state["id"]))
    state["current"] = phase
    _event(state, phase, "started", at)
    return state


def complete(state, phase, at=None, facts=None):
    at = at or now_utc()
    if phase in state["completed"]:
        return state
    if state.get("current") != phase:
        raise RotationError("phase %s of rotation %s was not started" % (phase, state["id"]))
    state["completed"].append(phase)
    state["current"] = None
    state["facts"].update(facts or {})
    state["facts"]["%s_completed_at" % phase] = iso(at)
    _event(state, phase, "completed", at)
    if finished(state):
        state["finished_at"] = iso(at)
    return state


def record_failure(state, phase, message, at=None):
    _event(state, phase, "failed", at or now_utc(), message)
    return state


def drain_remaining(state, drain_seconds, at=None):
    """Seconds still to wait, after the switch, before the old chain can be dropped: every workload
    certificate issued before the switch has expired once the longest allowed lifetime has passed."""
    at = at or now_utc()
    switched = (state.get("facts") or {}).get("switch_completed_at")
    if not switched:
        raise RotationError("the drain phase needs the switch phase to be complete")
    elapsed = (at - parse_iso(switched)).total_seconds()
    return max(0, int(drain_seconds - elapsed + 0.999))


def promote(moves, dry_run=False):
    """Move each ``next`` folder to ``current``, keeping ``current`` as ``retired``; resumable.

    ``moves`` is a list of ``{current, next, retired}`` paths. A move whose ``next`` folder is
    gone and whose ``current`` exists is done already. Returns the list of actions (strings).
    """
    actions = []
    for move in moves:
        current, following, retired = move["current"], move["next"], move["retired"]
        if not os.path.isdir(following):
            if os.path.isdir(current):
                continue
            raise RotationError("neither %s nor %s exists: the CA files are lost; restore them from a backup" % (following, current))
        if os.path.isdir(current):
            if os.path.exists(retired):
                raise RotationError("%s exists already; move it away before promoting %s" % (retired, following))
            actions.append("keep %s as %s" % (current, retired))
            if not dry_run:
                shutil.move(current, retired)
        actions.append("move %s to %s" % (following, current))
        if not dry_run:
            shutil.move(following, current)
    return actions
