"""What the PKI store tests of both backends share: a control node's local root, and two
control nodes publishing theirs at the same moment (``race``), which must end with one root."""

import threading

from tests.support import pki_factory


def local_root(folder, common_name):
    """A root certificate and key as a control node's mesh_ca role leaves them (folder 0700)."""
    folder.mkdir(mode=0o700)
    root = pki_factory.make_root(common_name, key_slot=common_name)
    (folder / "root-ca.crt").write_text(root.pem)
    (folder / "root-ca.key").write_text(root.key_pem)
    return root


def race(tmp_path, publish):
    """Two slices, each with its own root, call ``publish(index, folder)`` released by one barrier.

    Asserts that exactly one created the entry and the other adopted it; returns the folders so
    that the caller can compare them with what its store holds."""
    folders = [tmp_path / "slice-a", tmp_path / "slice-b"]
    for index, folder in enumerate(folders):
        local_root(folder, "root of slice %d" % index)
    start = threading.Barrier(len(folders))
    outcomes = [None] * len(folders)

    def run(index):
        start.wait()
        outcomes[index] = publish(index, str(folders[index]))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(folders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcome["created"] for outcome in outcomes) == [False, True], outcomes
    assert [outcome["adopted"] for outcome in outcomes if not outcome["created"]] == [True], outcomes
    return folders


def assert_every_folder_holds(folders, stored_cert, stored_key):
    for folder in folders:
        assert (folder / "root-ca.crt").read_text() == stored_cert
        assert (folder / "root-ca.key").read_text() == stored_key
