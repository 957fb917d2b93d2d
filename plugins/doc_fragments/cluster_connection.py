# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """How certmesh.istio's cluster-reading modules reach a Kubernetes API server.

    The modules take kubernetes.core's connection options as they are (its AUTH_ARG_SPEC), so
    this fragment documents the same option names, types and aliases. It lives here rather than
    being borrowed with ``kubernetes.core.k8s_auth_options`` because ansible-doc (and so Galaxy,
    Automation Hub and galaxy-importer, which do not install dependencies) must render our
    modules' docs with only this collection installed. A unit test compares it with the
    installed kubernetes.core fragment, so the two cannot drift apart unnoticed.
    """

    DOCUMENTATION = r"""
options:
  host:
    description:
      - URL of the Kubernetes API server.
      - Defaults to the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token for the API server.
      - Defaults to the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  kubeconfig:
    description:
      - Kubeconfig file to read, or the kubeconfig itself as a dictionary.
      - Several files can be given separated by V(:) (V(;) on Windows).
      - Defaults to the E(K8S_AUTH_KUBECONFIG) environment variable; when no connection option
        is set at all, the Kubernetes client reads C(~/.kube/config).
    type: raw
  context:
    description:
      - Context of the kubeconfig to use.
      - Defaults to the E(K8S_AUTH_CONTEXT) environment variable, then to the kubeconfig's
        current context.
    type: str
  username:
    description:
      - User name for HTTP basic authentication (only for API servers that allow it).
      - Defaults to the E(K8S_AUTH_USERNAME) environment variable.
    type: str
  password:
    description:
      - Password for HTTP basic authentication, used with O(username).
      - Defaults to the E(K8S_AUTH_PASSWORD) environment variable.
    type: str
  client_cert:
    description:
      - Client certificate file to authenticate with.
      - Defaults to the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Private key file of O(client_cert).
      - Defaults to the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  ca_cert:
    description:
      - CA bundle (the full chain) to verify the API server's certificate.
      - Defaults to the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Verify the API server's TLS certificate.
      - Defaults to the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - HTTP proxy URL for the connection (E(HTTP_PROXY) and friends are not read).
      - Defaults to the E(K8S_AUTH_PROXY) environment variable.
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains, IP addresses or CIDRs that bypass O(proxy).
      - Defaults to the E(K8S_AUTH_NO_PROXY) environment variable.
    type: str
  proxy_headers:
    description: Headers sent to O(proxy).
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - V(user:password) for the proxy's basic authentication.
          - Defaults to the E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH) environment variable.
        type: str
      basic_auth:
        description:
          - V(user:password) for a basic authentication header.
          - Defaults to the E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) environment variable.
        type: str
      user_agent:
        description:
          - User-Agent header value.
          - Defaults to the E(K8S_AUTH_PROXY_HEADERS_USER_AGENT) environment variable.
        type: str
  persist_config:
    description:
      - Write refreshed tokens (OIDC, cloud provider plugins) back to the kubeconfig file.
      - Defaults to the E(K8S_AUTH_PERSIST_CONFIG) environment variable, else false.
    type: bool
  impersonate_user:
    description:
      - User to impersonate for every request.
      - Defaults to the E(K8S_AUTH_IMPERSONATE_USER) environment variable.
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate for every request.
      - Defaults to the E(K8S_AUTH_IMPERSONATE_GROUPS) environment variable (comma-separated).
    type: list
    elements: str
notes:
  - These are kubernetes.core's connection options (as for M(kubernetes.core.k8s)); set them
    once for every cluster-reading module with C(module_defaults) and the
    C(group/certmesh.istio.cluster) action group.
"""
