# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins whose code is imported only when a template calls one of them.

To resolve any one collection filter, ansible-core's Jinja2 plugin loader imports every filter
file of the collection, and it does so again in every worker process (a fresh fork per task),
compiling each file and the module_utils it imports from source. With the module_utils imported
when a filter file loads, that was about a sixth of the CPU of a no-op site.yml run. The filter
files import only this module when they load; ``module`` and ``function`` import the rest when a
filter runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

_PACKAGE = "ansible_collections.certmesh.istio.plugins.module_utils."


def module(name):
    """The collection's module_utils module ``name``, imported on first use."""
    return importlib.import_module(_PACKAGE + name)


def function(module_name, name):
    """A filter function that imports ``module_name`` (module_utils) only when it is called."""
    def call(*args, **kwargs):
        return getattr(module(module_name), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = "%s.%s, imported when called (module_utils/lazy_filters.py)." % (module_name, name)
    return call
