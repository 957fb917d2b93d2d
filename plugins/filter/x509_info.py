# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation: x509_info.yml beside this file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.certmesh.istio.plugins.module_utils import lazy_filters


def x509_info(pem, all=False, at=None):  # pylint: disable=redefined-builtin
    """PEM text to the certificate summary chain_verify returns (a list with ``all=true``)."""
    pki = lazy_filters.module("pki")
    if not pki.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("certmesh.istio.x509_info needs the Python library cryptography "
                                 "on the controller: %s" % to_native(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    if not isinstance(pem, (str, bytes)):
        raise AnsibleFilterError("certmesh.istio.x509_info expects PEM text, got %s" % type(pem).__name__)
    try:
        moment = pki.parse_time(at)
        certs = pki.load_pem_certificates(pem, "x509_info input")
    except (pki.MalformedInput, ValueError) as exc:
        raise AnsibleFilterError("certmesh.istio.x509_info: %s" % to_native(exc))
    summaries = [pki.summary(item.cert, moment) for item in certs]
    return summaries if all else summaries[0]


class FilterModule(object):
    def filters(self):
        return {"x509_info": x509_info}
