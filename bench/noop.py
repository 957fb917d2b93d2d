"""No-op benchmark: the cost of a site.yml re-run that changes nothing, against a first converge.

One run measures, side by side and in the same process, for one cluster:

* render mode: ``playbooks/site.yml`` on the default inventory (``inventories/local``, the
  product's defaults, RSA 4096 keys included) into a fresh output folder, then again;
* apply mode: the same playbook against the Kubernetes API emulator (``tests/emulators/kube_api.py``
  started as a process, an empty cluster with the cert-manager CA stand-in, as
  ``tests/integration/apply/test_site_apply.py`` sets it up) and the stand-in ``helm``
  (``tests/emulators/bin/helm``), first converge then re-run.

It prints the wall and CPU time of both runs, the ratio no-op / first for each mode (goal: at
most 1/3), the task count and ``changed`` of the re-run (must be 0) and, with ``--profile N``,
the N slowest tasks of the re-run (the ``ansible.posix.profile_tasks`` callback, which ships
with the ``ansible`` package). The CPU time is that of every process the run started (the
emulator runs in its own process and is not counted); on a shared machine it is the steadier
figure.

    python bench/noop.py                 # both modes, ~1 min on an idle 2-core machine
    python bench/noop.py --mode apply --profile 15
    python bench/noop.py --repeat 3      # the median of three re-runs
    python bench/noop.py --rounds 3      # three whole rounds (first converge and re-run), median ratio

The first converge generates two RSA 4096 keys, which takes a random time: one round's ratio
moves by about +-0.05 with it. ``--rounds N`` repeats the whole measurement (a fresh folder and a
fresh emulated cluster each round) and prints the median of the rounds' ratios beside each one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from emulator_processes import KubeAPIProcess

REPO = pathlib.Path(__file__).resolve().parent.parent
STANDIN_BIN = REPO / "tests" / "emulators" / "bin"
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
# profile_tasks lines: "name of the task ------------------------------ 1.23s"
_PROFILE = re.compile(r"^(.+?) -{3,} (\d+\.\d+)s$", re.M)


def _env(work, profile):
    env = dict(os.environ)
    bin_dir = str(pathlib.Path(sys.executable).parent)
    env.update(
        PATH=os.pathsep.join([str(STANDIN_BIN), bin_dir, env.get("PATH", "")]),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
        ANSIBLE_LOCAL_TEMP=str(work / "ansible-local"),
        ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
        TMPDIR=str(work / "tmp"),
        XDG_CONFIG_HOME=str(work / "xdg-config"), XDG_CACHE_HOME=str(work / "xdg-cache"),
        XDG_DATA_HOME=str(work / "xdg-data"),
        HELM_STANDIN_LOG=str(work / "helm-calls.jsonl"),
    )
    env.pop("KUBECONFIG", None)
    if profile:
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT=str(profile),
                   PROFILE_TASKS_SORT_ORDER="descending")
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_site(work, inventory, label, profile):
    """One ``ansible-playbook playbooks/site.yml``: (wall seconds, CPU seconds, recap, stdout)."""
    command = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "playbooks/site.yml",
               "-i", str(inventory), "-e", json.dumps({"certmesh_output_dir": str(work / "out")})]
    cpu, start = _children_cpu(), time.monotonic()
    done = subprocess.run(command, cwd=str(REPO), env=_env(work, profile), capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - start, _children_cpu() - cpu
    (work / ("%s.log" % label)).write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode:
        log = work / ("%s.log" % label)
        tail = done.stdout[-3000:] + done.stderr[-2000:]
        raise SystemExit("%s failed (rc %d), log in %s:\n%s" % (label, done.returncode, log, tail))
    recap = dict((host, {"ok": int(ok), "changed": int(changed), "skipped": int(skipped)})
                 for host, ok, changed, _u, _f, skipped in _RECAP.findall(done.stdout))
    return wall, cpu, recap, done.stdout


def _inventory(work, mode, cluster):
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    if mode == "apply":
        host.update(certmesh_kubeconfig=cluster.kubeconfig, certmesh_kube_context="east")
    inventory = {"mesh": {"hosts": {"east" if mode == "apply" else "cluster1": host}},
                 "all": {"vars": {"certmesh_environment": "bench"}}}
    path = work / "inventory.json"
    path.write_text(json.dumps(inventory, indent=1), encoding="utf-8")
    return path


def _top_tasks(stdout, count):
    return sorted(((float(seconds), name.strip()) for name, seconds in _PROFILE.findall(stdout)), reverse=True)[:count]


def bench_mode(mode, base, options, round_index=0):
    work = base / mode / ("round-%d" % round_index)
    work.mkdir(parents=True)
    cluster = KubeAPIProcess(work, "east") if mode == "apply" else None
    try:
        inventory = _inventory(work, mode, cluster)
        first = run_site(work, inventory, "first", options.profile)
        noops = [run_site(work, inventory, "noop-%d" % index, options.profile) for index in range(options.repeat)]
    finally:
        if cluster:
            cluster.stop()
    noop_wall = statistics.median(run[0] for run in noops)
    noop_cpu = statistics.median(run[1] for run in noops)
    helm_calls = 0
    log = work / "helm-calls.jsonl"
    if log.is_file():
        helm_calls = sum(1 for line in log.read_text(encoding="utf-8").splitlines() if line.strip())
    return {"mode": mode, "first": {"wall": first[0], "cpu": first[1], "recap": first[2]},
            "noop": {"wall": noop_wall, "cpu": noop_cpu, "recap": noops[-1][2], "runs": [run[0] for run in noops]},
            "ratio_wall": noop_wall / first[0], "ratio_cpu": noop_cpu / first[1] if first[1] else 0.0,
            "helm_calls": helm_calls, "top_noop_tasks": _top_tasks(noops[-1][3], options.profile or 0),
            "top_first_tasks": _top_tasks(first[3], options.profile or 0)}


def show(result, options):
    first, noop = result["first"], result["noop"]
    changed = sum(host["changed"] for host in noop["recap"].values())
    tasks = sum(host["ok"] + host["changed"] + host["skipped"] for host in noop["recap"].values())
    print("%s mode: first converge %.1f s wall (%.1f s CPU), no-op re-run %.1f s wall (%.1f s CPU; %d task results, "
          "changed=%d)" % (result["mode"], first["wall"], first["cpu"], noop["wall"], noop["cpu"], tasks, changed))
    verdict = "met" if result["ratio_wall"] <= 1 / 3 else "NOT met"
    print("  ratio no-op / first: %.2f wall, %.2f CPU - goal <= 0.33: %s" % (result["ratio_wall"], result["ratio_cpu"],
                                                                             verdict))
    if options.profile:
        print("  slowest tasks of the no-op re-run (profile_tasks):")
        for seconds, name in result["top_noop_tasks"]:
            print("    %6.2f s  %s" % (seconds, name))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--mode", choices=["render", "apply", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="no-op re-runs; the median counts (default 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="whole rounds (first converge and re-runs, fresh folder and cluster); the median ratio counts")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="run with the profile_tasks callback and print the N slowest tasks of the re-run")
    parser.add_argument("--work", help="keep everything in this (new) folder")
    parser.add_argument("--json", help="also write the figures here")
    options = parser.parse_args(argv)

    base = pathlib.Path(options.work) if options.work else pathlib.Path(tempfile.mkdtemp(prefix="certmesh-noop-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for mode in (["render", "apply"] if options.mode == "both" else [options.mode]):
        rounds = []
        for round_index in range(max(1, options.rounds)):
            rounds.append(bench_mode(mode, base, options, round_index))
            show(rounds[-1], options)
        results.extend(rounds)
        if len(rounds) > 1:
            wall = statistics.median(result["ratio_wall"] for result in rounds)
            cpu = statistics.median(result["ratio_cpu"] for result in rounds)
            print("%s mode, median of %d rounds: ratio no-op / first %.2f wall, %.2f CPU (rounds %s) - goal <= 0.33: %s"
                  % (mode, len(rounds), wall, cpu, ", ".join("%.2f" % result["ratio_wall"] for result in rounds),
                     "met" if wall <= 1 / 3 else "NOT met"))
    if options.json:
        pathlib.Path(options.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not options.work:
        shutil.rmtree(base, ignore_errors=True)
    not_idempotent = any(host["changed"] for result in results for host in result["noop"]["recap"].values())
    return 1 if not_idempotent else 0


if __name__ == "__main__":
    sys.exit(main())
