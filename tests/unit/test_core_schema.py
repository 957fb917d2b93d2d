"""tests/support/core_schema.py: built-in objects checked as kubectl --validate=strict does."""

import pytest

from tests.support import core_schema

SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
          "metadata": {"name": "istio-ca", "namespace": "cert-manager", "labels": {"app": "mesh"}},
          "data": {"tls.crt": "aGVsbG8=", "tls.key": "aGVsbG8="}}


def test_a_plain_tls_secret_and_a_labelled_namespace_are_accepted():
    assert core_schema.errors(SECRET) == []
    assert core_schema.errors({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": "apps", "labels": {"istio.io/dataplane-mode": "ambient"}}}) == []


@pytest.mark.parametrize("change, expected", [
    ({"metadata": {"name": "x", "lables": {}}}, 'unknown field "metadata.lables"'),
    ({"data": {"tls.crt": "not base64!"}}, "data[tls.crt]: illegal base64 data"),
    ({"immutable": "true"}, "immutable: expected boolean, got string"),
    ({"stringData": {"a": 1}}, "stringData[a]: expected string, got integer"),
    ({"spec": {}}, 'unknown field "spec"'),
])
def test_unknown_fields_and_wrong_types_are_named_by_their_path(change, expected):
    assert expected in core_schema.errors(dict(SECRET, **change))


def test_nested_models_and_lists_are_walked():
    container = {"name": "c", "imagePullPolicy": "Always", "ports": [{"containerPort": 80, "protcol": "TCP"}]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"replicas": "2", "selector": {"matchLabels": {"a": "b"}},
                           "template": {"spec": {"containers": [container]}}}}
    assert core_schema.errors(deployment) == [
        "spec.replicas: expected integer, got string",
        'unknown field "spec.template.spec.containers[0].ports[0].protcol"']


def test_a_kind_the_api_does_not_build_in_is_reported_not_guessed():
    assert core_schema.model_for("gateway.networking.k8s.io/v1", "Gateway") is None
    assert core_schema.errors({"apiVersion": "v1", "kind": "Gateway"}) == ['no built-in kind Gateway in version "v1"']
    assert core_schema.errors("a string") == ["not an object"]
