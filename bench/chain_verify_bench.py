"""Benchmark: certmesh.istio chain_verify's core function against `openssl verify`.

Builds 1,000 mesh chains (half ECDSA P-256, half RSA 2048: root -> cluster intermediate ->
24h workload SVID, two roots in the trust bundle as during a root rotation), then, in this one
process run:

* verifies every chain with ``chain.check`` (PEM parsing, path validation, mesh rules and the
  per-certificate summaries chain_verify returns) in this single thread, timing wall clock and
  the CPU time of this process (the "one core" figure, unaffected by other load);
* verifies every chain with one ``openssl verify`` process per chain, as the seed did by hand.

Prints both rates and their ratio. Run from the repository root:

    .venv/bin/python bench/chain_verify_bench.py [--chains 1000] [--openssl-sample N]
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".build" / "collections"), str(ROOT)]

from ansible_collections.certmesh.istio.plugins.module_utils import chain, pki  # noqa: E402
from tests.support.pki_factory import (  # noqa: E402
    bundle, make_intermediate, make_key, make_root, make_workload_svid,
)


def build_chains(count):
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


def bench_core(roots, chains):
    store = chain.load_store(bundle(*roots))
    at = pki.parse_time(None)
    pems = [(key_type, bundle(leaf, inter)) for key_type, leaf, inter in chains]
    per_type = {}
    invalid = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for key_type, pem in pems:
        began = time.process_time()
        result = chain.check(pem, store, purpose="workload", trust_domain="cluster.local", at=at)
        per_type.setdefault(key_type, []).append(time.process_time() - began)
        invalid += not result["valid"]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, invalid, dict((k, len(v) / max(sum(v), 1e-9)) for k, v in per_type.items())


def bench_openssl(roots, chains, sample):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--openssl-sample", type=int, default=None,
                        help="openssl processes to time (default: every chain)")
    args = parser.parse_args(argv)
    print("building %d chains (EC P-256 and RSA 2048, 2 roots, 8 intermediates)..." % args.chains)
    roots, chains = build_chains(args.chains)
    wall, cpu, invalid, by_type = bench_core(roots, chains)
    core_wall, core_cpu = len(chains) / wall, len(chains) / cpu
    print("chain_verify core (chain.check), one thread: %d chains in %.3f s wall = %.0f chains/s; "
          "%.3f s CPU = %.0f chains/s per core (CPU: %s; %d invalid)"
          % (len(chains), wall, core_wall, cpu, core_cpu,
             ", ".join("%s %.0f/s" % (k.upper(), v) for k, v in sorted(by_type.items())), invalid))
    sample = args.openssl_sample or len(chains)
    measured = bench_openssl(roots, chains, sample)
    if measured is None:
        print("openssl not found: no comparison")
        return 0 if invalid == 0 else 1
    seconds, cpu_seconds, failures, jobs = measured
    openssl_wall, openssl_cpu = jobs / seconds, jobs / max(cpu_seconds, 1e-9)
    print("openssl verify, one process per chain: %d chains in %.3f s wall = %.0f chains/s; "
          "%.3f s CPU = %.0f chains/s per core (%d failed)"
          % (jobs, seconds, openssl_wall, cpu_seconds, openssl_cpu, failures))
    if jobs < len(chains):
        print("  (extrapolated to %d chains: %.1f s)" % (len(chains), len(chains) / openssl_wall))
    print("ratio: chain_verify core is %.1fx openssl verify per chain (wall clock), %.1fx (CPU time)"
          % (core_wall / openssl_wall, core_cpu / openssl_cpu))
    print("target 3,000 chains/s on one core: %s (%.0f chains/s of CPU time)"
          % ("met" if core_cpu >= 3000 else "NOT met", core_cpu))
    return 0 if invalid == 0 and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
