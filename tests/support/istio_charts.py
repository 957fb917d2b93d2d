"""Which Helm values the upstream Istio charts declare, for charts without a values.schema.json.

Istio's base, istiod, istio-cni and ztunnel charts ship no schema, so Helm accepts any key and a
misspelt one is silently ignored. Values built by the collection are held to the keys the
chart's values.yaml declares (``../shared/upstream/istio-1.30.3/charts``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools


from tests.support.upstream import upstream_dir
from tests.emulators import fast_yaml

# Keys whose value is an API of its own, not a chart value: istiod's meshConfig is Istio's
# MeshConfig (values.yaml holds one example key of it). istiod's ``pilot`` section is the chart's
# values one level down, the spelling of Istio's own profiles (helm-profiles/profile-ambient.yaml
# sets pilot.env) and of the collection's istiod values since 0.1.0; the keys below it are
# checked against the chart's root.
FREE_FORM = {"istiod": ("meshConfig",)}
ALIASES_OF_ROOT = {"istiod": ("pilot",)}
CHART_FOLDERS = {"base": "base", "istiod": "istio-control/istio-discovery", "cni": "istio-cni",
                 "ztunnel": "ztunnel"}


@functools.lru_cache(maxsize=None)
def chart_defaults(chart):
    """The keys a chart's values.yaml declares; Istio keeps them under _internal_defaults_do_not_set."""
    with (upstream_dir() / "istio-1.30.3" / "charts" / CHART_FOLDERS[chart] / "values.yaml").open() as stream:
        values = fast_yaml.safe_load(stream)
    return values.get("_internal_defaults_do_not_set", values)


def unknown_keys(chart, values, known=None, path=()):
    """Dotted paths of ``values`` that the chart's values.yaml does not declare.

    An empty map in values.yaml (``env: {}``, ``podLabels: {}``) takes any key, as the chart's
    templates range over it."""
    root = chart_defaults(chart)
    known = root if known is None else known
    found = []
    for key, value in values.items():
        where = path + (key,)
        if not path and key in FREE_FORM.get(chart, ()):
            continue
        if not path and key in ALIASES_OF_ROOT.get(chart, ()):
            found.extend(unknown_keys(chart, value, root, where))
            continue
        if key not in known:
            found.append(".".join(where))
        elif isinstance(value, dict) and isinstance(known[key], dict) and known[key]:
            found.extend(unknown_keys(chart, value, known[key], where))
    return found
