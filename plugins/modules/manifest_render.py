#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: manifest_render
short_description: Write Kubernetes objects and Helm releases to a folder (the render sink)
version_added: 0.1.0
description:
  - The render half of certmesh.istio's sink. Roles describe their desired state once (a list of
    Kubernetes objects and Helm releases); in apply mode it goes to the cluster through
    C(kubernetes.core), in render mode this module writes it to files for GitOps.
  - Writes one object per file under I(dest)/I(component)/ as C(<namespace>.<kind>.<name>.yaml)
    with a C(kustomization.yaml) listing them, and each Helm release as what the GitOps I(engine)
    reads - kustomize C(helmCharts) in I(component)/helm/, Flux C(HelmRepository) and
    C(HelmRelease) in I(component)/helm/, or an Argo CD C(Application) in argocd/apps/I(component)/.
  - Key-bearing I(secret_objects) go to I(dest)/secrets/I(component)/, which (with I(dest)/pki/)
    the written C(.gitignore) keeps out of Git; everything else in I(dest) is meant for Git.
  - After each component it rebuilds the cluster-wide files from I(dest) - a C(namespaces)
    component for every namespace no rendered object creates, the engine's entry point
    (C(kustomization.yaml); C(flux/) Kustomizations chained with C(dependsOn); C(argocd/) with an
    app-of-apps and sync waves) in install order - and C(INDEX.md) (apply order, what each engine
    object points at, the not-for-Git part); with I(summary_dir), also the environment's INDEX.md
    and C(.gitignore).
  - Files of C(Secret) objects are created with mode 0600 and their content never appears in diffs.
  - Files in the component folder that are no longer desired are removed (I(prune)).
  - Values are written by a YAML dumper, each as one scalar that reads back byte for byte,
    whatever it holds (newlines, colons, quotes, C({{), C(../), non-ASCII).
  - Every file stays inside I(dest) - object and release names are slugged into one file name -
    and nothing is read or written through a symlink. A component that is not a plain folder name,
    a symlink on the way, or two objects that would share a file are refused before anything is
    written, naming the path.
author:
  - certmesh developers (@certmesh)
options:
  dest:
    description: Render folder of one cluster, for example C(out/prod/eu-west-1).
    type: path
    required: true
  component:
    description:
      - Sub-folder for this part of the desired state, usually the role name.
      - One plain folder name - letters, digits, C(_), C(-) and C(.), starting with a letter or digit.
    type: str
    required: true
  objects:
    description: Kubernetes objects (mappings with apiVersion, kind and metadata.name).
    type: list
    elements: dict
    default: []
  helm_releases:
    description: Helm releases to describe.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Release name.
        type: str
        required: true
      namespace:
        description: Release namespace.
        type: str
        required: true
      chart:
        description: Chart name in the repository.
        type: str
        required: true
      version:
        description: Chart version.
        type: str
      repo:
        description: Chart repository URL.
        type: str
      create_namespace:
        description: Whether the install creates the namespace.
        type: bool
        default: true
      values:
        description: Helm values.
        type: dict
        default: {}
  secret_objects:
    description: Kubernetes objects holding key material, written to the not-for-Git part, mode 0600.
    type: list
    elements: dict
    default: []
  engine:
    description: GitOps engine the tree is written for.
    type: str
    choices: [kustomize, flux, argocd]
    default: kustomize
  cluster:
    description: Cluster name, prefixed to Argo CD Application names (they share the C(argocd) namespace).
    type: str
    default: ""
  git:
    description: Where the engine objects say the cluster folder is (Flux and Argo CD read it from Git).
    type: dict
    default: {}
    suboptions:
      repo_url:
        description: Git repository URL the render folder is committed to (Argo CD C(repoURL)).
        type: str
        default: https://git.example.com/platform/mesh.git
      revision:
        description: Branch, tag or commit Argo CD syncs (C(targetRevision)).
        type: str
        default: HEAD
      path:
        description: Path of I(dest) inside the repository, without a leading C(./).
        type: str
        default: ""
      flux_source:
        description: Name of the Flux C(GitRepository) in C(flux-system) holding the repository.
        type: str
        default: flux-system
      argocd_project:
        description: Argo CD project of the Applications.
        type: str
        default: default
      argocd_server:
        description: Argo CD destination server of the Applications.
        type: str
        default: https://kubernetes.default.svc
  summary_dir:
    description: Folder over every cluster of the environment (the parent of I(dest)); gets INDEX.md and C(.gitignore).
    type: path
  prune:
    description: Remove YAML files of the component's folders that are not part of the desired state.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reports what would be written or removed; writes nothing.
  diff_mode:
    support: full
    description: Shows file contents before and after, except for Secrets.
notes:
  - I(secret_objects) hold key material. They are written under C(secrets/), which the written
    C(.gitignore) keeps out of Git; get them to the cluster with apply mode (see docs/render-mode.md).
"""

EXAMPLES = r"""
- name: Render the CA issuer of this cluster
  certmesh.istio.manifest_render:
    dest: out/dev/cluster1
    component: mesh_ca
    engine: flux
    git:
      path: clusters/dev/cluster1
    objects:
      - apiVersion: cert-manager.io/v1
        kind: ClusterIssuer
        metadata:
          name: istio-ca
        spec:
          ca:
            secretName: istio-ca-key-pair
"""

RETURN = r"""
files:
  description: Every file this call wrote, would write, or removed, with the action taken.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "out/dev/cluster1/mesh_ca/clusterissuer.istio-ca.yaml", "action": "created"}]
engine:
  description: The GitOps engine the tree was written for.
  returned: always
  type: str
  sample: flux
index:
  description: Path of the render folder's INDEX.md.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import render, render_cluster

GIT_OPTIONS = dict((name, dict(type="str", default=value)) for name, value in render.DEFAULT_GIT.items())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            component=dict(type="str", required=True),
            objects=dict(type="list", elements="dict", default=[]),
            helm_releases=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    namespace=dict(type="str", required=True),
                    chart=dict(type="str", required=True),
                    version=dict(type="str"),
                    repo=dict(type="str"),
                    create_namespace=dict(type="bool", default=True),
                    values=dict(type="dict", default={}),
                ),
            ),
            secret_objects=dict(type="list", elements="dict", default=[], no_log=True),
            engine=dict(type="str", choices=["kustomize", "flux", "argocd"], default="kustomize"),
            cluster=dict(type="str", default=""),
            git=dict(type="dict", default={}, options=GIT_OPTIONS),
            summary_dir=dict(type="path"),
            prune=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if render.yaml is None:
        module.fail_json(msg=missing_required_lib("PyYAML"))

    dest = os.path.abspath(module.params["dest"])
    summary_dir = os.path.abspath(module.params["summary_dir"]) if module.params["summary_dir"] else None
    engine = module.params["engine"]
    git = dict(render.DEFAULT_GIT, **dict((k, v) for k, v in (module.params["git"] or {}).items() if v is not None))
    component = module.params["component"]
    problem = render_cluster.input_problem(component, module.params["objects"] + module.params["secret_objects"])
    if problem:
        module.fail_json(msg="cannot render into %s: %s" % (dest, problem))
    try:
        # A bad path is refused before the component is written, so the folder stays as it was.
        changes, diffs = render_cluster.sync_render(
            dest, component, module.params["objects"], module.params["helm_releases"], engine,
            module.params["secret_objects"], module.params["cluster"], git, summary_dir,
            prune=module.params["prune"], check_mode=module.check_mode)
    except render.RenderPathError as exc:
        module.fail_json(msg="cannot render into %s (component %s): %s" % (dest, component, exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the render folder %s (component %s): %s" % (dest, component, exc))
    result = dict(changed=bool(changes), files=changes, index=os.path.join(dest, render.INDEX_NAME), engine=engine)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
