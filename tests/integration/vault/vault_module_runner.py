"""Running certmesh.istio's Vault modules in-process against the Vault API emulator: the same
AnsibleModule code path as a playbook task, without the subprocess cost. Shared by the Vault tests."""

import contextlib
import datetime
import io
import json
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

JWT = 'eyJhbGciOiJSUzI1NiJ9.reviewer-secret-claims.c2lnbmF0dXJl'


def module_args(vault, **extra):
    args = dict(url=vault.url, token=vault.root_token, trust_domain='cluster.local', ca_key_type='ec',
                kubernetes_auth=dict(host='https://kubernetes.default.svc:443', token_reviewer_jwt=JWT,
                                     ca_cert=KUBE_CA_PEM))
    args.update(extra)
    return args


def _kube_ca_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'kubernetes')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    # as users paste it: indented, without the trailing newline
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


KUBE_CA_PEM = _kube_ca_pem()


def run_module(module, args, check_mode=False):
    out = io.StringIO()
    args = dict(args, _ansible_check_mode=check_mode)
    # Once controller code is imported in this process (the filter tests do), ansible-core 2.19
    # prints module warnings instead of returning them; a module never runs on the controller.
    with patch_module_args(args), contextlib.redirect_stdout(out), \
            mock.patch.object(module_utils_internal, 'is_controller', False):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(out.getvalue())
