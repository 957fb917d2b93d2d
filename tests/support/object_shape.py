"""The shape of a document (its paths of keys and list positions) and the text it carries.

Used by the tests that prove no user value changes an object's structure: two documents have the
same shape when they have the same keys at the same places and lists of the same lengths.
"""


def key_paths(document, prefix=()):
    """Every path of mapping keys and list positions in document: its shape, without the values."""
    paths = set()
    if isinstance(document, dict):
        children = document.items()
    elif isinstance(document, list):
        children = enumerate(document)
    else:
        return paths
    for key, value in children:
        paths.add(prefix + (key,))
        paths |= key_paths(value, prefix + (key,))
    return paths


def string_scalars(document):
    """Every string value of document (mapping keys excluded)."""
    if isinstance(document, dict):
        for value in document.values():
            yield from string_scalars(value)
    elif isinstance(document, list):
        for value in document:
            yield from string_scalars(value)
    elif isinstance(document, str):
        yield document


def carries(document, text):
    """True when one string value of document holds text whole (not spread over several)."""
    return any(text in value for value in string_scalars(document))
