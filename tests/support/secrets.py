"""Recognise private key material in text, to prove that logs never carry it."""

import base64
import pathlib


def key_fragments(folder):
    """Recognisable pieces of every ``*.key`` file under a folder: PEM body lines and the
    start of the file's base64 (how a Secret's data or a slurp result would show it)."""
    fragments = set()
    for key_file in pathlib.Path(folder).rglob("*.key"):
        text = key_file.read_text()
        fragments.add(base64.b64encode(text.encode()).decode()[:64])
        fragments.update(line for line in text.splitlines()[1:-1] if len(line) >= 40)
    return fragments


def leaked_key_material(output, folder):
    """The fragments of the folder's keys that appear in ``output`` (an empty list is good)."""
    return sorted(fragment for fragment in key_fragments(folder) if fragment in output)
