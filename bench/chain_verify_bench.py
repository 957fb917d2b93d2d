"""Benchmark: certmesh.istio chain_verify against the bare ``cryptography`` verifier and
against ``openssl verify``, on the same chains.

Builds 1,000 mesh chains (half ECDSA P-256, half RSA 2048: root -> cluster intermediate ->
24h workload SVID, two roots in the trust bundle as during a root rotation), then, in this one
process run:

* **in-loop**: in the same process and the same loop, round after round (the order swapped
  each round), verifies every chain with ``chain.check`` (chain_verify's core: PEM parsing,
  path validation, mesh rules and the per-certificate summaries it returns) and with the bare
  verifier: ``x509.load_pem_x509_certificates`` on the chain's PEM, then the ``verify`` of one
  ``PolicyBuilder().store(roots).time(at).build_client_verifier()`` (built once, as a careful
  caller would). chain_verify's caches are emptied before each of its rounds, so every round
  costs what one fresh module run costs. Timed in CPU time of this process (the "one core"
  figure) and wall clock;
* **whole-process**: the same two, each as its own Python process started the same way on the
  same input file (start-up and imports included), plus the real ``chain_verify`` module
  process (``AnsibleModule`` argument checking and its JSON result included) on that file;
  timed in wall clock and the CPU time of the child;
* one ``openssl verify`` process per chain, as the seed did by hand.

Every ratio compares figures taken side by side in the same run, so a loaded machine shifts
both sides alike. Prints ``ratio: chain_verify/bare`` (throughput; the goal is at least 0.75).
Run from the repository root:

    .venv/bin/python bench/chain_verify_bench.py [--chains 1000] [--rounds 5] [--processes 3]
        [--openssl-sample N]
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".build" / "collections"
sys.path[:0] = [str(COLLECTIONS), str(ROOT)]

GOAL = 0.75


# --------------------------------------------------------------------------------------------
# The two verifiers, as a worker process runs them (imports inside: the process figure counts
# what each side imports).

def bare_verifier(roots_pem, at):
    """The bare verifier: one client verifier over the roots, built once."""
    from cryptography import x509
    from cryptography.x509 import verification
    store = verification.Store(x509.load_pem_x509_certificates(roots_pem.encode()))
    return verification.PolicyBuilder().store(store).time(at).build_client_verifier()


def verify_bare_batch(verifier, chain_pems, _at):
    """Parse each chain and verify it; the number refused."""
    from cryptography import x509
    from cryptography.x509 import verification
    invalid = 0
    for pem in chain_pems:
        certs = x509.load_pem_x509_certificates(pem.encode())
        try:
            verifier.verify(certs[0], certs[1:])
        except verification.VerificationError:
            invalid += 1
    return invalid


def core_store(roots_pem, _at):
    from ansible_collections.certmesh.istio.plugins.module_utils import chain
    return chain.load_store(roots_pem)


def verify_core_batch(store, chain_pems, at, trust_domain="cluster.local"):
    """chain_verify's core, as the module calls it for each item of ``chains``."""
    from ansible_collections.certmesh.istio.plugins.module_utils import chain
    invalid = 0
    for pem in chain_pems:
        invalid += not chain.check(pem, store, purpose="workload", trust_domain=trust_domain, at=at)["valid"]
    return invalid


SIDES = {"bare": (bare_verifier, verify_bare_batch), "core": (core_store, verify_core_batch)}


def verify_all(kind, roots_pem, chain_pems, at):
    prepare, batch = SIDES[kind]
    return batch(prepare(roots_pem, at), chain_pems, at)


def worker(kind, path):
    """``--worker bare|core FILE``: one whole-process run on a module arguments file."""
    import datetime
    args = json.loads(pathlib.Path(path).read_text())["ANSIBLE_MODULE_ARGS"]
    at = datetime.datetime.fromisoformat(args["at"].replace("Z", "+00:00"))
    pems = [item["chain"] for item in args["chains"]]
    print(json.dumps({"invalid": verify_all(kind, args["roots"], pems, at), "chains": len(pems)}))
    return 0


# --------------------------------------------------------------------------------------------

def build_chains(count):
    from tests.support.pki_factory import make_intermediate, make_key, make_root, make_workload_svid
    roots, chains = [], []
    for key_type in ("ec", "rsa"):
        root = make_root("bench %s mesh root" % key_type, key_type=key_type)
        roots.append(root)
        intermediates = [make_intermediate(root, "bench %s cluster %d" % (key_type, n), key_type=key_type,
                                           path_length=0) for n in range(4)]
        leaf_key = make_key(key_type, cached=False)
        for number in range(count // 2):
            inter = intermediates[number % len(intermediates)]
            leaf = make_workload_svid(inter, "cluster.local", "ns%d" % (number % 50), "sa%d" % number,
                                      key=leaf_key, key_type=key_type)
            chains.append((key_type, leaf, inter))
    return roots, chains


def _timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_in_loop(roots_pem, pems, at, rounds, batch=250):
    """Both verifiers in this process, interleaved batch by batch (order swapped each batch) so
    that a change of load on a shared machine hits both alike; per side and round the summed
    CPU and wall times."""
    from ansible_collections.certmesh.istio.plugins.module_utils import chain
    figures = {"bare": [], "core": []}
    invalid = {"bare": 0, "core": 0}
    for _round in range(rounds):
        chain.clear_caches()  # each round costs what one fresh module run costs
        totals = {}
        contexts = {}
        for kind, (prepare, _batch) in SIDES.items():
            wall, cpu, contexts[kind] = _timed(prepare, roots_pem, at)
            totals[kind] = [wall, cpu]
        for number, start in enumerate(range(0, len(pems), batch)):
            part = pems[start:start + batch]
            for kind in (("bare", "core") if number % 2 == 0 else ("core", "bare")):
                wall, cpu, bad = _timed(SIDES[kind][1], contexts[kind], part, at)
                totals[kind][0] += wall
                totals[kind][1] += cpu
                invalid[kind] += bad
        for kind, (wall, cpu) in totals.items():
            figures[kind].append((wall, cpu))
    return figures, invalid


def _child(command, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0 and not done.stdout.strip().startswith("{"):
        raise RuntimeError("%s failed: %s" % (command[1], (done.stdout + done.stderr)[-2000:]))
    return wall, cpu, json.loads(done.stdout)


def bench_processes(args_file, rounds):
    """Each side as its own process on the same file, started the same way, alternating."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLLECTIONS), str(ROOT)]),
               PYTHONDONTWRITEBYTECODE="1")
    commands = {
        "bare": [sys.executable, __file__, "--worker", "bare", str(args_file)],
        "core": [sys.executable, __file__, "--worker", "core", str(args_file)],
        "module": [sys.executable, str(ROOT / "plugins" / "modules" / "chain_verify.py"), str(args_file)],
    }
    figures = dict((kind, []) for kind in commands)
    invalid = dict((kind, 0) for kind in commands)
    for number in range(rounds):
        kinds = list(commands) if number % 2 == 0 else list(reversed(list(commands)))
        for kind in kinds:
            wall, cpu, out = _child(commands[kind], env)
            figures[kind].append((wall, cpu))
            if kind == "module":
                invalid[kind] += sum(not item["valid"] for item in out["results"])
            else:
                invalid[kind] += out["invalid"]
    return figures, invalid


def bench_openssl(roots, chains, sample):
    from tests.support.pki_factory import bundle
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    folder = pathlib.Path(tempfile.mkdtemp(prefix="chain-bench-"))
    try:
        (folder / "roots.pem").write_text(bundle(*roots))
        jobs = []
        for number, (_key_type, leaf, inter) in enumerate(chains[:sample]):
            leaf_file, inter_file = folder / ("leaf%d.pem" % number), folder / ("inter%d.pem" % number)
            leaf_file.write_text(leaf.pem)
            inter_file.write_text(inter.pem)
            jobs.append([openssl, "verify", "-CAfile", str(folder / "roots.pem"), "-untrusted",
                         str(inter_file), str(leaf_file)])
        before, start = os.times(), time.perf_counter()
        failures = sum(subprocess.run(job, capture_output=True, check=False).returncode != 0 for job in jobs)
        wall, after = time.perf_counter() - start, os.times()
        cpu = sum(after[i] - before[i] for i in range(4))  # our share of spawning + the children
        return wall, cpu, failures, len(jobs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _median(values):
    return statistics.median(values)


def _report(title, figures, count, invalid):
    """Median per side; the ratio of medians and the median of the per-round ratios."""
    lines = []
    for kind, label in (("bare", "bare cryptography verifier"), ("core", "chain_verify core (chain.check)"),
                        ("module", "chain_verify module process")):
        if kind not in figures:
            continue
        wall = _median([w for w, _c in figures[kind]])
        cpu = _median([c for _w, c in figures[kind]])
        lines.append("  %-31s %d chains: median %.3f s wall = %5.0f chains/s; %.3f s CPU = %5.0f chains/s "
                     "per core (%d invalid in %d runs)"
                     % (label, count, wall, count / wall, cpu, count / cpu, invalid[kind], len(figures[kind])))
    print(title)
    print("\n".join(lines))
    ratios = {}
    for kind in [k for k in ("core", "module") if k in figures]:
        per_round = [b[1] / max(c[1], 1e-9) for b, c in zip(figures["bare"], figures[kind])]
        per_round_wall = [b[0] / max(c[0], 1e-9) for b, c in zip(figures["bare"], figures[kind])]
        ratios[kind] = _median(per_round)
        print("  ratio: chain_verify/bare throughput (%s) = %.2f CPU time, %.2f wall clock (median of "
              "per-round ratios; range %.2f-%.2f CPU)"
              % ("core" if kind == "core" else "module process", ratios[kind], _median(per_round_wall),
                 min(per_round), max(per_round)))
    return ratios


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="in-loop rounds per side")
    parser.add_argument("--processes", type=int, default=3, help="whole-process runs per side")
    parser.add_argument("--openssl-sample", type=int, default=None,
                        help="openssl processes to time (default: every chain; 0 skips openssl)")
    args = parser.parse_args(argv)
    from ansible_collections.certmesh.istio.plugins.module_utils import pki
    from tests.support.pki_factory import bundle

    print("building %d chains (EC P-256 and RSA 2048, 2 roots, 8 intermediates)..." % args.chains)
    roots, chains = build_chains(args.chains)
    roots_pem = bundle(*roots)
    pems = [bundle(leaf, inter) for _key_type, leaf, inter in chains]
    at = pki.parse_time(None)
    count = len(pems)
    failed = 0

    figures_in_loop, invalid = bench_in_loop(roots_pem, pems, at, args.rounds)
    failed += sum(invalid.values())
    in_loop = _report("in-loop (same process, same loop, %d rounds, interleaved in batches of 250 chains):"
                      % args.rounds, figures_in_loop, count, invalid)

    folder = pathlib.Path(tempfile.mkdtemp(prefix="chain-bench-"))
    try:
        args_file = folder / "args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
            "roots": roots_pem, "trust_domain": "cluster.local", "at": pki.iso(at), "fail_on_invalid": False,
            "chains": [{"name": "chain%d" % n, "chain": pem} for n, pem in enumerate(pems)]}}))
        if args.processes:
            figures, invalid = bench_processes(args_file, args.processes)
            failed += sum(invalid.values())
            _report("whole-process (one Python process per run, same input file, start-up and imports "
                    "included, %d runs each):" % args.processes, figures, count, invalid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    core_wall = _median([w for w, _c in figures_in_loop["core"]])
    core_cpu = _median([c for _w, c in figures_in_loop["core"]])
    if args.openssl_sample != 0:
        sample = args.openssl_sample or count
        measured = bench_openssl(roots, chains, sample)
        if measured is None:
            print("openssl not found: no comparison")
        else:
            seconds, cpu_seconds, failures, jobs = measured
            failed += failures
            print("openssl verify, one process per chain: %d chains in %.3f s wall = %.0f chains/s; "
                  "%.3f s CPU = %.0f chains/s per core (%d failed)"
                  % (jobs, seconds, jobs / seconds, cpu_seconds, jobs / max(cpu_seconds, 1e-9), failures))
            print("ratio: chain_verify core is %.1fx openssl verify per chain (wall clock), %.1fx (CPU time)"
                  % ((count / core_wall) / (jobs / seconds), (count / core_cpu) / (jobs / max(cpu_seconds, 1e-9))))
    print("goal: chain_verify core >= %.2f of the bare verifier (in-loop, CPU time): %s (%.2f)"
          % (GOAL, "met" if in_loop["core"] >= GOAL else "NOT met", in_loop["core"]))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
