# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout waves and the rollout report of site.yml, as pure functions.

``certmesh_rollout_waves`` is Ansible's play keyword ``serial`` given as a list; the waves are
computed here the way ansible-core's PlaybookExecutor cuts batches (a percentage of the play's
hosts, rounded down but at least one; the last size repeats until every host has a wave), so
the report can name each wave without asking Ansible how it batched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def wave_size(size, total):
    """Hosts in one wave of ``size`` (a count or ``"N%"``) out of ``total`` hosts."""
    if isinstance(size, str) and size.strip().endswith("%"):
        return int(int(size.strip()[:-1]) / 100.0 * total) or 1
    return int(size)


def waves(hosts, sizes):
    """The hosts of each wave, in rollout order."""
    remaining = list(hosts)
    sizes = list(sizes) or ["100%"]
    found = []
    index = 0
    while remaining:
        size = wave_size(sizes[index], len(hosts))
        if size <= 0:
            found.append(remaining)
            break
        found.append(remaining[:size])
        remaining = remaining[size:]
        index = min(index + 1, len(sizes) - 1)
    return found


def _state(clusters, done, failed):
    if all(cluster in done for cluster in clusters):
        return "done"
    if any(cluster in failed for cluster in clusters):
        return "failed"
    if any(cluster in done for cluster in clusters):
        return "interrupted"
    return "untouched"


def report(environment, hosts, done, failed, sizes, failed_task="", failed_message=""):
    """The rollout report: every cluster done, failed, interrupted (in the failing wave, not
    finished) or untouched (in a later wave), and each wave with its clusters and state."""
    done = [host for host in hosts if host in done]
    failed = [host for host in hosts if host in failed]
    planned = waves(hosts, sizes)
    failing_wave = next((index for index, wave in enumerate(planned) if set(wave) & set(failed)), None)
    untouched = []
    interrupted = []
    for index, wave in enumerate(planned):
        for host in wave:
            if host in done or host in failed:
                continue
            (interrupted if failing_wave is not None and index == failing_wave else untouched).append(host)
    if failing_wave is None:
        untouched = []
    found = {
        "environment": environment,
        "clusters": list(hosts),
        "done": done,
        "failed": failed,
        "failed_task": (failed_task or "").strip(),
        "failed_message": failed_message or "",
        "interrupted": interrupted,
        "untouched": untouched,
        "waves": [{"wave": index + 1, "clusters": wave, "state": _state(wave, done, failed)}
                  for index, wave in enumerate(planned)],
    }
    found["summary"] = summary(found)
    return found


def summary(rollout):
    """The report in one line, wave by wave: ``wave 1 (east): done; wave 2 (west, north): failed``."""
    return "; ".join("wave %d (%s): %s" % (wave["wave"], ", ".join(wave["clusters"]), wave["state"])
                     for wave in rollout["waves"]) or "no clusters"
