"""Cross-check: on generated chains, ``valid`` agrees with ``openssl verify``.

Only chains where openssl has an opinion are compared: the mesh-only rules (SPIFFE ID, trust
domain, DNS names, key strength, lifetime margin, keyUsage presence on a CA) are kept
satisfied, so both sides judge the same RFC 5280 facts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import subprocess

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import chain
from tests.support.pki_factory import (
    CA_KEY_USAGE, bundle, days, hours, make_cert, make_intermediate, make_key, make_root,
    make_workload_svid, now,
)

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def _cases():
    cases = {}
    for key_type in ("ec", "rsa"):
        root = make_root("xcheck root %s" % key_type, key_type=key_type)
        inter = make_intermediate(root, "xcheck inter %s" % key_type, key_type=key_type, path_length=0)
        leaf = make_workload_svid(inter, key_type=key_type)
        cases["good-%s" % key_type] = (root, [leaf, inter])
    root, inter = make_root("xc root"), None
    inter = make_intermediate(root, "xc inter")
    other_root = make_root("xc root", key=make_key("ec", 384))
    upper = make_intermediate(root, "xc upper", path_length=0)
    lower = make_intermediate(upper, "xc lower")
    not_ca = make_cert("xc not ca", root, is_ca=False, key_usage=CA_KEY_USAGE)
    no_certsign = make_intermediate(root, "xc no certsign", key_usage=("digital_signature", "crl_sign"))
    old_inter = make_intermediate(root, "xc old", not_before=now() - days(30), lifetime=days(10))
    impostor = make_intermediate(root, "xc inter", key=make_key("ec", 384))
    cases.update({
        "expired-leaf": (root, [make_workload_svid(inter, not_before=now() - days(3), lifetime=hours(24)), inter]),
        "future-leaf": (root, [make_workload_svid(inter, not_before=now() + days(1)), inter]),
        "expired-intermediate": (root, [make_workload_svid(old_inter, not_before=now() - days(25), lifetime=days(1)),
                                        old_inter]),
        "wrong-root": (other_root, [make_workload_svid(inter), inter]),
        "missing-intermediate": (root, [make_workload_svid(inter)]),
        "impostor-intermediate": (root, [make_workload_svid(inter), impostor]),
        "issuer-not-ca": (root, [make_workload_svid(not_ca), not_ca]),
        "path-length": (root, [make_workload_svid(lower), lower, upper]),
        "no-keycertsign": (root, [make_workload_svid(no_certsign), no_certsign]),
        "two-levels-ok": (root, [make_workload_svid(make_intermediate(inter, "xc deep")),
                                 make_intermediate(inter, "xc deep"), inter]),
    })
    return cases


CASES = _cases()


def _openssl_ok(tmp_path, root, certs, at):
    root_file = tmp_path / "root.pem"
    root_file.write_text(root.pem)
    leaf_file = tmp_path / "leaf.pem"
    leaf_file.write_text(certs[0].pem)
    command = [OPENSSL, "verify", "-attime", str(int(at.timestamp())), "-CAfile", str(root_file)]
    if len(certs) > 1:
        untrusted = tmp_path / "untrusted.pem"
        untrusted.write_text(bundle(*certs[1:]))
        command += ["-untrusted", str(untrusted)]
    done = subprocess.run(command + [str(leaf_file)], capture_output=True, text=True, check=False)
    return done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_agrees_with_openssl_verify(tmp_path, name):
    root, certs = CASES[name]
    at = now()
    ours = chain.check(bundle(*certs), chain.load_store(root.pem), at=at)
    theirs, output = _openssl_ok(tmp_path, root, certs, at)
    assert ours["valid"] == theirs, (name, ours["problems"], output)


def test_the_cross_check_covers_both_verdicts(tmp_path):
    verdicts = set(_openssl_ok(tmp_path, *CASES[name], now())[0] for name in CASES)
    assert verdicts == {True, False}
