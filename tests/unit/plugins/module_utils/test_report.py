"""Reports: JSON, JUnit XML, Markdown and HTML from one rotation result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import expiry, report
from tests.support.pki_factory import MeshPKI, days, make_workload_svid, now


@pytest.fixture(scope="module")
def result():
    mesh = MeshPKI()
    expired = make_workload_svid(mesh.intermediate, not_before=now() - days(2), lifetime=days(1))
    records = [
        expiry.record(mesh.root.cert, "configmap", "istio-ca-root-cert", "east", "shop", "root-cert.pem"),
        expiry.record(mesh.gateway.cert, "certificate", "shop|gw", "east", "istio-ingress", "tls.crt"),
        expiry.record(expired.cert, "secret", "old-svid", "west", "shop", "tls.crt"),
        expiry.broken("cluster west, Secret shop/broken, key tls.crt: <not PEM>", "secret", "broken", "west", "shop"),
    ]
    return expiry.rotation_result(records)


def test_json_round_trips_the_result(result):
    assert json.loads(report.to_json(result)) == json.loads(json.dumps(result))


def test_junit_has_one_testcase_per_certificate_and_fails_expired_and_invalid(result):
    root = ET.fromstring(report.to_junit(result))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 4 and suite.get("tests") == "4" and suite.get("failures") == "2"
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert any("old-svid" in name for name in failed) and any("broken" in name for name in failed)
    assert all(case.find("system-out") is not None for case in cases if case.find("failure") is None)


def test_markdown_table_is_sorted_by_expiry_and_escapes_pipes(result):
    text = report.to_markdown(result, timeline_file="t.svg")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split("|")[1].strip() for row in rows] == ["invalid", "expired", "ok", "ok"]
    assert "shop\\|gw" in text and "![Expiry timeline](t.svg)" in text
    assert "Soonest expiry" in text


def test_html_embeds_an_svg_timeline_and_escapes_markup(result):
    text = report.to_html(result)
    assert "<svg" in text and "&lt;not PEM&gt;" in text and "<not PEM>" not in text
    ET.fromstring(report.timeline_svg(result))  # well-formed XML


def test_the_timeline_draws_one_bar_per_dated_certificate(result):
    svg = ET.fromstring(report.timeline_svg(result))
    bars = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(bars) == 3


def test_write_creates_every_requested_format(tmp_path, result):
    written = report.write(result, str(tmp_path / "out"), ["json", "junit", "markdown", "html"])
    assert sorted(written) == ["html", "json", "junit", "markdown", "timeline"]
    for path in written.values():
        assert (tmp_path / "out" / path.split("/")[-1]).read_text()


def test_write_rejects_an_unknown_format(tmp_path, result):
    with pytest.raises(ValueError):
        report.write(result, str(tmp_path), ["pdf"])


def test_an_empty_result_renders(tmp_path):
    empty = expiry.rotation_result([])
    assert "0 certificates" in report.to_markdown(empty)
    ET.fromstring(report.to_junit(empty))
    assert "No certificate" in report.timeline_svg(empty)


def test_the_timeline_keeps_a_24h_svid_visible_beside_a_10_year_root():
    mesh = MeshPKI()
    result = expiry.rotation_result([expiry.record(mesh.workload.cert, "file", "svid"),
                                     expiry.record(mesh.root.cert, "file", "root")])
    svg = ET.fromstring(report.timeline_svg(result))
    widths = [float(rect.get("width")) for rect in svg.findall("{http://www.w3.org/2000/svg}rect")]
    assert len(widths) == 2 and widths[0] > 0.15 * widths[1]
    ticks = [text.text for text in svg.findall("{http://www.w3.org/2000/svg}text")]
    assert "1d" in ticks and "1y" in ticks
