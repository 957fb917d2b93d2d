# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the field-manager conflicts out of a refused server-side apply.

kubernetes.core reports a refused apply as ``Failed to apply object: b'<Status JSON>'``; when
kube-apiserver refused it with 409 Conflict, the Status lists each conflicting field path and
the manager that owns it (``details.causes``). Apply mode names them in its one error message,
so the user sees which GitOps engine or hand edit changed which field, without the raw body.
Parsers never raise: anything that is not a conflict reads as no conflicts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json
import re

_BODY = re.compile(r"(b'.*'|b\".*\"|\{.*\})", re.DOTALL)


def _status(text):
    """The Status object inside a kubernetes.core failure message, or None."""
    match = _BODY.search(text or "")
    if not match:
        return None
    raw = match.group(1)
    try:
        if raw.startswith("b"):
            raw = ast.literal_eval(raw).decode("utf-8", "replace")
        status = json.loads(raw)
    except (ValueError, SyntaxError, UnicodeError):
        return None
    return status if isinstance(status, dict) else None


def apply_conflicts(text):
    """``[{"field": ".spec.x", "manager": '"flux"'}]`` for a 409 apply conflict; ``[]`` otherwise."""
    if not isinstance(text, str):
        return []
    status = _status(text)
    if not status or status.get("code") != 409 or status.get("reason") != "Conflict":
        return []
    conflicts = []
    for cause in (status.get("details") or {}).get("causes") or []:
        if not isinstance(cause, dict) or cause.get("reason") != "FieldManagerConflict":
            continue
        manager = str(cause.get("message", "")).replace("conflict with ", "", 1)
        conflicts.append({"field": str(cause.get("field", "")), "manager": manager})
    return conflicts
