"""The emulators the benchmarks run against, each in a process of its own on a free port (so
that the ansible-playbook runs being measured compete with them as with a real server)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


class KubeAPIProcess(object):
    """``tests.emulators.kube_api`` for one cluster: its kubeconfig is ``<work>/<name>.kubeconfig``."""

    def __init__(self, work, name, *flags):
        self.state = work / name
        self.state.mkdir(parents=True)
        self.kubeconfig = str(work / ("%s.kubeconfig" % name))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.emulators.kube_api", "--port", "0", "--kubeconfig", self.kubeconfig,
             "--state-dir", str(self.state), "--cluster", name, "--no-upstream-crds"] + list(flags),
            cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (self.state / "url").is_file():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the Kubernetes API emulator of %s did not start" % name)
            time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class VaultProcess(object):
    """``tests.emulators.vault_api``: ``url`` and the root ``token``."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.emulators.vault_api", "--port", "0"],
            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the Vault emulator did not start")
        started = json.loads(line)
        self.url, self.token = started["url"], started["root_token"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
