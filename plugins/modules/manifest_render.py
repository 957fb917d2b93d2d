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
  - Writes one object per file under I(dest)/I(component)/ as C(<namespace>.<kind>.<name>.yaml),
    each Helm release as C(helm-<release>.release.yaml) (chart, version, repository, namespace) and
    C(helm-<release>.values.yaml), a C(kustomization.yaml) listing the component's objects, and an
    C(INDEX.md) in I(dest) describing every component.
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
  prune:
    description: Remove YAML files of the component folder that are not part of the desired state.
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
  - Secrets rendered by this module hold key material. Keep the render folder out of version
    control or encrypt those files (for example with SOPS) before committing.
"""

EXAMPLES = r"""
- name: Render the CA issuer of this cluster
  certmesh.istio.manifest_render:
    dest: out/dev/cluster1
    component: mesh_ca
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
index:
  description: Path of the render folder's INDEX.md.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certmesh.istio.plugins.module_utils import render


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
            prune=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if render.yaml is None:
        module.fail_json(msg=missing_required_lib("PyYAML"))

    dest = os.path.abspath(module.params["dest"])
    component = module.params["component"]
    problems = [render.component_problem(component)]
    problems += [render.validate_object(obj, component) for obj in module.params["objects"]]
    for problem in problems:
        if problem:
            module.fail_json(msg="cannot render into %s: %s" % (dest, problem))
    try:
        # Refused before the component is written, so a bad path leaves the folder as it was.
        render.check_path(dest, os.path.join(dest, render.INDEX_NAME))
        changes, diffs = render.sync_component(
            dest,
            component,
            module.params["objects"],
            module.params["helm_releases"],
            check_mode=module.check_mode,
            prune=module.params["prune"],
        )
        index_change = render.sync_index(dest, check_mode=module.check_mode)
    except render.RenderPathError as exc:
        module.fail_json(msg="cannot render into %s (component %s): %s" % (dest, component, exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the render folder %s (component %s): %s" % (dest, component, exc))
    if index_change:
        changes.append(index_change)
    result = dict(changed=bool(changes), files=changes, index=os.path.join(dest, render.INDEX_NAME))
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
