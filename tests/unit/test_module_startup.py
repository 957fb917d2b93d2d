"""tests/support/module_startup/sitecustomize.py: a module imported from a zip runs the same
with the compile cache as without it, and a cached compile carries the importing zip's path."""

import subprocess
import sys
import zipfile

from tests.support.playbook import MODULE_STARTUP

PROGRAM = """
import sys, traceback
sys.path.insert(0, sys.argv[1])
import payload
try:
    payload.fail()
except ValueError:
    print(traceback.format_exc())
"""


def _run(zip_path, cache):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(MODULE_STARTUP), "PYTHONDONTWRITEBYTECODE": "1"}
    if cache:
        env["CERTMESH_ZIPIMPORT_CACHE"] = str(cache)
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(zip_path)], env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout


def _zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("payload.py", "def fail():\n    raise ValueError('from the payload')\n")
    return path


def test_a_cached_compile_keeps_the_file_name_of_the_zip_it_is_imported_from(tmp_path):
    cache = tmp_path / "cache"
    first = _run(_zip(tmp_path / "first.zip"), cache)
    second = _run(_zip(tmp_path / "second.zip"), cache)

    assert len(list(cache.iterdir())) == 1, "the second import read the first one's compile"
    assert '%s/payload.py", line 2, in fail' % (tmp_path / "first.zip") in first
    assert '%s/payload.py", line 2, in fail' % (tmp_path / "second.zip") in second
    assert second.replace("second.zip", "first.zip") == first


def test_without_a_cache_folder_nothing_is_written(tmp_path):
    plain = _run(_zip(tmp_path / "plain.zip"), None)

    assert "ValueError: from the payload" in plain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.zip"]
