"""Run galaxy-importer on a freshly built tarball, offline, and judge its result as Galaxy would
show it: the import completes with no error, and every plugin has docs (Galaxy renders a plugin
page from ``doc_strings``; an ansible-doc failure leaves them empty for all plugins at once).

    python scripts/galaxy_import_check.py IMPORTER_PYTHON WORK_DIR

IMPORTER_PYTHON is the python of a venv holding galaxy-importer and ansible-core only (scripts/setup
builds .build/venvs/galaxy-importer), so no dependency collection is there, as on Galaxy.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "galaxy_importer.cfg"
UNDOCUMENTED_TYPES = {"doc_fragments", "module_utils", "playbook", "role"}


def build(work):
    galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path", str(work), str(ROOT)],
                   check=True, stdout=subprocess.DEVNULL)
    return next(work.glob("certmesh-istio-*.tar.gz"))


def run_importer(python, tarball, work):
    env = {"PATH": "%s:/usr/bin:/bin" % pathlib.Path(python).parent, "HOME": str(work / "home"),
           "GALAXY_IMPORTER_CONFIG": str(CONFIG), "TMPDIR": str(work), "LANG": "C.UTF-8",
           "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local")}
    for name in ("PIP_CERT", "PIP_FIND_LINKS"):  # the importer runs no pip, but keep the machine's settings
        if name in os.environ:
            env[name] = os.environ[name]
    (work / "home").mkdir(exist_ok=True)
    result = subprocess.run([python, "-m", "galaxy_importer.main", str(tarball)], cwd=str(work), env=env,
                            capture_output=True, text=True, check=False, timeout=1200)
    return result, json.loads((work / "importer_result.json").read_text()) if (work / "importer_result.json").exists() else None


def problems(result, report):
    found = []
    log = (result.stdout + result.stderr).splitlines()
    if result.returncode != 0 or "Importer processing completed successfully" not in result.stdout + result.stderr:
        found.append("galaxy-importer did not complete (rc=%s)" % result.returncode)
    found += [line for line in log if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line]
    if report is None:
        return found + ["no importer_result.json"]
    documented = 0
    modules = {content["content_name"] for content in report["docs_blob"]["contents"]
               if content["content_type"] == "module"}
    for content in report["docs_blob"]["contents"]:
        kind, name = content["content_type"], content["content_name"]
        if kind in UNDOCUMENTED_TYPES:
            continue
        if kind == "action" and name in modules:
            continue  # an action plugin is documented by the module of the same name (Ansible's convention)
        doc = (content.get("doc_strings") or {}).get("doc") or {}
        if not (doc.get("short_description") and doc.get("description")):
            found.append("%s %s has no docs in the importer result" % (kind, name))
        elif kind == "module" and not doc.get("options"):
            found.append("module %s has no documented options" % name)
        else:
            documented += 1
    if not documented:
        found.append("no documented plugin in the importer result")
    for content in report["contents"]:
        if content["content_type"] == "role" and not content.get("description"):
            found.append("role %s has no description" % content["name"])
    return found


def main(argv):
    python, work = argv[0], pathlib.Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    result, report = run_importer(python, build(work), work)
    print(result.stdout + result.stderr)
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("WARNING: ")
                and "is ignored: it is neither a file nor a directory" not in line]
    found = problems(result, report)
    print("galaxy-importer: %d warning(s) (kept as Galaxy would show them)" % len(warnings))
    for line in found:
        print("ERROR: " + line)
    if report is not None:
        modules = [c["content_name"] for c in report["docs_blob"]["contents"] if c["content_type"] == "module"]
        print("galaxy-importer: documented modules: %s" % ", ".join(sorted(modules)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
