"""The istio role installs the ingress gateway chart unless gateway_certs_api is gateway-api, where
Istio deploys the gateway of each Gateway of class istio itself; an explicit value wins."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

DEFAULTS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "istio" / "defaults" / "main.yml"


def _enabled(**inventory):
    default = yaml.safe_load(DEFAULTS.read_text())["istio_ingress_gateway_enabled"]
    variables = dict(inventory)
    variables.setdefault("istio_ingress_gateway_enabled", default)
    loader = DataLoader()
    try:
        from ansible.template import trust_as_template  # pylint: disable=import-outside-toplevel  # 2.19: trusted templates only
        variables = dict((k, trust_as_template(v) if isinstance(v, str) else v) for k, v in variables.items())
    except ImportError:
        pass
    return Templar(loader=loader, variables=variables).template(variables["istio_ingress_gateway_enabled"])


@pytest.mark.parametrize("inventory, installed", [
    ({}, True),
    ({"gateway_certs_api": "istio"}, True),
    ({"gateway_certs_api": "gateway-api"}, False),
    ({"gateway_certs_api": "gateway-api", "istio_ingress_gateway_enabled": True}, True),
    ({"gateway_certs_api": "istio", "istio_ingress_gateway_enabled": False}, False),
])
def test_the_gateway_chart_is_installed_unless_gateway_api_serves_the_gateway(inventory, installed):
    assert _enabled(**inventory) is installed
