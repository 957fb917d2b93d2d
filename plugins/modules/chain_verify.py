#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: chain_verify
short_description: Verify mesh certificate chains against trusted roots
version_added: 0.1.0
description:
  - Verifies one or more certificate chains with RFC 5280 path validation (the C(cryptography)
    library's verifier) plus the checks a mesh needs on top of it - SPIFFE X.509-SVID rules,
    trust domain, gateway DNS names, key strength and remaining lifetime.
  - Reports every problem found, each with a stable C(code) - C(expired), C(not_yet_valid),
    C(untrusted), C(not_a_ca), C(path_length_exceeded), C(key_usage), C(spiffe_id_invalid),
    C(trust_domain_mismatch), C(dns_name_mismatch), C(weak_key), C(expires_soon),
    C(malformed), C(key_usage_missing), C(name_constraint_violation). See
    docs/modules/chain_verify.md for their meaning and likely fixes.
  - URI name constraints on intermediates (SPIFFE X.509-SVID 4.2), which the C(cryptography)
    verifier refuses, are evaluated per RFC 5280 4.2.1.10 - the host part of the SPIFFE ID
    against the constraint, a leading period meaning subdomains.
  - Reads chains from PEM text, files, or the C(tls.crt)/C(ca.crt) keys of a Kubernetes TLS
    Secret through kubernetes.core's client, configured with the same connection options as
    M(kubernetes.core.k8s).
  - Never changes anything.
author:
  - certmesh developers (@certmesh)
requirements:
  - cryptography >= 43.0
  - kubernetes (only to read Secrets)
extends_documentation_fragment:
  - certmesh.istio.cluster_connection
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  chain:
    description:
      - The chain to verify - PEM text, the path of a PEM file, or a list of either, with the
        leaf first and then its intermediates. A file or text may hold several certificates.
      - One of O(chain), O(secret) or O(chains) is required.
    type: raw
  secret:
    description:
      - Read the chain from a Kubernetes TLS Secret - C(tls.crt) is the chain (leaf first),
        C(ca.crt), when present, is added as intermediates, or used as the trusted roots when
        O(roots) is not given.
      - Connection options given here override the module-level ones (kubeconfig, context...).
    type: dict
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      name:
        description: Name of the Secret.
        type: str
        required: true
      kubeconfig:
        description: Kubeconfig path or dict for this Secret's cluster.
        type: raw
      context:
        description: Kubeconfig context for this Secret's cluster.
        type: str
      host:
        description: API server URL for this Secret's cluster.
        type: str
      api_key:
        description: Bearer token for this Secret's cluster.
        type: str
      validate_certs:
        description: Whether to verify the API server's certificate.
        type: bool
  chains:
    description:
      - Several chains in one task. Each item takes O(chain) or O(secret), and may override
        O(purpose), O(trust_domain) and O(dns_names); O(chains[].name) labels it in the results.
    type: list
    elements: dict
    suboptions:
      name:
        description: A label for this chain in RV(results) and in problem messages.
        type: str
      chain:
        description: As the top-level O(chain).
        type: raw
      secret:
        description:
          - As the top-level O(secret) (keys C(namespace), C(name), C(kubeconfig), C(context),
            C(host), C(api_key), C(validate_certs)).
        type: dict
      purpose:
        description: As the top-level O(purpose).
        type: str
        choices: [workload, gateway, ca]
      trust_domain:
        description: As the top-level O(trust_domain).
        type: str
      dns_names:
        description: As the top-level O(dns_names).
        type: list
        elements: str
  roots:
    description:
      - The trusted roots - PEM text, a file path, or a list of either. A bundle may hold
        several roots, as during a root rotation.
      - Required unless the chain comes from a O(secret) whose C(ca.crt) is to be trusted.
    type: raw
  purpose:
    description:
      - V(workload) - a SPIFFE X.509-SVID - exactly one URI SAN
        C(spiffe://<trust domain>/ns/<namespace>/sa/<service account>), not a CA,
        digitalSignature, serverAuth and clientAuth when an EKU is present.
      - V(gateway) - a TLS server certificate - DNS SANs, serverAuth, not a CA.
      - V(ca) - the chain ends in a CA certificate, such as the istio-csr intermediate.
    type: str
    choices: [workload, gateway, ca]
    default: workload
  trust_domain:
    description: Expected trust domain of workload SPIFFE IDs, for example C(cluster.local).
    type: str
  dns_names:
    description: Host names a gateway certificate must cover (wildcard SANs count).
    type: list
    elements: str
  at:
    description: ISO 8601 time to evaluate at, for example C(2026-12-01T00:00:00Z). Default now.
    type: str
  min_remaining:
    description:
      - Report C(expires_soon) for a certificate with less time left, for example C(24h),
        C(30m), C(90d) or C(2160h).
    type: str
  fail_on_invalid:
    description: Fail the task, listing every problem, when a chain is not valid.
    type: bool
    default: true
notes:
  - cryptography's verifier follows the web PKI; the module relaxes rules where mesh
    certificates legitimately differ (empty subjects, no authority key identifier, serverAuth-only
    leaves, non-critical basicConstraints) and reports the rules that matter as named problems.
  - Issuer keys must be RSA or ECDSA P-256/P-384/P-521 for the path validator; other issuer key
    algorithms give C(untrusted).
seealso:
  - module: certmesh.istio.rotation_check
  - plugin: certmesh.istio.x509_info
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Verify a workload SVID chain against the mesh root
  certmesh.istio.chain_verify:
    chain: /etc/certs/cert-chain.pem
    roots: /etc/certs/root-cert.pem
    trust_domain: cluster.local

- name: Verify the ingress gateway certificate served from a cert-manager Secret
  certmesh.istio.chain_verify:
    secret:
      namespace: istio-ingress
      name: shop-example-com-tls
      context: east
    roots: "{{ lookup('ansible.builtin.file', 'pki/root-cert.pem') }}"
    purpose: gateway
    dns_names: [shop.example.com]
    min_remaining: 720h

- name: Check the istio-csr intermediate and two gateway chains, without failing
  certmesh.istio.chain_verify:
    roots: [pki/root-cert.pem, pki/next-root-cert.pem]
    fail_on_invalid: false
    chains:
      - name: istio-csr issuer
        chain: pki/istio-csr-ca.pem
        purpose: ca
      - name: shop gateway
        secret: {namespace: istio-ingress, name: shop-tls}
        purpose: gateway
  register: verification

- name: Show the problem codes
  ansible.builtin.debug:
    msg: "{{ verification.problems | map(attribute='code') | list }}"
"""

RETURN = r"""
valid:
  description: Whether every chain verified without a problem.
  returned: always
  type: bool
  sample: false
problems:
  description:
    - Every problem found, across all chains. C(input) names the chain when several are given.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: Stable problem code (see the module description).
      type: str
      sample: expired
    message:
      description: What is wrong, naming the input and suggesting the fix.
      type: str
      sample: expired at 2026-11-24T08:00:00Z (1d ago)
    subject:
      description: Subject of the certificate concerned (or its first SAN when the subject is empty).
      type: str
      sample: CN=certmesh cluster intermediate
    serial:
      description: Serial number of the certificate concerned, in hexadecimal.
      type: str
      sample: 5A3F09
    input:
      description: Label of the chain (O(chains[].name) or C(chains[N])).
      type: str
      sample: shop gateway
chain:
  description:
    - One summary per certificate of the (first) chain, from the leaf to the trust anchor,
      followed by supplied certificates that are not on the path.
  returned: always
  type: list
  elements: dict
  sample:
    - subject: ""
      issuer: CN=certmesh cluster intermediate
      serial: 2C1CD1A22182C0F29782D372F660A9EC9812E17C
      not_before: "2026-11-25T04:04:31Z"
      not_after: "2026-11-26T04:04:31Z"
      seconds_left: 82799
      lifetime_seconds: 86400
      is_ca: false
      path_length: null
      key_type: EC
      key_size: 256
      key_curve: secp256r1
      sans: ["URI:spiffe://cluster.local/ns/shop/sa/frontend"]
      dns_names: []
      uris: ["spiffe://cluster.local/ns/shop/sa/frontend"]
      spiffe_id: spiffe://cluster.local/ns/shop/sa/frontend
      key_usage: [digitalSignature, keyEncipherment]
      extended_key_usage: [serverAuth, clientAuth]
      fingerprint_sha256: "46:6C:...:21"
      self_signed: false
results:
  description: One entry per chain - C(name), C(valid), C(problems), C(chain) as above.
  returned: always
  type: list
  elements: dict
"""

import base64
import copy

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import pki
from ansible_collections.certmesh.istio.plugins.module_utils import chain as chain_checks
from ansible_collections.certmesh.istio.plugins.module_utils import kube
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

PURPOSES = ["workload", "gateway", "ca"]
SECRET_AUTH_KEYS = ("kubeconfig", "context", "host", "api_key", "validate_certs")


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    secret_options = dict(
        namespace=dict(type="str", required=True),
        name=dict(type="str", required=True),
        kubeconfig=dict(type="raw", no_log=True),
        context=dict(type="str"),
        host=dict(type="str"),
        api_key=dict(type="str", no_log=True),
        validate_certs=dict(type="bool"),
    )
    spec.update(
        chain=dict(type="raw"),
        # A reference to a Secret (namespace and name), not secret material itself.
        secret=dict(type="dict", options=secret_options, no_log=False),
        chains=dict(type="list", elements="dict", options=dict(
            name=dict(type="str"),
            chain=dict(type="raw"),
            secret=dict(type="dict", no_log=False),
            purpose=dict(type="str", choices=PURPOSES),
            trust_domain=dict(type="str"),
            dns_names=dict(type="list", elements="str"),
        )),
        roots=dict(type="raw"),
        purpose=dict(type="str", choices=PURPOSES, default="workload"),
        trust_domain=dict(type="str"),
        dns_names=dict(type="list", elements="str"),
        at=dict(type="str"),
        min_remaining=dict(type="str"),
        fail_on_invalid=dict(type="bool", default=True),
    )
    return spec


def _auth(params, override=None):
    auth = dict((key, params.get(key)) for key in AUTH_ARG_SPEC if params.get(key) is not None)
    for key in SECRET_AUTH_KEYS:
        if override and override.get(key) is not None:
            auth[key] = override[key]
    return auth


def _secret_chain(module, secret, clients):
    """``(tls.crt bytes, ca.crt bytes or None, label)`` of a TLS Secret."""
    for key in ("namespace", "name"):
        if not secret.get(key):
            raise kube.KubeError("secret needs '%s'" % key)
    auth = _auth(module.params, secret)
    ident = repr(sorted((k, repr(v)) for k, v in auth.items()))
    if ident not in clients:
        clients[ident] = kube.api_client(auth)
    found = kube.read_secret(clients[ident], secret["namespace"], secret["name"])
    data = found.get("data") or {}
    label = "Secret %s/%s" % (secret["namespace"], secret["name"])
    if not data.get("tls.crt"):
        raise kube.KubeError("%s has no tls.crt (type %s)" % (label, found.get("type")))
    tls = base64.b64decode(data["tls.crt"])
    ca = base64.b64decode(data["ca.crt"]) if data.get("ca.crt") else None
    return tls, ca, label


def _option(name, parse, value):
    """``parse(value)``, with a refusal naming the option (parsers raise ValueError only)."""
    try:
        return parse(value)
    except (ValueError, OverflowError) as exc:
        raise ValueError("%s: %s" % (name, exc))


def run(module):
    params = module.params
    at = _option("at", pki.parse_time, params["at"])
    min_remaining = (_option("min_remaining", pki.parse_duration, params["min_remaining"])
                     if params["min_remaining"] else None)
    items = list(params["chains"] or [])
    if params["chain"] is not None or params["secret"] is not None:
        items.insert(0, {"name": None, "chain": params["chain"], "secret": params["secret"]})
    if not items:
        module.fail_json(msg="give the chain to verify in 'chain', 'secret' or 'chains'")

    store = None
    if params["roots"] is not None:
        try:
            store = chain_checks.load_store(params["roots"], "roots")
        except pki.MalformedInput as exc:
            problem = chain_checks.problem("malformed", str(exc))
            return {"valid": False, "problems": [problem], "chain": [], "results": []}

    clients = {}
    own_stores = {}
    results = []
    for number, item in enumerate(items):
        label = item.get("name") or ("chain" if len(items) == 1 else "chains[%d]" % number)
        if item.get("chain") is not None and item.get("secret") is not None:
            module.fail_json(msg="%s: give either 'chain' or 'secret', not both" % label)
        chain_store = store
        chain_value = item.get("chain")
        problems = []
        if item.get("secret") is not None:
            if not kube_available():
                module.fail_json(msg=missing_required_lib("kubernetes"))
            try:
                tls, ca, origin = _secret_chain(module, item["secret"], clients)
                label = item.get("name") or origin
                chain_value = [tls] + ([ca] if ca and store is not None else [])
                if store is None:
                    if ca is None:
                        raise kube.KubeError("%s has no ca.crt; give the trusted roots in 'roots'" % origin)
                    # One trust store (and its verifiers) per distinct ca.crt: a namespace of
                    # Secrets from one issuer shares it.
                    chain_store = own_stores.get(ca)
                    if chain_store is None:
                        chain_store = own_stores[ca] = chain_checks.load_store(ca, "%s ca.crt" % origin)
                    module.warn("%s: no 'roots' given, so its own ca.crt is trusted" % origin)
            except kube.KubeError as exc:
                module.fail_json(msg="cannot read the chain of %s: %s" % (label, exc))
            except pki.MalformedInput as exc:
                problems.append(chain_checks.problem("malformed", str(exc)))
        elif chain_value is None:
            module.fail_json(msg="%s: give 'chain' or 'secret'" % label)
        if chain_store is None and not problems:
            module.fail_json(msg="give the trusted roots in 'roots'")
        if problems:
            result = {"valid": False, "problems": problems, "chain": []}
        else:
            result = chain_checks.check(
                chain_value, chain_store, purpose=item.get("purpose") or params["purpose"],
                trust_domain=item.get("trust_domain") or params["trust_domain"],
                dns_names=item.get("dns_names") or params["dns_names"], at=at,
                min_remaining=min_remaining, origin=label)
        result["name"] = label
        for found in result["problems"]:
            found["input"] = label
        results.append(result)
    return {
        "valid": all(result["valid"] for result in results),
        "problems": [found for result in results for found in result["problems"]],
        "chain": results[0]["chain"],
        "results": results,
    }


def kube_available():
    try:
        import kubernetes  # noqa: F401 pylint: disable=unused-import
        return True
    except ImportError:
        return False


def failure_message(result):
    lines = ["chain verification found %d problem(s):" % len(result["problems"])]
    for found in result["problems"]:
        where = "%s " % found["input"] if found.get("input") else ""
        lines.append("[%s] %s%s: %s" % (found["code"], where, found.get("subject") or "-", found["message"]))
    return "\n".join(lines)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("chain", "secret")],
    )
    kube.reveal_kubeconfig_paths(module)
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    try:
        result = run(module)
    except ValueError as exc:  # at, min_remaining, purpose: wrong argument values
        module.fail_json(msg=str(exc))
    if module.params["fail_on_invalid"] and not result["valid"]:
        module.fail_json(msg=failure_message(result), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
