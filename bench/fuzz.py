"""Fuzz run: every parser entry point of docs/parsers.md against generated inputs.

Feeds each target of ``tests/support/fuzzing.py`` (structure-aware generators: real
certificates from pki_factory mutated at any DER depth and signed again, PEM armour variants,
grammar fragments with odd Unicode, random values) through ``hypothesis``, and prints, per
target and in total: inputs tried, unhandled exceptions (anything outside the target's
contract, each with a reproducer) and the slowest input with its time.

``--inputs`` is the TOTAL across all targets (100,000 by default), split evenly; with
``--per-target`` it is the count for each target instead. Run from the repository root:

    .venv/bin/python bench/fuzz.py [--inputs 100000] [--per-target] [--target NAME] [--seed N]

Exit status 1 when any unhandled exception was found.
"""

import argparse
import pathlib
import sys
import time
import traceback
import warnings

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".build" / "collections"), str(ROOT)]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.support import fuzzing  # noqa: E402

REPRODUCER_CHARS = 3000


class Tally:
    """What one target's run found."""

    def __init__(self, target):
        self.target = target
        self.tried = 0
        self.crashes = {}  # (exception type, innermost frame) -> (exception text, input)
        self.slowest = (0.0, 0.0, None)  # CPU seconds, wall seconds, input

    def feed(self, value):
        self.tried += 1
        started = time.perf_counter()
        cpu_started = time.thread_time()
        try:
            self.target.run(value)
        except Exception as exc:  # noqa: BLE001 - what the contract does not allow is the finding
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = (type(exc).__name__, "%s:%d" % (pathlib.Path(frame.filename).name, frame.lineno))
            self.crashes.setdefault(key, ("%s: %s" % (type(exc).__name__, exc), value))
        cpu = time.thread_time() - cpu_started
        if cpu > self.slowest[0]:
            self.slowest = (cpu, time.perf_counter() - started, value)


def run_target(target, count, seed_value):
    tally = Tally(target)

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(target.strategy)
    def feed(value):
        tally.feed(value)

    feed()
    return tally


def shown(value):
    text = repr(value)
    return text if len(text) <= REPRODUCER_CHARS else text[:REPRODUCER_CHARS] + "... (%d chars)" % len(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--inputs", type=int, default=100000,
                        help="inputs in total across targets (default 100000), or per target with --per-target")
    parser.add_argument("--per-target", action="store_true")
    parser.add_argument("--target", action="append", default=[],
                        help="run only targets whose name contains this (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # cryptography warns about RFC 5280 violations it still parses (a negative serial): the
    # fuzzer makes thousands of them.
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    fuzzing.corpus()
    targets = [t for t in fuzzing.targets() if not args.target or any(n in t.name for n in args.target)]
    if not targets:
        parser.error("no target matches %s" % args.target)
    count = args.inputs if args.per_target else max(1, args.inputs // len(targets))
    print("fuzzing %d targets, %d inputs each (%s), seed %d"
          % (len(targets), count, "per target" if args.per_target else "%d in total" % args.inputs, args.seed))
    tallies = []
    for target in targets:
        begun = time.perf_counter()
        tally = run_target(target, count, args.seed)
        tallies.append(tally)
        print("  %-36s %7d inputs  %3d unhandled  slowest %.4f s CPU (%.4f s wall)  (%.1f s)"
              % (target.name, tally.tried, len(tally.crashes), tally.slowest[0], tally.slowest[1],
                 time.perf_counter() - begun), flush=True)

    crashes = [(t, key, found) for t in tallies for key, found in t.crashes.items()]
    slowest = max(tallies, key=lambda t: t.slowest[0])
    print("inputs tried: %d" % sum(t.tried for t in tallies))
    print("unhandled exceptions: %d" % len(crashes))
    for tally, (kind, where), (message, value) in crashes:
        print("- %s: %s at %s: %s" % (tally.target.name, kind, where, message[:300]))
        print("  reproducer: %s" % shown(value))
    print("slowest input: %.4f s CPU (%.4f s wall) in %s: %s" % (
        slowest.slowest[0], slowest.slowest[1], slowest.target.name, shown(slowest.slowest[2])[:500]))
    print("wall time: %.1f s" % (time.perf_counter() - started))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
