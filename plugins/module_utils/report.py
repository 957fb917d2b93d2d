# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one rotation result (``{certificates, summary, at}``) as JSON, JUnit XML, Markdown
and HTML with an inline SVG expiry timeline, for AWX artefacts and CI test reports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.certmesh.istio.plugins.module_utils import pki

FORMATS = ("json", "junit", "markdown", "html")
EXTENSIONS = {"json": ".json", "junit": ".junit.xml", "markdown": ".md", "html": ".html"}
FAILING = ("critical", "expired", "invalid")
COLOURS = {"ok": "#2e7d32", "renew_soon": "#f9a825", "critical": "#e65100",
           "expired": "#b71c1c", "invalid": "#6a1b9a"}
TIMELINE_ROWS = 60


def _label(entry):
    parts = [entry.get("cluster"), entry.get("namespace"), entry.get("name")]
    label = "/".join(part for part in parts if part)
    if entry.get("key"):
        label += " [%s]" % entry["key"]
    return label or entry.get("path") or "certificate"


def by_expiry(entries):
    """Entries sorted soonest first; ones without a date (invalid) first of all."""
    return sorted(entries, key=lambda e: (e.get("not_after") is not None, e.get("not_after") or "",
                                          _label(e)))


def to_json(result):
    return json.dumps(result, indent=2, sort_keys=True, default=str) + "\n"


def to_junit(result, suite="certmesh.istio.rotation_check"):
    """One testcase per certificate; critical, expired and invalid ones are failures."""
    entries = by_expiry(result["certificates"])
    failures = sum(1 for e in entries if e["status"] in FAILING)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites name=%s tests="%d" failures="%d">' % (quoteattr(suite), len(entries), failures),
             '  <testsuite name=%s tests="%d" failures="%d" errors="0" skipped="0" timestamp=%s>'
             % (quoteattr(suite), len(entries), failures, quoteattr(result.get("at") or ""))]
    for entry in entries:
        classname = ".".join(part for part in (entry.get("cluster") or "local", entry.get("source"),
                                               entry.get("namespace")) if part)
        name = "%s %s" % (_label(entry), entry.get("subject") or "")
        lines.append("    <testcase classname=%s name=%s time=\"0\">" % (quoteattr(classname), quoteattr(name.strip())))
        detail = "status: %s\nnot_after: %s\nserial: %s\nreason: %s" % (
            entry["status"], entry.get("not_after"), entry.get("serial"), entry.get("reason"))
        if entry["status"] in FAILING:
            lines.append("      <failure type=%s message=%s>%s</failure>" % (
                quoteattr(entry["status"]), quoteattr(entry.get("reason") or entry["status"]), escape(detail)))
        else:
            lines.append("      <system-out>%s</system-out>" % escape(detail))
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def _md_cell(value):
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _counts_line(summary):
    counts = summary["counts"]
    return ", ".join("%s: %d" % (status, counts[status]) for status in counts)


def to_markdown(result, timeline_file=None):
    """A summary, the expiry timeline (as a linked SVG file) and a table sorted by expiry."""
    summary = result["summary"]
    lines = ["# Certificate rotation report", "",
             "Evaluated at %s. %d certificates: %s." % (result.get("at"), summary["total"], _counts_line(summary)), ""]
    soonest = summary.get("soonest")
    if soonest:
        lines += ["Soonest expiry: **%s** (%s) at %s, in %s." % (
            _md_cell(soonest.get("name") or soonest.get("subject")), soonest["status"],
            soonest["not_after"], pki.format_duration(soonest["seconds_left"])), ""]
    if timeline_file:
        lines += ["![Expiry timeline](%s)" % timeline_file, ""]
    lines += ["| Status | Expires (UTC) | Left | Where | Subject | Serial | Reason |",
              "|---|---|---|---|---|---|---|"]
    for entry in by_expiry(result["certificates"]):
        left = pki.format_duration(entry["seconds_left"]) if entry.get("seconds_left") is not None else ""
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % tuple(_md_cell(v) for v in (
            entry["status"], entry.get("not_after"), left, _label(entry), entry.get("subject"),
            entry.get("serial"), entry.get("reason"))))
    return "\n".join(lines) + "\n"


_TICKS = ((3600, "1h"), (86400, "1d"), (7 * 86400, "7d"), (30 * 86400, "30d"),
          (90 * 86400, "90d"), (365 * 86400, "1y"), (5 * 365 * 86400, "5y"), (10 * 365 * 86400, "10y"))


def _log_scale(seconds):
    """Symmetric log of a time offset from now, in hours: mesh certificates (hours), gateway
    certificates (months) and roots (years) all stay visible on one axis."""
    return math.copysign(math.log10(1.0 + abs(seconds) / 3600.0), seconds)


def timeline_svg(result, rows=TIMELINE_ROWS):
    """Horizontal bars from not_before to not_after for the ``rows`` soonest-expiring
    certificates, coloured by status, on a logarithmic time axis centred on the evaluation
    time (ticks at 1h, 1d, 7d, 30d, 90d, 1y... before and after it)."""
    entries = [e for e in by_expiry(result["certificates"]) if e.get("not_after")][:rows]
    width, left_margin, row_height, top = 960, 320, 18, 34
    height = top + row_height * max(len(entries), 1) + 30
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11" role="img" aria-label="Certificate expiry timeline">' % (width, height),
           '<title>Certificate expiry timeline (%d soonest of %d, logarithmic time axis)</title>'
           % (len(entries), len(result["certificates"]))]
    if not entries:
        out.append('<text x="10" y="20">No certificate with a validity period.</text></svg>')
        return "\n".join(out)
    at = pki.parse_time(result.get("at"))
    offsets = [((pki.parse_time(e["not_before"]) - at).total_seconds(),
                (pki.parse_time(e["not_after"]) - at).total_seconds()) for e in entries]
    # The past reaches back to the start of the expired certificates shown (or one hour); the
    # old not_before dates of long-lived roots would otherwise take half of the picture.
    low = _log_scale(min([start for start, end in offsets if end <= 0] + [-3600.0]))
    high = _log_scale(max([end for _start, end in offsets] + [3600.0]))
    plot = width - left_margin - 20

    def x_of(seconds):
        fraction = (_log_scale(seconds) - low) / max(high - low, 1e-9)
        return left_margin + max(0.0, min(1.0, fraction)) * plot

    for seconds, label in [(-s, "-" + t) for s, t in reversed(_TICKS)] + [(0, "now")] + list(_TICKS):
        if low <= _log_scale(seconds) <= high:
            x = x_of(seconds)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, top - 8, x, height - 24))
            out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>' % (x, top - 12, label))
    for number, (entry, (start, end)) in enumerate(zip(entries, offsets)):
        y = top + number * row_height
        label = _label(entry)
        if len(label) > 48:
            label = "..." + label[-45:]
        x0, x1 = x_of(start), x_of(end)
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left_margin - 6, y + 12, escape(label)))
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>' % (
            x0, y + 2, max(x1 - x0, 2.0), row_height - 4, COLOURS.get(entry["status"], "#555"),
            escape("%s: %s, expires %s" % (label, entry["status"], entry["not_after"]))))
    now_x = x_of(0)
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-dasharray="4 3"/>'
               % (now_x, top - 8, now_x, height - 24))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">now (%s)</text>' % (now_x, height - 10, escape(pki.iso(at))))
    out.append("</svg>")
    return "\n".join(out)


def to_html(result):
    summary = result["summary"]
    rows = []
    for entry in by_expiry(result["certificates"]):
        left = pki.format_duration(entry["seconds_left"]) if entry.get("seconds_left") is not None else ""
        rows.append("<tr class=%s>%s</tr>" % (quoteattr(entry["status"]), "".join(
            "<td>%s</td>" % escape(str(v if v is not None else "")) for v in (
                entry["status"], entry.get("not_after"), left, _label(entry), entry.get("subject"),
                entry.get("serial"), entry.get("reason")))))
    style = " ".join("tr.%s td:first-child{color:%s;font-weight:bold}" % (s, c) for s, c in COLOURS.items())
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Certificate rotation report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;font-size:13px}%s</style>" % style,
        "</head><body>", "<h1>Certificate rotation report</h1>",
        "<p>Evaluated at %s. %d certificates: %s.</p>" % (escape(str(result.get("at"))), summary["total"],
                                                          escape(_counts_line(summary))),
        "<h2>Expiry timeline</h2>", timeline_svg(result),
        "<h2>Certificates by expiry</h2>",
        "<table><thead><tr><th>Status</th><th>Expires (UTC)</th><th>Left</th><th>Where</th>"
        "<th>Subject</th><th>Serial</th><th>Reason</th></tr></thead><tbody>",
        "\n".join(rows), "</tbody></table>", "</body></html>", ""])


def write(result, dest, formats=FORMATS, basename="rotation-check"):
    """Write the chosen formats to folder ``dest``; returns ``{format: path}``. Markdown gets
    its timeline as a sibling ``<basename>-timeline.svg``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError("unknown report format(s) %s; choose from %s" % (", ".join(unknown), ", ".join(FORMATS)))
    if not os.path.isdir(dest):
        os.makedirs(dest)
    written = {}
    for fmt in formats:
        path = os.path.join(dest, basename + EXTENSIONS[fmt])
        if fmt == "json":
            text = to_json(result)
        elif fmt == "junit":
            text = to_junit(result)
        elif fmt == "html":
            text = to_html(result)
        else:
            svg_name = basename + "-timeline.svg"
            _write_text(os.path.join(dest, svg_name), timeline_svg(result))
            written["timeline"] = os.path.join(dest, svg_name)
            text = to_markdown(result, timeline_file=svg_name)
        _write_text(path, text)
        written[fmt] = path
    return written


def _write_text(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
