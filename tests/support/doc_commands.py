"""The shell commands of the user docs (``sh`` code blocks), for the tests that keep them true."""

import pathlib
import re
import shlex

from tests.support.playbook import REPO_ROOT

_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.M | re.S)
_SEPARATORS = ("&&", "||", ";", "&", "|")


def doc_pages():
    """Markdown pages meant for users (the checkout's, not the venv's or the build's)."""
    pages = [REPO_ROOT / "README.md"] + sorted((REPO_ROOT / "docs").glob("**/*.md"))
    pages += sorted((REPO_ROOT / "roles").glob("*/README.md")) + [REPO_ROOT / "bench" / "README.md"]
    return [page for page in pages if page.is_file()]


def shell_blocks(page):
    """The text of each ``sh`` block of a page, in order."""
    return [match.group(1) for match in _BLOCK.finditer(pathlib.Path(page).read_text(encoding="utf-8"))]


def commands(block):
    """Each command of a block as a token list: continuation lines joined, comments dropped,
    split at ``&&``, ``;``, ``&`` and pipes."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            tokens = line.split()
        current = []
        for token in tokens:
            if token in _SEPARATORS:
                if current:
                    out.append(current)
                current = []
            elif token.endswith(";") and token != ";":
                current.append(token[:-1])
                out.append(current)
                current = []
            else:
                current.append(token)
        if current:
            out.append(current)
    return out
