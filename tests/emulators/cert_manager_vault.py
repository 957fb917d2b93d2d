# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in, for the test tier only, for cert-manager's vault issuer, signing through the Vault emulator.

``CertManagerVaultStandIn`` extends ``CertManagerCAStandIn`` (CA and self-signed issuers, istio-csr
trust publishing keep working) with ``Issuer``/``ClusterIssuer`` objects that have ``spec.vault``.
Use it *instead of* the CA stand-in (one controller must own the issuer status)::

    vault = VaultEmulator(); vault.start()
    api = KubeAPIEmulator(controllers=[CertManagerVaultStandIn(vault)])

What it does, like cert-manager v1.21's vault issuer:

* Issuer readiness (``Ready=True``, reason ``VaultVerified``, message ``Vault verified``) once it
  can "log in" and Vault is unsealed; ``Ready=False``, reason ``VaultError``, with a message
  naming the cause otherwise.
* Certificates: a CSR from the Certificate's key with its SANs (``dnsNames``, ``uris``,
  ``ipAddresses``) and ``commonName`` (none when absent, as istio-csr sends), POSTed to
  ``<spec.vault.server>/v1/<spec.vault.path>`` with ``ttl`` = ``spec.duration`` and
  ``exclude_cn_from_sans``; the ``kubernetes.io/tls`` Secret gets ``tls.crt`` = the signed
  certificate followed by Vault's ``ca_chain``, ``ca.crt`` = the last certificate of that
  chain (the root). Vault refusing the request gives ``Ready=False``, reason ``Failed``, with
  Vault's error text.

Kubernetes-auth login is **not** emulated end to end (the Vault emulator does not review service
account tokens). The stand-in instead checks what a login would check and what cert-manager needs
in the cluster, then mints a token with the auth role's policies through the emulator:

* ``auth.kubernetes.serviceAccountRef``: the ServiceAccount exists in the cluster resource
  namespace, and a RoleBinding there grants the cert-manager controller's ServiceAccount
  (``cert-manager``) ``create`` on ``serviceaccounts/token`` for it (cert-manager's documented
  RBAC); the token's audience is ``vault://<name>`` (ClusterIssuer) or
  ``vault://<namespace>/<name>`` (Issuer), plus ``audiences``.
* ``auth.kubernetes.secretRef``: the Secret exists and names its ServiceAccount in the
  ``kubernetes.io/service-account.name`` annotation; no audience.
* The auth role ``auth/<mountPath>/role/<role>`` exists in Vault (in ``spec.vault.namespace``),
  binds that ServiceAccount and namespace, and its ``audience`` (if set) is among the token's.

Other auth kinds (``tokenSecretRef``, ``appRole``, client certificates) are ``Ready=False``,
reason ``NotSupportedByStandIn``. ``caBundle`` is decoded and must be PEM, but the emulator
serves plain HTTP so it is not used. Not done either: Vault sealed later than the issuer became
Ready is only noticed at the next signing; renewals over time; ``serverName``.
"""

import base64
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from tests.emulators.cert_manager_ca import CM_API, CertManagerCAStandIn, _condition

_RBAC = "rbac.authorization.k8s.io/v1"


class VaultIssuerError(Exception):
    """Vault or the issuer's auth configuration refused; the message is what cert-manager would report."""


class _VaultMaterial(tuple):
    """``(intermediate, None, chain_pem, root_pem)`` plus where and how to sign."""

    issuer = None
    token = None


class CertManagerVaultStandIn(CertManagerCAStandIn):
    """cert-manager's CA/self-signed stand-in plus vault issuers that sign through the Vault emulator."""

    def __init__(self, vault, cluster_resource_namespace="cert-manager", controller_service_account="cert-manager"):
        super().__init__(cluster_resource_namespace)
        self.vault = vault
        self.controller_service_account = controller_service_account

    # ----- event dispatch -----------------------------------------------------------------------
    def observe(self, emulator, event_type, obj):
        super().observe(emulator, event_type, obj)
        if obj.get("apiVersion") in ("v1", _RBAC) and obj.get("kind") in ("ServiceAccount", "Secret", "Role", "RoleBinding"):
            for kind in ("ClusterIssuer", "Issuer"):
                if emulator.resource_type(CM_API, kind):
                    for issuer in emulator.list(CM_API, kind):
                        if "vault" in (issuer.get("spec") or {}):
                            self._reconcile_issuer(emulator, issuer)

    # ----- issuers ------------------------------------------------------------------------------
    def _issuer_key_pair(self, emulator, issuer):
        spec = issuer.get("spec") or {}
        if "vault" not in spec:
            return super()._issuer_key_pair(emulator, issuer)
        try:
            material = self._vault_material(emulator, issuer)
        except VaultIssuerError as error:
            reason = "NotSupportedByStandIn" if str(error).startswith("the test stand-in") else "VaultError"
            return False, reason, str(error), None
        return True, "VaultVerified", "Vault verified", material

    def _reconcile_issuer(self, emulator, issuer):
        if "vault" not in (issuer.get("spec") or {}):
            super()._reconcile_issuer(emulator, issuer)
            return
        ok, reason, message, _material = self._issuer_key_pair(emulator, issuer)
        conditions = [_condition("Ready", "True" if ok else "False", reason, message,
                                 (issuer.get("status") or {}).get("conditions"), issuer["metadata"].get("generation"))]
        if (issuer.get("status") or {}).get("conditions") != conditions:
            emulator.apply({"apiVersion": issuer["apiVersion"], "kind": issuer["kind"],
                            "metadata": {k: v for k, v in issuer["metadata"].items() if k in ("name", "namespace")},
                            "status": {"conditions": conditions}}, manager="cert-manager-issuers", subresource="status")
        self._reconcile_certificates_of(emulator, issuer["kind"], issuer["metadata"]["name"],
                                        issuer["metadata"].get("namespace"))

    def _vault_material(self, emulator, issuer):
        vault = issuer["spec"]["vault"]
        if vault.get("caBundle"):
            try:
                x509.load_pem_x509_certificates(base64.b64decode(vault["caBundle"]))
            except ValueError as error:
                raise VaultIssuerError("error initializing Vault client: caBundle does not hold PEM certificates: %s" % error)
        token = self._login(emulator, issuer)
        mount = vault["path"].split("/sign/")[0] if "/sign/" in vault["path"] else vault["path"].rsplit("/", 2)[0]
        answer = self._call(vault, "GET", "%s/cert/ca_chain" % mount.strip("/"), None, token=self.vault.root_token)
        chain_text = ((answer or {}).get("data") or {}).get("ca_chain") or ""
        try:
            chain = x509.load_pem_x509_certificates(chain_text.encode())
        except ValueError:
            raise VaultIssuerError("the Vault PKI mount %s/ has no CA certificate: run certmesh.istio.vault_pki" % mount)
        material = _VaultMaterial((chain[0], None, "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain).encode(),
                                   chain[-1].public_bytes(serialization.Encoding.PEM)))
        material.issuer = issuer
        material.token = token
        return material

    def _service_account_of(self, emulator, issuer, auth):
        namespace = issuer["metadata"].get("namespace") or self._resource_namespace(emulator)
        if "serviceAccountRef" in auth:
            name = auth["serviceAccountRef"]["name"]
            if emulator.get("v1", "ServiceAccount", name, namespace) is None:
                raise VaultIssuerError('while requesting a token for the service account %s/%s: serviceaccounts "%s" not found'
                                       % (namespace, name, name))
            if not self._may_create_token(emulator, namespace, name):
                raise VaultIssuerError(
                    'while requesting a token for the service account %s/%s: serviceaccounts "%s" is forbidden: User '
                    '"system:serviceaccount:%s:%s" cannot create resource "serviceaccounts/token" in API group "" in the '
                    'namespace "%s"' % (namespace, name, name, self.cluster_resource_namespace,
                                        self.controller_service_account, namespace))
            if issuer["kind"] == "ClusterIssuer":
                audiences = ["vault://%s" % issuer["metadata"]["name"]]
            else:
                audiences = ["vault://%s/%s" % (namespace, issuer["metadata"]["name"])]
            return namespace, name, audiences + list(auth["serviceAccountRef"].get("audiences") or [])
        if "secretRef" in auth:
            secret = emulator.get("v1", "Secret", auth["secretRef"]["name"], namespace)
            if secret is None:
                raise VaultIssuerError('error reading Kubernetes service account token from %s: secret "%s" not found'
                                       % (auth["secretRef"]["name"], auth["secretRef"]["name"]))
            name = (secret["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name")
            if not name:
                raise VaultIssuerError("Secret %s/%s is not a service account token (no kubernetes.io/service-account.name "
                                       "annotation)" % (namespace, auth["secretRef"]["name"]))
            return namespace, name, []
        raise VaultIssuerError("auth.kubernetes needs serviceAccountRef or secretRef")

    def _may_create_token(self, emulator, namespace, service_account):
        for binding in emulator.list(_RBAC, "RoleBinding", namespace):
            subjects = binding.get("subjects") or []
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == self.controller_service_account
                       and s.get("namespace", namespace) == self.cluster_resource_namespace for s in subjects):
                continue
            ref = binding.get("roleRef") or {}
            role = emulator.get(_RBAC, ref.get("kind", "Role"), ref.get("name"), namespace if ref.get("kind") == "Role" else None)
            for rule in (role or {}).get("rules") or []:
                if ("" in (rule.get("apiGroups") or []) and "serviceaccounts/token" in (rule.get("resources") or [])
                        and "create" in (rule.get("verbs") or [])
                        and (not rule.get("resourceNames") or service_account in rule["resourceNames"])):
                    return True
        return False

    def _login(self, emulator, issuer):
        """What a Kubernetes-auth login checks, then a token with the auth role's policies."""
        vault = issuer["spec"]["vault"]
        auth = (vault.get("auth") or {}).get("kubernetes")
        if auth is None:
            raise VaultIssuerError("the test stand-in only implements auth.kubernetes for vault issuers")
        namespace, service_account, audiences = self._service_account_of(emulator, issuer, auth)
        mount = (auth.get("mountPath") or "/v1/auth/kubernetes")
        mount = mount[len("/v1/"):] if mount.startswith("/v1/") else mount.strip("/")
        role = self._call(vault, "GET", "%s/role/%s" % (mount.strip("/"), auth["role"]), None, token=self.vault.root_token)
        data = (role or {}).get("data")
        if not data:
            raise VaultIssuerError('while requesting a Vault token using the Kubernetes auth: error calling Vault server: '
                                   'Error making API request. URL: POST %s/v1/%s/login Code: 400. Errors: * invalid role '
                                   'name "%s"' % (vault["server"], mount, auth["role"]))
        names, namespaces = data.get("bound_service_account_names") or [], data.get("bound_service_account_namespaces") or []
        if not ("*" in names or service_account in names) or not ("*" in namespaces or namespace in namespaces):
            raise VaultIssuerError('while requesting a Vault token using the Kubernetes auth: Code: 403. Errors: * service '
                                   'account name not authorized (%s/%s is not bound by role %s)'
                                   % (namespace, service_account, auth["role"]))
        if data.get("audience") and data["audience"] not in audiences:
            raise VaultIssuerError('while requesting a Vault token using the Kubernetes auth: Code: 403. Errors: * invalid '
                                   'audience (aud) claim: audience claim does not match any expected audience (token has '
                                   '%s, role expects "%s")' % (audiences or "none", data["audience"]))
        return self.vault.create_token(list(data.get("token_policies") or []), vault.get("namespace") or "")

    def _call(self, vault, method, path, body, token):
        headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        if vault.get("namespace"):
            headers["X-Vault-Namespace"] = vault["namespace"]
        request = urllib.request.Request("%s/v1/%s" % (vault["server"].rstrip("/"), urllib.parse.quote(path)),
                                         data=json.dumps(body).encode() if body is not None else None,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            answer = json.loads(error.read() or b"{}")
            if error.code == 404 and method == "GET":
                return None
            raise VaultIssuerError("Error making API request. URL: %s %s/v1/%s Code: %d. Errors: * %s"
                                   % (method, vault["server"], path, error.code, "; ".join(answer.get("errors") or [])))
        except (urllib.error.URLError, OSError) as error:
            raise VaultIssuerError("error calling Vault server %s: %s" % (vault["server"], error))

    # ----- certificates --------------------------------------------------------------------------
    def _reconcile_certificate(self, emulator, cert):
        try:
            super()._reconcile_certificate(emulator, cert)
        except VaultIssuerError as error:
            self._not_ready(emulator, cert, "Failed", "The certificate request has failed to complete and will be "
                            "retried: Vault failed to sign certificate: %s" % error)

    def _sign(self, spec, key, material, duration):
        if not isinstance(material, _VaultMaterial):
            return super()._sign(spec, key, material, duration)
        sans = [x509.DNSName(n) for n in spec.get("dnsNames") or []]
        sans += [x509.UniformResourceIdentifier(u) for u in spec.get("uris") or []]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.get("ipAddresses") or []]
        builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, spec["commonName"])] if spec.get("commonName") else []))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=not spec.get("commonName"))
        algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        csr = builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()
        body = {"csr": csr, "ttl": "%ds" % int(duration), "exclude_cn_from_sans": True}
        if spec.get("commonName"):
            body["common_name"] = spec["commonName"]
        vault = material.issuer["spec"]["vault"]
        answer = self._call(vault, "POST", vault["path"].strip("/"), body, token=material.token)
        data = answer["data"]
        leaf_pem = data["certificate"].strip() + "\n"
        chain = [c.strip() + "\n" for c in data.get("ca_chain") or [data["issuing_ca"]]]
        leaf = x509.load_pem_x509_certificate(leaf_pem.encode())
        return leaf, (leaf_pem + "".join(chain)).encode(), chain[-1].encode()
