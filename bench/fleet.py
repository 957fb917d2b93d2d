"""Fleet benchmark: N clusters in one inventory, run as S concurrent slices, as AWX job slicing does.

Each slice is its own ``ansible-playbook`` process with ``--limit`` (AWX gives slice i the hosts
i, i+S, i+2S...), its own output folder and TMPDIR, as if it ran on its own execution node in a
fresh container; all slices start at the same moment. With ``--store kubernetes`` they share a
PKI store in a management cluster (the Kubernetes API emulator, started here unless
``--store-kubeconfig`` names one); with ``--store local`` each slice keeps its own files, which
is what splits the mesh into trust islands. With ``--store vault`` they share a KV version 2
mount of the Vault API emulator (started here unless ``--store-vault-url`` names a Vault).

Prints ``roots: K`` (distinct mesh roots across every cluster's CA chain; 1 is one mesh), the
wall time and the per-cluster cost (slice time summed over slices, divided by N) of a first
converge and of a no-op re-run, and with ``--curve`` the same for N = 10, 30, 100.

    python bench/fleet.py --clusters 6 --slices 3 --store kubernetes
    python bench/fleet.py --clusters 6 --slices 3 --store local        # shows the split
    python bench/fleet.py --clusters 6 --slices 3 --store vault
    python bench/fleet.py --slices 3 --curve --tags pki,mesh_ca
    python bench/fleet.py --clusters 30 --slices 3 --verify   # the acceptance run of issue 11
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from emulator_processes import KubeAPIProcess, VaultProcess

REPO = pathlib.Path(__file__).resolve().parent.parent
ENVIRONMENT = "fleet"


def _pem_fingerprint(path):
    """SHA-256 of the first certificate in a PEM file (the DER bytes, as openssl shows it)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel

    cert = x509.load_pem_x509_certificate(pathlib.Path(path).read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


def cluster_names(count):
    return ["c%03d" % number for number in range(1, count + 1)]


def slice_hosts(names, slices):
    """AWX job slicing: slice i runs hosts i, i+S, i+2S..."""
    return [names[index::slices] for index in range(slices) if names[index::slices]]


def write_inventory(path, names, options, store_kubeconfig, store_vault=None):
    store = {"certmesh_pki_store": options.store}
    if options.store == "kubernetes":
        store.update(certmesh_pki_store_kubeconfig=store_kubeconfig, certmesh_pki_store_context="management")
    if options.store == "vault":
        store.update(certmesh_pki_store_vault_url=store_vault[0], certmesh_pki_store_vault_token=store_vault[1])
    inventory = {"all": {
        "vars": dict(store, certmesh_environment=ENVIRONMENT, certmesh_rollout_waves=options.waves,
                     ansible_connection="local", ansible_python_interpreter="{{ ansible_playbook_python }}",
                     # ECC keys: the benchmark measures the product, not RSA-4096 key generation.
                     mesh_ca_key_type="ECC"),
        "hosts": dict((name, {}) for name in names)}}
    path.write_text(json.dumps(inventory, indent=1), encoding="utf-8")


def _slice_env(tmpdir):
    env = dict(os.environ)
    env.update(TMPDIR=str(tmpdir), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    return env


def _ansible_playbook():
    """The ansible-playbook of this Python's venv (``.venv/bin/python bench/fleet.py`` works unactivated)."""
    beside = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.is_file() else (shutil.which("ansible-playbook") or "ansible-playbook")


def run_slices(work, inventory, slices, options, label, playbook="playbooks/site.yml"):
    """Start every slice at once; ``(wall seconds, [slice seconds], [return codes])``."""
    started = []
    for index, hosts in enumerate(slices):
        node = work / ("slice-%d" % index)
        (node / "tmp").mkdir(parents=True, exist_ok=True)
        command = [_ansible_playbook(), "-i", str(inventory), playbook,
                   "--limit", ",".join(hosts), "-e", "certmesh_output_dir=%s" % (node / "out")]
        if options.tags and playbook.endswith("site.yml"):
            command += ["--tags", options.tags]
        if options.verbose:
            command.append("-vvv")
        log = open(node / ("%s.log" % label), "w")
        started.append((subprocess.Popen(command, cwd=str(REPO), env=_slice_env(node / "tmp"), stdout=log,
                                         stderr=subprocess.STDOUT), log, time.monotonic()))
    begin = min(entry[2] for entry in started)
    seconds, codes = [], []
    for process, log, start in started:
        codes.append(process.wait())
        seconds.append(time.monotonic() - start)
        log.close()
    return time.monotonic() - begin, seconds, codes


def distinct_roots(work, names):
    """Fingerprints of the mesh root each cluster's CA chain ends in, wherever its slice wrote it."""
    found = {}
    for name in names:
        for chain in work.glob("slice-*/out/%s/%s/pki/root-ca.crt" % (ENVIRONMENT, name)):
            found[name] = _pem_fingerprint(chain)
    return found


def bench(count, options, work):
    """One fleet of ``count`` clusters: first converge, then a no-op re-run."""
    work.mkdir(parents=True)
    management = store_vault = None
    store_kubeconfig = options.store_kubeconfig
    vault_address = (options.store_vault_url, options.store_vault_token)
    if options.store == "kubernetes" and not store_kubeconfig:
        management = KubeAPIProcess(work, "management", "--no-cert-manager-ca")
        store_kubeconfig = management.kubeconfig
    if options.store == "vault" and not options.store_vault_url:
        store_vault = VaultProcess()
        vault_address = (store_vault.url, store_vault.token)
    try:
        names = cluster_names(count)
        inventory = work / "inventory.json"
        write_inventory(inventory, names, options, store_kubeconfig, vault_address)
        slices = slice_hosts(names, options.slices)
        first_wall, first_slices, first_codes = run_slices(work, inventory, slices, options, "first")
        noop_wall, noop_slices, noop_codes = (0.0, [], [])
        if not options.no_noop:
            noop_wall, noop_slices, noop_codes = run_slices(work, inventory, slices, options, "noop")
        verify_codes = []
        if options.verify:
            verify_codes = run_slices(work, inventory, slices, options, "verify", "playbooks/verify.yml")[2]
    finally:
        if management:
            management.stop()
        if store_vault:
            store_vault.stop()
    roots = distinct_roots(work, names)
    return {
        "clusters": count, "slices": len(slices), "store": options.store, "tags": options.tags or "all",
        "roots": len(set(roots.values())), "clusters_with_a_root": len(roots),
        "first": {"wall": first_wall, "per_cluster": sum(first_slices) / count, "return_codes": first_codes},
        "noop": {"wall": noop_wall, "per_cluster": sum(noop_slices) / count if noop_slices else 0.0,
                 "return_codes": noop_codes},
        "verify": {"return_codes": verify_codes},
        "work": str(work),
    }


def show(result):
    first, noop = result["first"], result["noop"]
    print("clusters: %d in %d slices, store %s, tags %s" % (result["clusters"], result["slices"], result["store"],
                                                            result["tags"]))
    print("roots: %d" % result["roots"])
    if result["roots"] > 1:
        # The benchmark's clusters render, so nothing here can refuse the split; against real
        # clusters preflight does (tests/integration/test_split_detection.py).
        print("split: %d trust islands across %d clusters; in apply mode preflight refuses a cluster that already "
              "pins another root (problem mesh_root_split)" % (result["roots"], result["clusters_with_a_root"]))
    print("first converge: wall %.1f s, per cluster %.2f s, return codes %s"
          % (first["wall"], first["per_cluster"], first["return_codes"]))
    if noop["return_codes"]:
        ratio = noop["per_cluster"] / first["per_cluster"] if first["per_cluster"] else 0.0
        print("no-op re-run: wall %.1f s, per cluster %.2f s, return codes %s, no-op / first = %.2f"
              % (noop["wall"], noop["per_cluster"], noop["return_codes"], ratio))
    if result["verify"]["return_codes"]:
        print("verify.yml: return codes %s" % result["verify"]["return_codes"])
    print("total wall: %.1f s" % (first["wall"] + noop["wall"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--slices", type=int, default=3)
    parser.add_argument("--store", choices=["kubernetes", "vault", "local"], default="kubernetes")
    parser.add_argument("--store-kubeconfig", help="use this management cluster instead of starting an emulator")
    parser.add_argument("--store-vault-url", help="use this Vault (--store vault) instead of starting an emulator")
    parser.add_argument("--store-vault-token", default=os.environ.get("VAULT_TOKEN"),
                        help="token for --store-vault-url (default: VAULT_TOKEN)")
    parser.add_argument("--waves", type=json.loads, default=[1, "100%"], help='JSON list, default [1, "100%%"]')
    parser.add_argument("--tags", default="", help="site.yml tags (default: everything)")
    parser.add_argument("--curve", action="store_true", help="also N = 10, 30, 100")
    parser.add_argument("--no-noop", action="store_true", help="skip the no-op re-run")
    parser.add_argument("--verify", action="store_true", help="then run playbooks/verify.yml in every slice")
    parser.add_argument("--verbose", action="store_true", help="run the slices with -vvv (logs in the work folder)")
    parser.add_argument("--work", help="keep everything in this (new) folder")
    parser.add_argument("--json", help="also write the figures here")
    options = parser.parse_args(argv)

    base = pathlib.Path(options.work) if options.work else pathlib.Path(tempfile.mkdtemp(prefix="certmesh-fleet-"))
    results = [bench(options.clusters, options, base / ("n%d" % options.clusters))]
    show(results[0])
    if options.curve:
        print("growth curve (per-cluster cost, first converge / no-op):")
        for count in (10, 30, 100):
            result = bench(count, options, base / ("curve-n%d" % count))
            results.append(result)
            print("  N=%3d: %.2f s / %.2f s, wall %.1f s, roots: %d" % (
                count, result["first"]["per_cluster"], result["noop"]["per_cluster"], result["first"]["wall"],
                result["roots"]))
    if options.json:
        pathlib.Path(options.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not options.work:
        shutil.rmtree(base, ignore_errors=True)
    failed = any(code for result in results
                 for code in result["first"]["return_codes"] + result["noop"]["return_codes"] + result["verify"]["return_codes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
