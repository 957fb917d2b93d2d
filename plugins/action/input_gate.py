# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of certmesh.istio.input_gate: every input of every host, checked before any write.

An action plugin because only the controller sees what the gate needs: every inventory host's
variables (``hostvars``), as typed values, and the collection's role defaults and argument
specs on disk. It gathers each host's effective variables (role defaults under the inventory
and extra vars, templated as a play would) and hands them to ``module_utils/input_gate.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.certmesh.istio.plugins.module_utils import input_gate

display = Display()

_ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
_PLAYBOOKS_DIR = os.path.join(os.path.dirname(_ROLES_DIR), "playbooks")
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9_]*\b")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("hosts",))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        self._supports_check_mode = True
        hosts = self._task.args.get("hosts") or task_vars.get("ansible_play_hosts_all") or []
        if not isinstance(hosts, list):
            return dict(result, failed=True, msg="hosts must be a list of inventory host names")

        specs, defaults, internal = self._collection_inputs()
        prefixes = ["certmesh_"] + sorted(role + "_" for role in os.listdir(_ROLES_DIR))
        known = self._known_names(specs, defaults)
        values_by_host, set_by_host, problems = {}, {}, []
        for host in hosts:
            raw = task_vars["hostvars"].raw_get(host)
            names = set(n for n in raw if n.startswith(tuple(prefixes)))
            set_by_host[host] = names
            values, broken = self._effective_values(host, raw, defaults, internal, names | set(specs))
            values_by_host[host] = values
            problems.extend(broken)
            problems.extend(input_gate.check_host(host, values, specs, names))
        problems.extend(input_gate.check_unique(values_by_host))

        for warning in input_gate.unknown_variables(set_by_host, known, prefixes):
            display.warning(warning)
        result.update(changed=False, hosts=list(hosts), checked=len(specs))
        if problems:
            result.update(failed=True, msg=input_gate.refusal(problems))
        return result

    def _collection_inputs(self):
        """(argument spec options, role defaults, role vars) of every role of the collection."""
        specs, defaults, internal = {}, {}, {}
        for role in sorted(os.listdir(_ROLES_DIR)):
            base = os.path.join(_ROLES_DIR, role)
            spec_file = os.path.join(base, "meta", "argument_specs.yml")
            if os.path.isfile(spec_file):
                entry = (self._loader.load_from_file(spec_file) or {}).get("argument_specs", {}).get("main", {})
                specs.update(entry.get("options") or {})
            for folder, target in (("defaults", defaults), ("vars", internal)):
                path = os.path.join(base, folder, "main.yml")
                if os.path.isfile(path):
                    target.update(self._load_role_variables(path) or {})
        return specs, defaults, internal

    def _load_role_variables(self, path):
        """A role's defaults or vars, templatable as Ansible treats them. ansible-core 2.19 marks
        file content untrusted unless asked; 2.16-2.18 have no trust marking (and no keyword)."""
        try:
            return self._loader.load_from_file(path, trusted_as_template=True)
        except TypeError:
            return self._loader.load_from_file(path)

    def _known_names(self, specs, defaults):
        """Every variable name the collection's roles and playbooks mention (set_fact, register...)."""
        known = set(specs) | set(defaults)
        for top in (_ROLES_DIR, _PLAYBOOKS_DIR):
            for folder, _dirs, files in os.walk(top):
                for name in files:
                    if name.endswith((".yml", ".yaml", ".j2")):
                        with open(os.path.join(folder, name), encoding="utf-8") as handle:
                            known.update(_IDENTIFIER.findall(handle.read()))
        return known

    def _effective_values(self, host, raw, defaults, internal, names):
        """A host's variables as a play would see them, templated; and the ones that fail to evaluate."""
        available = dict(defaults)
        available.update(raw)
        available.update(internal)
        templar = self._templar.copy_with_new_env(available_variables=available)
        values, problems = {}, []
        for name in sorted(names):
            if name not in available:
                continue
            try:
                values[name] = templar.template(available[name])
            # Any error while templating comes from the user's input: name it, never a traceback.
            except Exception as exc:  # pylint: disable=broad-except
                message = exc.message if isinstance(exc, AnsibleError) else exc
                problems.append("%s (inventory host %s) could not be evaluated: %s" % (name, host, to_text(message)))
        return values, problems
