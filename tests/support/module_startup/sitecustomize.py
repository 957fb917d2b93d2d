"""Compile each module_utils source of an AnsiballZ payload once per test run, not once per task.

Every task of a playbook runs its module in a new Python that imports the module and its
module_utils (ansible.module_utils.basic, kubernetes.core's client code, ...) from the zip the
controller built. Python cannot write byte code into a zip, so each of these processes compiles
the same sources again: about a seventh of a test run's CPU. The test tier puts this folder on
PYTHONPATH (``tests/support/playbook.py``), so every Python it starts imports this file, which
makes zipimport keep the code objects it compiles in ``CERTMESH_ZIPIMPORT_CACHE``, keyed by the
source's digest, and give each the file name it would have had (tracebacks stay the same).

Nothing else changes: the code is the one ``compile`` returns for the same source, and without
``CERTMESH_ZIPIMPORT_CACHE`` this file does nothing. Users' runs never load it.
"""

import _imp
import hashlib
import marshal
import os
import sys
import zipimport

_CACHE = os.environ.get("CERTMESH_ZIPIMPORT_CACHE")
_COMPILE = getattr(zipimport, "_compile_source", None)


def _cached_compile(pathname, source):
    digest = hashlib.sha256(source if isinstance(source, bytes) else source.encode()).hexdigest()
    # the code also depends on the interpreter's version and on -O (asserts and docstrings)
    entry = os.path.join(_CACHE, "%s-%d%d-O%d.code" % (digest, sys.version_info[0], sys.version_info[1], sys.flags.optimize))
    try:
        with open(entry, "rb") as cached:
            code = marshal.load(cached)
        # what importlib does to code read from a .pyc: the file name of the zip it comes from now
        _imp._fix_co_filename(code, pathname)  # pylint: disable=protected-access
        return code
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _COMPILE(pathname, source)
    try:
        os.makedirs(_CACHE, exist_ok=True)
        partial = "%s.%d.tmp" % (entry, os.getpid())
        with open(partial, "wb") as out:
            marshal.dump(code, out)
        os.replace(partial, entry)
    except OSError:
        pass
    return code


if _CACHE and _COMPILE is not None:
    zipimport._compile_source = _cached_compile  # pylint: disable=protected-access
