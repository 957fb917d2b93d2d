# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault as the mesh CA, part 4 of 4: check, then write. The one entry point is :func:`run_setup`.

1. Vault reachable and unsealed, the token valid (lookup-self): ``vault.check_usable``.
2. Every capability the run may read with, and (once planned) every capability of every planned
   write, asked of Vault in one ``sys/capabilities-self`` call: all that is missing is named in
   one message, and nothing has been written yet.
3. The plan's writes, in order. When one fails, the message says what failed, on which path, and
   what this run had already written; after a 403 the token is looked up again, so a token revoked
   mid-run is named as such, and the capabilities of the remaining writes are asked again, so every
   missing one is named. The plan's order makes the re-run continue where this one stopped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.vault import (
    VaultError,
    VaultPermissionError,
    check_usable,
    recheck_token,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_capabilities import (
    capability_message,
    granted_capabilities,
    missing_capabilities,
    read_needs,
    required_rules,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import (
    VaultCapabilityError,
    VaultSetupInterrupted,
)
from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_plan import plan_setup

NOTHING_WRITTEN = 'Nothing was written to Vault in this run.'


def run_setup(session, desired, params, check_mode=False):
    """Bring Vault to ``desired`` (module arguments ``params``); return the :class:`Plan` carried out.

    In check mode the plan is returned unapplied; a capability a real run would lack is a warning."""
    check_usable(session)
    rules = required_rules(params)
    granted = granted_capabilities(session, [path for path, _caps in rules])
    if granted is not None:
        lacking_reads = missing_capabilities(granted, read_needs(params))
        if lacking_reads:
            # planning cannot start without its reads; name every other missing capability too
            raise VaultCapabilityError('%s %s' % (capability_message(session, missing_capabilities(granted, rules),
                                                                     'this run'), NOTHING_WRITTEN),
                                       missing_capabilities(granted, rules))
    try:
        plan = plan_setup(session, desired)
    except VaultPermissionError:
        recheck_token(session)  # a token revoked since the check is named as such
        raise
    lacking = _lacking_for(session, granted, plan.needs())
    if lacking:
        message = capability_message(session, lacking, 'this run')
        if check_mode:
            plan.warnings.append('a real run would fail: %s' % message)
        else:
            raise VaultCapabilityError('%s %s' % (message, NOTHING_WRITTEN), lacking)
    if not check_mode:
        apply_plan(session, plan)
    return plan


def _lacking_for(session, granted, needs):
    if granted is None:
        return []
    unknown = [path for path, _caps in needs if path not in granted]
    if unknown:
        granted = dict(granted, **(granted_capabilities(session, unknown) or {}))
    return missing_capabilities(granted, needs)


def apply_plan(session, plan):
    """Run the plan's writes in order; on a failure raise VaultSetupInterrupted listing what was written."""
    written = []
    for index, step in enumerate(plan.steps):
        try:
            step.action(session, plan.context)
        except VaultError as exc:
            cause = _explain_denial(session, plan.steps[index:], exc) if isinstance(exc, VaultPermissionError) else exc
            raise _interrupted(session, cause, written, 'stopped at write %d of %d, %s (%s)'
                               % (index + 1, len(plan.steps), step.description, step.path))
        written.append(step.description)
    for read_back in plan.after_apply:
        try:
            read_back(session, plan.context)
        except VaultError as exc:
            raise _interrupted(session, exc, written, 'stopped reading back what was written')


def _explain_denial(session, remaining_steps, exc):
    """A 403 mid-run: a token that stopped working, or capabilities taken away since the check."""
    try:
        recheck_token(session)
    except VaultError as token_problem:
        return token_problem
    granted = granted_capabilities(session, [step.path for step in remaining_steps])
    if not granted:
        return exc
    lacking = missing_capabilities(granted, [(step.path, step.capabilities) for step in remaining_steps])
    if not lacking:
        return exc
    return VaultCapabilityError(capability_message(session, lacking, 'the rest of this run'), lacking)


def _interrupted(session, cause, written, where):
    if written:
        done = ('Already written to Vault at %s in this run, in order: %s. Re-run when the problem is fixed: the '
                'set-up continues from what is there (an intermediate key left without its certificate is reused, '
                'not generated again).' % (session.where, '; '.join(written)))
    else:
        done = NOTHING_WRITTEN
    message = '%s: %s. %s' % (where, str(cause).rstrip('.'), done)
    return VaultSetupInterrupted(message, cause=cause, written=written)
