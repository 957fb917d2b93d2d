# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the Vault set-up, apart from the connection errors in ``vault.py``.

``VaultPkiInputError`` is raised before Vault is contacted; ``VaultSetupInterrupted`` carries what
a run had already written when Vault refused a later write, so the operator reads both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.certmesh.istio.plugins.module_utils.vault import VaultError


class VaultPkiInputError(ValueError):
    """The module arguments cannot describe a valid Vault setup."""


class VaultCapabilityError(VaultError):
    """The token lacks capabilities the run needs; ``missing`` is [(path, [capability, ...])]."""

    def __init__(self, message, missing=None):
        super(VaultCapabilityError, self).__init__(message)
        self.missing = list(missing or [])


class VaultSetupInterrupted(VaultError):
    """A write failed after others had succeeded; ``written`` lists them, in order."""

    def __init__(self, message, cause=None, written=None):
        super(VaultSetupInterrupted, self).__init__(message)
        self.cause = cause
        self.written = list(written or [])
