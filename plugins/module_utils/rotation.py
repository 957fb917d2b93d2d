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

An **abort** (``plan(..., abort=True)``) returns a rotation that has not reached its switch to
the trust of before it: the one step ``abort`` pins the old root alone again and the new CA
folders are set aside. Once a switch has begun, clusters sign from the new chain and proxies
hold certificates that only the new root verifies; dropping that root would break them, and
switching back would need a drain of its own. So an abort after that point is refused, and the
message says to roll forward (the new root becomes the mesh root; nothing breaks).
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
    "abort": "pin the old root alone again on every cluster (drop the new root); wait until every namespace "
             "carries only the old root; set the new CA files aside on the control node",
}
ABORT = "abort"
# Phases after which (or during which) an abort is no longer safe: some cluster may sign from the new chain.
_NO_ABORT_FROM = "switch"
# (signing root, CA folder, extra trusted roots, roots every ConfigMap must carry, roots chains must reach)
_ROOT_SETTINGS = {
    "prepare": ("next", "next", [], ["current"], ["current"]),
    "publish": ("current", "current", ["next"], ["current", "next"], ["current", "next"]),
    "switch": ("next", "next", ["current"], ["current", "next"], ["current", "next"]),
    "drain": ("next", "next", ["current"], ["current", "next"], ["next"]),
    "retire": ("next", "next", [], ["next"], ["next"]),
    "promote": ("current", "current", [], ["current"], ["current"]),
    ABORT: ("current", "current", [], ["current"], ["current"]),
}
_INTERMEDIATE_SETTINGS = {
    "prepare": ("current", "next", [], ["current"], ["current"]),
    "switch": ("current", "next", [], ["current"], ["current"]),
    "drain": ("current", "next", [], ["current"], ["current"]),
    "promote": ("current", "current", [], ["current"], ["current"]),
    ABORT: ("current", "current", [], ["current"], ["current"]),
}
# What a marker must hold, field by field: (field, accepted types, description for the error).
_STR = (str,)
_MARKER_FIELDS = (
    ("kind", _STR, "a string"), ("id", _STR, "a string"), ("clusters", (list,), "a list of cluster names"),
    ("phases", (list,), "a list of phases"), ("completed", (list,), "a list of phases"),
    ("current", (str, type(None)), "a phase or null"), ("started_at", _STR, "a time (YYYY-MM-DDTHH:MM:SSZ)"),
    ("finished_at", (str, type(None)), "a time or null"), ("facts", (dict,), "a mapping"),
    ("history", (list,), "a list of events"),
)


class RotationError(Exception):
    """The rotation cannot go on; the message says why and what to do."""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def _parse_iso_or_none(text):
    try:
        return parse_iso(text)
    except (TypeError, ValueError):
        return None


def phases(kind):
    if kind not in KINDS:
        raise RotationError("rotation kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    return PHASES[kind]


def phase_settings(kind, phase):
    """What the clusters look like during ``phase`` (symbolic: ``current``/``next``)."""
    table = _ROOT_SETTINGS if kind == "root" else _INTERMEDIATE_SETTINGS
    if phase not in table or kind not in KINDS:
        raise RotationError("phase %r is not a phase of a %s rotation (%s)" % (phase, kind, ", ".join(phases(kind))))
    signing, ca_dir, extra, expected, chain_roots = table[phase]
    return {"signing_root": signing, "ca_dir": ca_dir, "extra_trusted_roots": list(extra),
            "expected_roots": list(expected), "chain_roots": list(chain_roots)}


def new_state(kind, clusters, at=None):
    at = at or now_utc()
    return {"version": STATE_VERSION, "kind": kind, "id": at.strftime("%Y%m%dT%H%M%SZ"), "clusters": list(clusters),
            "phases": list(phases(kind)), "completed": [], "current": None, "started_at": iso(at),
            "finished_at": None, "aborted_at": None, "facts": {}, "history": []}


def load(path):
    """The state marker at ``path``, or None when there is none.

    Never raises anything but RotationError, whose message names the file and the field: the
    marker is a file people open, fix and sometimes copy from another run."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            state = json.load(stream)
    except (OSError, ValueError, RecursionError) as exc:
        raise RotationError("cannot read the rotation state marker %s: %s; fix or move it away" % (path, exc))
    problem = marker_problem(state)
    if problem:
        raise RotationError("%s is not a valid certmesh rotation state marker (version %s): %s; fix or move it away"
                            % (path, STATE_VERSION, problem))
    state.setdefault("aborted_at", None)
    return state


def marker_problem(state):
    """What makes ``state`` (parsed JSON) unusable as a marker, or None."""
    if not isinstance(state, dict):
        return "it holds %s, not a JSON object" % type(state).__name__
    if isinstance(state.get("version"), bool) or state.get("version") != STATE_VERSION:
        return "version is %r, expected %s" % (state.get("version"), STATE_VERSION)
    for field, types, description in _MARKER_FIELDS:
        if field not in state:
            return "field %r is missing" % field
        if not isinstance(state[field], types) or isinstance(state[field], bool):
            return "field %r must be %s, got %s" % (field, description, json.dumps(state[field])[:80])
    if state["kind"] not in KINDS:
        return "field 'kind' must be one of %s, got %r" % (", ".join(KINDS), state["kind"])
    if list(state["phases"]) != list(PHASES[state["kind"]]):
        return "field 'phases' must be %s for a %s rotation" % (", ".join(PHASES[state["kind"]]), state["kind"])
    if not all(isinstance(name, str) for name in state["clusters"]):
        return "field 'clusters' must be a list of cluster names"
    unknown = [phase for phase in state["completed"] if phase not in state["phases"]]
    if unknown or list(state["completed"]) != list(state["phases"][:len(state["completed"])]):
        return "field 'completed' must list phases of the rotation in order, got %s" % json.dumps(state["completed"])[:120]
    if state["current"] is not None and state["current"] not in state["phases"] + [ABORT]:
        return "field 'current' is not a phase of the rotation: %r" % state["current"]
    for field in ("started_at", "finished_at", "aborted_at"):
        if state.get(field) is not None and _parse_iso_or_none(state[field]) is None:
            return "field %r must be a time (YYYY-MM-DDTHH:MM:SSZ), got %s" % (field, json.dumps(state[field])[:80])
    for name, value in state["facts"].items():
        if name.endswith("_completed_at") and _parse_iso_or_none(value) is None:
            return "fact %r must be a time (YYYY-MM-DDTHH:MM:SSZ), got %s" % (name, json.dumps(value)[:80])
    if not all(isinstance(event, dict) for event in state["history"]):
        return "field 'history' must be a list of events (JSON objects)"
    return None


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


def aborted(state):
    return bool(state) and bool(state.get("aborted_at"))


def closed(state):
    """Nothing more to do in this rotation: finished, or aborted."""
    return finished(state) or aborted(state)


def abort_refusal(state):
    """Why ``state`` cannot be aborted (a message that says what to do instead), or None."""
    if state is None:
        return "there is no rotation to abort (no state marker)"
    if finished(state):
        return "rotation %s is finished (the new CA is in place); there is nothing to abort" % state["id"]
    started = list(state["completed"]) + ([state["current"]] if state.get("current") not in (None, ABORT) else [])
    if _NO_ABORT_FROM in started:
        return ("rotation %s cannot be aborted: its %s phase has %s, so clusters may sign from the new chain and "
                "proxies hold certificates that only the new root verifies (dropping it would break them). Roll "
                "forward instead: run playbooks/rotate.yml without rotation_abort; it resumes at phase %s and "
                "keeps both roots trusted until the old certificates are gone (docs/runbooks/rotation.md)"
                % (state["id"], _NO_ABORT_FROM, "completed" if _NO_ABORT_FROM in state["completed"] else "begun",
                   pending(state)[0]))
    return None


def pending(state):
    return [phase for phase in state["phases"] if phase not in state["completed"]]


def plan(state, kind, clusters, stop_after=None, start_new=False, at=None, abort=False):
    """Decide what this run does. Returns ``(state, summary)``; ``state`` may be a new one
    (not saved yet). ``summary`` = ``{kind, id, phases, completed, run, resume_at, in_progress,
    new, descriptions, aborted}``. With ``abort`` the run is ``[abort]`` (or nothing when the
    rotation was aborted already); RotationError when an abort is not safe."""
    phases(kind)
    clusters = list(clusters)
    if abort:
        return _plan_abort(state, kind, clusters)
    is_new = False
    if state is None or (closed(state) and start_new):
        history = list(state["history"]) if state else []
        previous = state["id"] if state else None
        state = new_state(kind, clusters, at)
        if previous:
            state["history"] = history[-50:] + [{"event": "previous rotation", "id": previous}]
        is_new = True
    elif state["kind"] != kind and not closed(state):
        raise RotationError("a %s rotation (%s) is in progress, at phase %s: finish it (rotation_kind=%s) before "
                            "starting a %s rotation" % (state["kind"], state["id"], pending(state)[0], state["kind"], kind))
    elif state["kind"] != kind:
        raise RotationError("the last rotation (%s) was a %s rotation and is finished; run with rotation_new=true "
                            "to start a %s rotation" % (state["id"], state["kind"], kind))
    _check_clusters(state, clusters)
    todo = [] if aborted(state) else pending(state)
    if stop_after:
        if stop_after not in state["phases"]:
            raise RotationError("rotation_stop_after_phase %r is not a phase of a %s rotation (%s)"
                                % (stop_after, kind, ", ".join(state["phases"])))
        limit = state["phases"].index(stop_after)
        todo = [phase for phase in todo if state["phases"].index(phase) <= limit]
    return state, _summary(state, todo, is_new)


def _check_clusters(state, clusters):
    if not closed(state) and sorted(state["clusters"]) != sorted(clusters):
        missing = sorted(set(state["clusters"]) - set(clusters))
        added = sorted(set(clusters) - set(state["clusters"]))
        raise RotationError("rotation %s covers clusters %s, this run has %s (missing: %s; new: %s): run it with the "
                            "same clusters (no --limit that drops one) until it is finished" % (
                                state["id"], ", ".join(state["clusters"]), ", ".join(clusters),
                                ", ".join(missing) or "none", ", ".join(added) or "none"))


def _plan_abort(state, kind, clusters):
    if aborted(state):
        return state, _summary(state, [], False)
    refusal = abort_refusal(state)
    if refusal:
        raise RotationError(refusal)
    if state["kind"] != kind:
        raise RotationError("the rotation in progress (%s) is a %s rotation: abort it with rotation_kind=%s"
                            % (state["id"], state["kind"], state["kind"]))
    _check_clusters(state, clusters)
    return state, _summary(state, [ABORT], False)


def _summary(state, todo, is_new):
    shown = list(state["phases"]) + ([ABORT] if ABORT in todo or aborted(state) else [])
    done = list(state["completed"]) + ([ABORT] if aborted(state) else [])
    left = [] if aborted(state) else pending(state)
    return {"kind": state["kind"], "id": state["id"], "phases": list(state["phases"]),
            "completed": list(state["completed"]), "run": list(todo),
            "resume_at": todo[0] if todo == [ABORT] else (left[0] if left else None),
            "in_progress": state.get("current"), "new": is_new, "finished": finished(state),
            "aborted": aborted(state),
            "descriptions": [{"phase": p, "description": DESCRIPTIONS[p], "done": p in done,
                              "runs_now": p in todo} for p in shown]}


def trust_now(state):
    """What the clusters trust at this point of an unfinished rotation, as ``phase_settings``
    of the last completed phase (``None`` when there is no rotation in progress).

    A phase that failed half-way leaves the clusters between two phases; the ones that matter
    for checks (publish to drain) trust old and new root throughout."""
    if not state or closed(state) or not state["completed"]:
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
    if phase == ABORT:
        return _begin_abort(state, at)
    if aborted(state):
        raise RotationError("rotation %s was aborted; start a new one with rotation_new=true" % state["id"])
    if phase in state["completed"]:
        return state
    first = pending(state)[0]
    if phase != first:
        raise RotationError("phase %s cannot start before phase %s of rotation %s is complete" % (phase, first, state["id"]))
    state["current"] = phase
    _event(state, phase, "started", at)
    return state


def _begin_abort(state, at):
    if aborted(state):
        return state
    refusal = abort_refusal(state)
    if refusal:
        raise RotationError(refusal)
    state["current"] = ABORT
    _event(state, ABORT, "started", at)
    return state


def complete(state, phase, at=None, facts=None):
    at = at or now_utc()
    if phase == ABORT and aborted(state):
        return state
    if phase in state["completed"]:
        return state
    if state.get("current") != phase:
        raise RotationError("phase %s of rotation %s was not started" % (phase, state["id"]))
    state["current"] = None
    if phase == ABORT:
        state["aborted_at"] = iso(at)
        state["facts"]["aborted_after"] = state["completed"][-1] if state["completed"] else None
        _event(state, phase, "completed", at)
        return state
    state["completed"].append(phase)
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
    switched_at = _parse_iso_or_none(switched)
    if switched_at is None:
        raise RotationError("the rotation state marker holds an unreadable switch_completed_at: %r" % (switched,))
    elapsed = (at - switched_at).total_seconds()
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


def set_aside(folders, dry_run=False):
    """Move each ``{path, dest}`` folder that exists to ``dest`` (an aborted rotation's new CA files:
    kept for inspection, out of the way of the next rotation's prepare). Returns the actions."""
    actions = []
    for folder in folders:
        path, dest = folder["path"], folder["dest"]
        if not os.path.isdir(path):
            continue
        if os.path.exists(dest):
            raise RotationError("%s exists already; move it away before setting %s aside" % (dest, path))
        actions.append("set %s aside as %s" % (path, dest))
        if not dry_run:
            shutil.move(path, dest)
    return actions
