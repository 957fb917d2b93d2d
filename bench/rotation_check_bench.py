"""Benchmark: certmesh.istio rotation_check over 10,000 certificates, from files and from
Kubernetes Secrets served by the test emulator, against one
``community.crypto.x509_certificate_info`` call per certificate.

In one process run it:

* writes 10,000 PEM files (24h workload SVIDs and 90-day gateway certificates at various ages)
  and times ``expiry.scan_paths`` + ``expiry.rotation_result`` (what the module does for
  ``paths``), in-process;
* starts ``tests/emulators/kube_api.py`` (HTTPS, in this process), stores 10,000 TLS Secrets in
  100 namespaces, and times ``kube.api_client`` + ``kube.records_for_cluster`` +
  ``expiry.rotation_result`` through kubernetes.core's client (what the module does for
  ``clusters``), in-process;
* runs **real Ansible tasks** in one ``ansible-playbook``: a ``certmesh.istio.rotation_check``
  task over those 10,000 Secrets with the default compact result and the same task with
  ``result_detail: full``, each twice (compact, full, full, compact; the faster of each kept),
  and a no-op ``ansible.builtin.ping`` (what any task costs); each task timed by a callback from
  its start to its result on the controller (module transfer, run, result handling included);
  target under 5 s for the compact task;
* runs ``community.crypto.x509_certificate_info`` the same way, as Ansible tasks looping over a
  small and a larger sample of the files; the difference gives the cost of one call,
  extrapolated to 10,000 certificates.

Besides seconds (which on a shared machine include waiting for the CPU) it prints ratios taken
in the same run: full / compact task, task / in-process core, task / ping. Run from the
repository root:

    .venv/bin/python bench/rotation_check_bench.py [--certificates 10000] [--no-kube] [--no-ansible]
        [--no-x509-info] [--healthy]
"""

import argparse
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".build" / "collections"), str(ROOT)]

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, kube  # noqa: E402
from tests.support.pki_factory import (  # noqa: E402
    days, hours, make_gateway_cert, make_intermediate, make_key, make_root, make_workload_svid, now,
)


def build_certificates(count, healthy=False):
    """``healthy``: every certificate young (a fleet where almost nothing needs attention)
    instead of ages spread so that about half of them do."""
    root = make_root("bench mesh root")
    inter = make_intermediate(root, "bench cluster intermediate")
    key = make_key("ec", cached=False)
    certs = []
    start = now()
    for number in range(count):
        if number % 5 == 0:  # one in five is a gateway certificate, up to 100 (healthy: 30) days old
            cert = make_gateway_cert(inter, dns_names=["svc%d.example.com" % number], key=key,
                                     not_before=start - days(number % (30 if healthy else 100)))
        else:  # 24h workload SVIDs, 0 to 30 (healthy: 7) hours old
            cert = make_workload_svid(inter, "cluster.local", "ns%d" % (number % 100), "sa%d" % number,
                                      key=key, not_before=start - hours(number % (8 if healthy else 31)))
        certs.append(cert)
    return root, inter, certs


def bench_files(folder, certs):
    for number, cert in enumerate(certs):
        sub = folder / ("ns%d" % (number % 100))
        sub.mkdir(parents=True, exist_ok=True)
        (sub / ("cert%d.pem" % number)).write_text(cert.pem)
    start, cpu = time.perf_counter(), time.process_time()
    result = expiry.rotation_result(expiry.scan_paths([str(folder)]))
    return time.perf_counter() - start, time.process_time() - cpu, result


def start_emulator(folder, certs):
    """The emulator with one TLS Secret per certificate; ``(emulator, kubeconfig, seconds to load)``."""
    from tests.emulators.kube_api import KubeAPIEmulator
    emulator = KubeAPIEmulator(tls=True, controllers=[])
    emulator.start()
    key_pem = base64.b64encode(certs[0].key_pem.encode()).decode()
    namespaces = sorted(set("ns%d" % (n % 100) for n in range(len(certs))))
    for namespace in namespaces:
        emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    loading = time.perf_counter()
    for number, cert in enumerate(certs):
        emulator.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                         "metadata": {"namespace": "ns%d" % (number % 100), "name": "tls-%d" % number},
                         "data": {"tls.crt": base64.b64encode(cert.pem.encode()).decode(), "tls.key": key_pem}})
    loading = time.perf_counter() - loading
    kubeconfig = emulator.write_kubeconfig(folder / "kubeconfig.yaml", cluster="bench", context="bench")
    return emulator, kubeconfig, loading


def bench_kube(folder, kubeconfig):
    os.environ["TMPDIR"] = str(folder)  # kubernetes.core's discovery cache
    start, cpu = time.perf_counter(), time.process_time()
    client = kube.api_client({"kubeconfig": str(kubeconfig), "context": "bench"})
    records = kube.records_for_cluster("bench", client)
    listed = time.perf_counter() - start
    result = expiry.rotation_result(records)
    # CPU time of this process includes the in-process emulator serving the list.
    return time.perf_counter() - start, time.process_time() - cpu, listed, result


# A callback that writes each task's duration, from its start to its result on the controller.
TIMER_CALLBACK = """
import json, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = {}
        self.times = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task.get_name()] = time.perf_counter()

    def _done(self, result):
        name = result._task.get_name()
        self.times[name] = time.perf_counter() - self.started[name]

    v2_runner_on_ok = v2_runner_on_failed = _done

    def v2_playbook_on_stats(self, stats):
        import os
        with open(os.environ["BENCH_TIMES"], "w") as handle:
            json.dump(self.times, handle)
"""

ROTATION_TASK = """    - name: rotation_check %(detail)s %(round)d
      certmesh.istio.rotation_check:
        clusters: [{name: bench, kubeconfig: "%(kubeconfig)s", context: bench}]
        result_detail: %(detail)s
      register: %(detail)s
"""

ROTATION_PLAYBOOK = """- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: ping
      ansible.builtin.ping:
%(tasks)s    - name: counts
      ansible.builtin.copy:
        dest: "%(counts)s"
        content: "{{ {'attention': attention.certificates | length, 'full': full.certificates | length,
                      'total': attention.summary.total} | to_json }}"
        mode: "0600"
"""

# Each kind twice, in the order attention, full, full, attention: a drift of the load during
# the run, or a cache the first task warms, favours neither; the faster of the two is kept.
ROUNDS = (("attention", 1), ("full", 1), ("full", 2), ("attention", 2))


def _ansible(folder, playbook, extra=()):
    """Run ``playbook``; the per-task durations of the timer callback."""
    playbook_bin = shutil.which("ansible-playbook", path=str(pathlib.Path(sys.executable).parent)) \
        or shutil.which("ansible-playbook")
    if playbook_bin is None:
        return None
    plugins = folder / "callback_plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "bench_timer.py").write_text(TIMER_CALLBACK)
    times = folder / "times.json"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.null",
               ANSIBLE_CALLBACK_PLUGINS=str(plugins), ANSIBLE_CALLBACKS_ENABLED="bench_timer",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), BENCH_TIMES=str(times),
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_LOCALHOST_WARNING="false", TMPDIR=str(folder))
    done = subprocess.run([playbook_bin, "-i", "localhost,", str(playbook)] + list(extra),
                          capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
    if done.returncode != 0:
        raise RuntimeError("ansible-playbook failed: %s" % (done.stdout + done.stderr)[-2000:])
    return json.loads(times.read_text())


def bench_rotation_task(folder, kubeconfig):
    playbook = folder / "rotation.yml"
    counts = folder / "counts.json"
    tasks = "".join(ROTATION_TASK % {"detail": detail, "round": number, "kubeconfig": kubeconfig}
                    for detail, number in ROUNDS)
    playbook.write_text(ROTATION_PLAYBOOK % {"tasks": tasks, "counts": counts})
    times = _ansible(folder, playbook)
    if times is None:
        return None
    best = dict((detail, min(times["rotation_check %s %d" % (detail, number)] for d, number in ROUNDS
                             if d == detail)) for detail, _number in ROUNDS)
    best["ping"] = times["ping"]
    best["runs"] = ", ".join("%s %.2f s" % (name[len("rotation_check "):], times[name]) for name in
                             ("rotation_check %s %d" % item for item in ROUNDS))
    return best, json.loads(counts.read_text())


PLAYBOOK = """- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: x509_certificate_info
      community.crypto.x509_certificate_info:
        path: "{{ item }}"
      loop: "{{ files }}"
"""


def bench_ansible(folder, files):
    """One x509_certificate_info call per certificate, as Ansible tasks timed like the above."""
    playbook = folder / "info.yml"
    playbook.write_text(PLAYBOOK)

    def run(sample):
        listing = folder / ("files-%d.yml" % len(sample))
        listing.write_text("files:\n" + "".join("  - %s\n" % path for path in sample))
        times = _ansible(folder, playbook, ["-e", "@%s" % listing])
        return None if times is None else times["x509_certificate_info"]

    small, large = files[:5], files[:45]
    small_time, large_time = run(small), run(large)
    if small_time is None:
        return None
    per_call = (large_time - small_time) / (len(large) - len(small))
    return per_call, small_time, large_time, len(small), len(large)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=10000)
    parser.add_argument("--no-kube", action="store_true", help="skip the emulator-backed figure")
    parser.add_argument("--no-ansible", action="store_true", help="skip every ansible-playbook run")
    parser.add_argument("--no-x509-info", action="store_true", help="skip the x509_certificate_info comparison")
    parser.add_argument("--healthy", action="store_true",
                        help="every certificate young: almost nothing needs attention (default: about half)")
    args = parser.parse_args(argv)
    count = args.certificates
    folder = pathlib.Path(tempfile.mkdtemp(prefix="rotation-bench-"))
    try:
        print("building %d certificates..." % count)
        _root, _inter, certs = build_certificates(count, args.healthy)
        files_time, files_cpu, result = bench_files(folder / "pki", certs)
        counts = result["summary"]["counts"]
        print("rotation_check core, files: %d certificates in %.2f s wall (%.2f s CPU) = %.0f certificates/s (%s)"
              % (result["summary"]["total"], files_time, files_cpu, result["summary"]["total"] / files_time,
                 ", ".join("%s %d" % item for item in counts.items())))
        kube_time = compact = emulator = None
        try:
            if not args.no_kube:
                emulator, kubeconfig, loading = start_emulator(folder, certs)
                kube_time, kube_cpu, listed, kube_result = bench_kube(folder, kubeconfig)
                print("rotation_check core, %d TLS Secrets from the emulator via kubernetes.core: %.2f s wall "
                      "(list and parse %.2f s, classify %.2f s; %.2f s CPU including the in-process emulator; "
                      "loading the emulator took %.1f s, not counted)"
                      % (kube_result["summary"]["total"], kube_time, listed, kube_time - listed, kube_cpu, loading))
            measured = None
            if emulator is not None and not args.no_ansible:
                measured = bench_rotation_task(folder, kubeconfig)
                if measured is None:
                    print("ansible-playbook not found: no task figures")
            if measured is not None:
                times, found = measured
                compact, full, ping = times["attention"], times["full"], times["ping"]
                print("rotation_check as an Ansible task (ansible-playbook, callback-timed, faster of two), "
                      "%d Secrets: compact result (%d entries) %.2f s, result_detail=full (%d entries) %.2f s, "
                      "ansible.builtin.ping %.2f s - target under 5 s for the compact task: %s"
                      % (found["total"], found["attention"], compact, found["full"], full, ping,
                         "met" if compact < 5 else "NOT met"))
                print("  task runs in order: %s" % times["runs"])
                print("ratio: full / compact task %.2f; compact task / in-process core %.2f; "
                      "compact task / ping %.0f" % (full / compact, compact / kube_time, compact / max(ping, 1e-9)))
        finally:
            if emulator is not None:
                emulator.stop()
        if not args.no_ansible and not args.no_x509_info:
            files = sorted(str(p) for p in (folder / "pki").rglob("*.pem"))
            measured = bench_ansible(folder, files)
            if measured is None:
                print("ansible-playbook not found: no comparison")
            else:
                per_call, small_time, large_time, small, large = measured
                total = per_call * count
                print("community.crypto.x509_certificate_info as Ansible tasks (timed the same way): %d calls "
                      "%.2f s, %d calls %.2f s -> %.3f s per call, extrapolated to %d certificates: %.0f s"
                      % (small, small_time, large, large_time, per_call, count, total))
                if compact:
                    print("ratio: the rotation_check task over %d Secrets is %.0fx faster than one "
                          "x509_certificate_info task call per certificate" % (count, total / compact))
                print("ratio (in-process core over files vs those calls): %.0fx" % (total / files_time))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
