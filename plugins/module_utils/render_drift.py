# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What certmesh.istio.manifest_render would change, found on the control node without running it.

A no-op re-run in render mode started one manifest_render module per component (about half a
second each) only to hear that every file is as it should be. ``render_drift`` plans the same
files with the same code (``render_cluster.sync_render`` in check mode), from the arguments normalized as the module's argument spec would
normalize them, and compares them with the files on disk: the sink calls the module only when
something differs. Anything it cannot tell (bad input, a path it refuses, a file it cannot read)
is reported as a difference, so the module runs and decides, and says why, as before. It never
raises and never writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.certmesh.istio.plugins.module_utils import render, render_cluster

_RELEASE_TEXT = ("name", "namespace", "chart", "version", "repo")
_RELEASE_KEYS = set(_RELEASE_TEXT) | set(("create_namespace", "values"))


def _plain(value):
    """The value as the module receives it (JSON: Ansible's own string and mapping types become plain)."""
    return json.loads(json.dumps(value))


def _release(release):
    """One helm_releases entry as the module's suboptions make it (text, defaults)."""
    if not isinstance(release, dict) or set(release) - _RELEASE_KEYS:
        raise ValueError("a Helm release the module would refuse")
    shaped = dict((key, None if release.get(key) is None else str(release[key])) for key in _RELEASE_TEXT)
    shaped["create_namespace"] = boolean(release.get("create_namespace", True), strict=True)
    shaped["values"] = release.get("values") or {}
    if not isinstance(shaped["values"], dict):
        raise ValueError("Helm values that are not a mapping")
    return shaped


def render_drift(dest, component, objects=None, secret_objects=None, helm_releases=None, engine="kustomize",
                 cluster="", git=None, summary_dir=None, prune=True):
    """The paths manifest_render would create, update or remove for these arguments; empty when
    it would change nothing; one ``cannot tell: ...`` entry when that cannot be known."""
    try:
        objects, secret_objects = _plain(objects or []), _plain(secret_objects or [])
        releases = [_release(entry) for entry in _plain(helm_releases or [])]
        git = dict(render.DEFAULT_GIT, **dict((key, str(value)) for key, value in _plain(git or {}).items()
                                              if value is not None))
        if set(git) - set(render.DEFAULT_GIT):
            raise ValueError("git options the module would refuse")
        dest = os.path.abspath(os.path.expanduser(str(dest)))
        summary_dir = os.path.abspath(os.path.expanduser(str(summary_dir))) if summary_dir else None
        problem = render_cluster.input_problem(component, objects + secret_objects)
        if problem:
            raise ValueError(problem)
        changes, _diffs = render_cluster.sync_render(dest, component, objects, releases, engine, secret_objects,
                                                     str(cluster or ""), git, summary_dir, prune=boolean(prune), check_mode=True)
    except Exception as exc:  # pylint: disable=broad-except
        return ["cannot tell: %s" % exc]
    return [change["path"] for change in changes]
