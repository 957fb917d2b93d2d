"""The emulator as its own process (for molecule) and several emulated clusters side by side."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.emulators.kube_api import upstream_dir

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start(tmp_path, *extra):
    state = tmp_path / "state"
    kubeconfig = tmp_path / "kubeconfig.yaml"
    if (state / "url").exists():
        (state / "url").unlink()
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "tests.emulators.kube_api", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--state-dir", str(state), "--cluster", "east", "--context", "east-admin"] + list(extra),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not (state / "url").exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise AssertionError("emulator did not start: %s" % process.communicate()[1])
        time.sleep(0.05)
    return process, kubeconfig, state


def _stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.slow
def test_cli_serves_until_terminated_and_keeps_state_for_the_next_start(tmp_path, kube_tmpdir):
    if not (upstream_dir() / "cert-manager" / "crds").is_dir():
        pytest.skip("upstream CRDs not found")
    import kubernetes  # pylint: disable=import-outside-toplevel

    process, kubeconfig, state = _start(tmp_path)
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "east-admin"
        assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        assert config["clusters"][0]["cluster"]["certificate-authority-data"]
        api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context="east-admin")
        core = kubernetes.client.CoreV1Api(api)
        core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}, "data": {"a": "b"}})
        crds = kubernetes.client.ApiextensionsV1Api(api).list_custom_resource_definition().items
        assert "certificates.cert-manager.io" in {c.metadata.name for c in crds}
    finally:
        assert _stop(process) == 0
    assert (state / "state.json").exists()

    process, kubeconfig, state = _start(tmp_path)
    try:
        api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context="east-admin")
        assert kubernetes.client.CoreV1Api(api).read_namespaced_config_map("kept", "default").data == {"a": "b"}
    finally:
        _stop(process)


def test_three_clusters_are_independent(kube_emulator_factory):
    clusters = [kube_emulator_factory(name, crds=False) for name in ("east", "west", "central")]
    assert len({c.url for c in clusters}) == 3
    east, west, _central = clusters
    secrets = east.dynamic().resources.get(api_version="v1", kind="Secret")
    secrets.create(body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "only-east", "namespace": "default"}},
                   namespace="default")
    assert west.emulator.get("v1", "Secret", "only-east", "default") is None
    config = yaml.safe_load(open(west.kubeconfig, encoding="utf-8"))
    assert config["contexts"][0]["name"] == "west" and config["clusters"][0]["name"] == "west"
    with pytest.raises(Exception):  # east's token means nothing to west
        west.dynamic(token=east.token)
