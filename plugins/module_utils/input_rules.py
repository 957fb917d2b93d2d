# -*- coding: utf-8 -*-
# Copyright: (c) 2026, certmesh developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules every user input must keep, in one place: names, trust domains, durations, paths.

Pure Python, no Ansible import: the input gate, the filters and the modules call the same
functions, so a value is judged the same way everywhere. Two kinds of function live here:

* checks (``check_<rule>(value)``) return ``None`` when the value keeps the rule, else one
  sentence saying which rule it breaks and how to fix it; the caller adds the variable and
  the inventory host;
* parsers (``*_seconds``) return a number or raise :class:`InputRuleError` (a ``ValueError``),
  and nothing else, for any input: no ``OverflowError``, ``TypeError`` or ``UnicodeError``.

Each duration grammar is named after whoever reads the value, because they differ:

* :func:`go_duration_seconds`: Go's ``time.ParseDuration``, how cert-manager and istio-csr read
  ``duration``, ``renewBefore`` and ``--max-client-certificate-duration`` (no days: 2160h);
* :func:`vault_ttl_seconds`: Vault's ``parseutil.ParseDurationSecond`` (plain seconds, ``<n>d``,
  or a Go duration);
* :func:`extended_duration_seconds`: the collection's own options (``min_remaining``,
  ``drain_period``...), which also accept days and weeks and a plain number of seconds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import math
import re
from fractions import Fraction


class InputRuleError(ValueError):
    """A value that breaks an input rule; the message says which rule and how to fix it."""


def _shown(value, limit=80):
    """A value as the user wrote it, short enough for one error line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# Kubernetes names (k8s.io/apimachinery/pkg/util/validation)

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# Helm refuses release names longer than 53 characters (pkg/chartutil, ValidateReleaseName).
HELM_RELEASE_NAME_MAX = 53


def _is_text(value):
    return isinstance(value, str)


def _full(pattern, value):
    return _is_text(value) and pattern.fullmatch(value) is not None


def check_dns1123_label(value):
    """Namespaces, and any name Kubernetes validates as a DNS-1123 label."""
    if _full(_DNS1123_LABEL, value) and len(value) <= 63:
        return None
    return ("must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
            "ending with a letter or digit, e.g. 'istio-system'): got %s" % _shown(value))


def check_dns1123_subdomain(value):
    """Secret, ConfigMap, Issuer, Certificate and Gateway names."""
    if _full(_DNS1123_SUBDOMAIN, value) and len(value) <= 253:
        return None
    return ("must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' or '.', "
            "each part starting and ending with a letter or digit, e.g. 'istio-ca'): got %s" % _shown(value))


def check_dns1035_label(value):
    """Service names: a DNS-1035 label (starts with a letter)."""
    if _full(_DNS1035_LABEL, value) and len(value) <= 63:
        return None
    return ("must be a DNS-1035 label (at most 63 lowercase letters, digits or '-', starting with a "
            "letter and ending with a letter or digit, e.g. 'cert-manager-istio-csr'): got %s" % _shown(value))


def check_helm_release_name(value):
    """Helm release names: a DNS-1123 subdomain of at most 53 characters."""
    if _full(_DNS1123_SUBDOMAIN, value) and len(value) <= HELM_RELEASE_NAME_MAX:
        return None
    return ("must be a Helm release name (at most 53 lowercase letters, digits, '-' or '.', starting "
            "and ending with a letter or digit, e.g. 'cert-manager'): got %s" % _shown(value))


def check_label_value(value):
    """Kubernetes label values (may be empty)."""
    if _full(_LABEL_VALUE, value) and len(value) <= 63:
        return None
    return ("must be a Kubernetes label value (empty, or at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit): got %s" % _shown(value))


def check_label_key(value):
    """Kubernetes label keys: ``[prefix/]name``, prefix a DNS-1123 subdomain, name a qualified name."""
    if _is_text(value):
        prefix, slash, name = value.rpartition("/")
        prefix_ok = not slash or (_full(_DNS1123_SUBDOMAIN, prefix) and len(prefix) <= 253)
        if prefix_ok and _full(_QUALIFIED_NAME, name) and len(name) <= 63:
            return None
    return ("must be a Kubernetes label key ([prefix/]name, name at most 63 letters, digits, '-', '_' "
            "or '.', prefix a DNS subdomain, e.g. 'app.kubernetes.io/name'): got %s" % _shown(value))


def check_label_selector(value):
    """Equality-based label selectors as the collection writes them: ``key=value[,key=value]``."""
    if _is_text(value) and value:
        for term in value.split(","):
            key, equals, label = term.partition("=")
            label = label[1:] if label.startswith("=") else label
            if not equals or check_label_key(key.strip()) or check_label_value(label.strip()):
                break
        else:
            return None
    return ("must be a label selector of key=value terms separated by ',' "
            "(e.g. 'app.kubernetes.io/managed-by=certmesh.istio'): got %s" % _shown(value))


# --------------------------------------------------------------------------------------------
# SPIFFE (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md, section 2.1)

_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]+")
TRUST_DOMAIN_MAX = 255


def check_spiffe_trust_domain(value):
    """A trust domain holds only lowercase letters, digits, '.', '-' and '_' (SPIFFE-ID 2.1)."""
    if _full(_TRUST_DOMAIN, value) and len(value) <= TRUST_DOMAIN_MAX:
        return None
    return ("must be a SPIFFE trust domain (lowercase letters, digits, '.', '-' and '_' only, at most "
            "255 characters, no scheme, port or path, e.g. 'corp.example.com'): got %s" % _shown(value))


# --------------------------------------------------------------------------------------------
# Durations

# Go's time.ParseDuration refuses more than this many nanoseconds ("invalid duration").
GO_MAX_NANOSECONDS = (1 << 63) - 1
MAX_DURATION_SECONDS = GO_MAX_NANOSECONDS // 10 ** 9
_NS = {"ns": 1, "us": 10 ** 3, "\u00b5s": 10 ** 3, "\u03bcs": 10 ** 3, "ms": 10 ** 6,
       "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_EXTENDED_NS = dict(_NS, d=86400 * 10 ** 9, w=7 * 86400 * 10 ** 9)
_GO_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_UNIT_CHARS = re.compile(r"[a-z\u00b5\u03bc]+")
# The hint the gateway check has always given: Go has no days, which is the usual mistake.
GO_DURATION_HINT = "a Go duration (units h, m, s, ms; days are written in hours, 90 days = 2160h)"


def _parts_nanoseconds(text, units):
    """Nanoseconds (a Fraction) of ``<number><unit>...``, or None when the grammar is broken."""
    pos = 0
    total = Fraction(0)
    while pos < len(text):
        match = _GO_PART.match(text, pos)
        if not match:
            return None
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        unit_match = _UNIT_CHARS.match(unit)
        if not unit_match:
            return None
        unit = unit_match.group(0)
        if unit not in units or not (whole or fraction):
            return None
        number = Fraction(int(whole or "0"))
        if fraction:
            number += Fraction(int(fraction), 10 ** len(fraction))
        total += number * units[unit]
        if total > GO_MAX_NANOSECONDS:
            return None
        pos = match.start(3) + len(unit)
    return total


def _nanoseconds_to_seconds(total):
    # Go truncates to whole nanoseconds.
    return float(int(total)) / 10 ** 9


def go_duration_seconds(value, option=None):
    """Seconds of a Go duration as ``time.ParseDuration`` reads it: ``[-+]`` then one or more
    ``<number><unit>`` with units ns, us (µs, μs), ms, s, m, h; ``0`` alone is allowed.

    Raises :class:`InputRuleError` (naming ``option`` when given) for anything Go refuses,
    including an ``int`` (cert-manager's API wants a string) and durations past Go's ~292 years.
    """
    refusal = "%s%s is not %s" % (option + " " if option else "", _shown(value), GO_DURATION_HINT)
    if not _is_text(value):
        raise InputRuleError(refusal)
    text = value
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0.0
    total = _parts_nanoseconds(text, _NS) if text and len(value) <= 128 else None
    if total is None:
        raise InputRuleError(refusal)
    return sign * _nanoseconds_to_seconds(total)


def check_go_duration(value):
    """A positive Go duration (cert-manager and istio-csr durations)."""
    try:
        seconds = go_duration_seconds(value)
    except InputRuleError:
        return "must be %s: got %s" % (GO_DURATION_HINT, _shown(value))
    if seconds <= 0:
        return "must be a positive Go duration (e.g. 1h): got %s" % _shown(value)
    return None


def check_go_duration_or_zero(value):
    """A Go duration that may be zero (a wait or drain period that can be skipped: ``0s``)."""
    try:
        seconds = go_duration_seconds(value)
    except InputRuleError:
        return "must be %s: got %s" % (GO_DURATION_HINT, _shown(value))
    if seconds < 0:
        return "must be a Go duration of zero or more (e.g. 0s, 1h): got %s" % _shown(value)
    return None


def vault_ttl_seconds(value, option="ttl"):
    """Seconds of a Vault TTL as ``parseutil.ParseDurationSecond`` reads it: a whole number of
    seconds (``3600``), whole days (``30d``), or a Go duration (``8760h``); never negative."""
    if isinstance(value, bool):
        raise InputRuleError("%s %s is not a Vault TTL (e.g. 3600, 30d, 8760h)" % (option, _shown(value)))
    if isinstance(value, int):
        seconds = value
    elif _is_text(value) and re.fullmatch(r"[0-9]{1,19}", value):
        seconds = int(value)
    elif _is_text(value) and re.fullmatch(r"[0-9]{1,15}d", value):
        seconds = int(value[:-1]) * 86400
    else:
        try:
            seconds = go_duration_seconds(value)
        except InputRuleError:
            raise InputRuleError("%s %s is not a Vault TTL (whole seconds, whole days such as 30d, or "
                                 "a Go duration such as 8760h)" % (option, _shown(value)))
    if seconds < 0 or seconds > MAX_DURATION_SECONDS:
        raise InputRuleError("%s %s is out of range (0 to about 292 years)" % (option, _shown(value)))
    return seconds


def check_vault_ttl(value):
    """A positive Vault TTL."""
    try:
        seconds = vault_ttl_seconds(value, "the value")
    except InputRuleError as exc:
        return "must be a Vault TTL: %s" % exc
    if seconds <= 0:
        return "must be a positive Vault TTL (e.g. 8760h): got %s" % _shown(value)
    return None


def extended_duration_seconds(value, option="duration"):
    """Seconds of a duration for the collection's own options: a Go duration that may also use
    ``d`` (days) and ``w`` (weeks), a number of seconds (``3600``, ``3600.5``, or an int), or a
    ``timedelta``. Negative values and values past Go's ~292 years are refused."""
    if isinstance(value, bool):
        raise InputRuleError("%s %s: expected a duration such as 24h, 90d, 30m" % (option, _shown(value)))
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = value
    elif _is_text(value):
        text = value.strip()
        if re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text):
            seconds = float(text)
        else:
            total = _parts_nanoseconds(text, _EXTENDED_NS) if text and len(text) <= 128 else None
            if total is None:
                raise InputRuleError("%s %s: expected a number and a unit (s, m, h, d, w) such as "
                                     "24h, 90d, 2160h or 1h30m" % (option, _shown(value)))
            seconds = _nanoseconds_to_seconds(total)
    else:
        raise InputRuleError("%s %s: expected a duration such as 24h, 90d, 30m" % (option, _shown(value)))
    if (isinstance(seconds, float) and math.isnan(seconds)) or seconds < 0:
        raise InputRuleError("%s %s is negative or not a number" % (option, _shown(value)))
    if seconds > MAX_DURATION_SECONDS:
        raise InputRuleError("%s %s is out of range (at most about 292 years)" % (option, _shown(value)))
    return float(seconds)


# --------------------------------------------------------------------------------------------
# Time

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def shift_time(moment, seconds, option="time"):
    """``moment + seconds`` (seconds may be negative), or :class:`InputRuleError` naming the option
    when the result leaves the years 1 to 9999 that ``datetime`` can hold."""
    try:
        return moment + datetime.timedelta(seconds=seconds)
    except (OverflowError, ValueError, TypeError):
        raise InputRuleError("%s: %s seconds from %s is outside the years 1 to 9999"
                             % (option, _shown(seconds), moment))


def time_from_timestamp(timestamp, option="time"):
    """A UTC datetime from a Unix timestamp, or :class:`InputRuleError` when out of range."""
    try:
        return shift_time(_EPOCH, float(timestamp), option)
    except (TypeError, ValueError, OverflowError):
        raise InputRuleError("%s: %s is not a Unix time between the years 1 and 9999"
                             % (option, _shown(timestamp)))


# --------------------------------------------------------------------------------------------
# Paths

_PATH_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_path_component(value):
    """A value used as one folder name under certmesh_output_dir: no '/', '\\', '..', NUL,
    leading '.', spaces or control characters, at most 63 characters."""
    if _full(_PATH_COMPONENT, value) and len(value) <= 63 and ".." not in value:
        return None
    return ("must be safe as one folder name (at most 63 letters, digits, '.', '-' or '_', starting "
            "with a letter or digit, no '/' and no '..', e.g. 'prod'): got %s" % _shown(value))


def is_inside(path, folder):
    """Whether the absolute, normalised ``path`` is ``folder`` or lies under it (both already
    resolved by the caller, e.g. with ``os.path.realpath``)."""
    if not _is_text(path) or not _is_text(folder) or not folder:
        return False
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder if folder == "/" else folder + "/")


# --------------------------------------------------------------------------------------------
# Vault (the shared PKI store in KV version 2)

_VAULT_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Mounts Vault keeps for itself: a KV engine cannot be enabled there.
_VAULT_RESERVED_MOUNTS = ("sys", "auth", "cubbyhole", "identity")


def _vault_segments(value):
    return _is_text(value) and value != "" and all(
        _full(_VAULT_SEGMENT, part) and part not in (".", "..") for part in value.split("/"))


def check_vault_mount(value):
    """A secrets engine mount path (``secret``, ``kv/mesh``): segments of letters, digits, '.',
    '-' or '_' joined by '/', no leading or trailing '/', not one of Vault's own mounts."""
    if _vault_segments(value) and len(value) <= 255 and value.split("/")[0] not in _VAULT_RESERVED_MOUNTS:
        return None
    return ("must be the path of a KV version 2 mount (segments of letters, digits, '.', '-' or '_' joined by '/', "
            "no leading or trailing '/', not sys, auth, cubbyhole or identity, e.g. 'secret'): got %s" % _shown(value))


def check_vault_kv_path(value):
    """A folder of keys inside a KV mount (``certmesh``, ``platform/certmesh``): same segments."""
    if _vault_segments(value) and len(value) <= 512:
        return None
    return ("must be a folder of keys in the KV mount (segments of letters, digits, '.', '-' or '_' joined by '/', "
            "no leading or trailing '/' and no '..', e.g. 'certmesh'): got %s" % _shown(value))


def check_vault_namespace(value):
    """A Vault Enterprise namespace path (``platform``, ``platform/mesh``): the same segments."""
    if _vault_segments(value) and len(value) <= 512:
        return None
    return ("must be a Vault namespace path (segments of letters, digits, '.', '-' or '_' joined by '/', no leading "
            "or trailing '/', as VAULT_NAMESPACE takes it, e.g. 'platform/mesh'): got %s" % _shown(value))


def check_control_node_file(value):
    """A file path on the control node (a CA bundle): text on one line, no NUL."""
    if _is_text(value) and value and "\x00" not in value and "\n" not in value and "\r" not in value:
        return None
    return "must be the path of a file on the control node (one line, no NUL): got %s" % _shown(value)


_VAULT_ADDRESS = re.compile(r"https?://[A-Za-z0-9._~\[\]:-]+(/[A-Za-z0-9._~/-]*)?")


def check_vault_address(value):
    """Vault's address as hvac takes it (``VAULT_ADDR``): http:// or https://, a host, an
    optional port and path, no credentials, query or spaces."""
    if _full(_VAULT_ADDRESS, value) and "@" not in value and len(value) <= 2048:
        return None
    return ("must be Vault's address, http:// or https:// and a host with an optional port "
            "(e.g. https://vault.example.com:8200), as VAULT_ADDR takes it: got %s" % _shown(value))


# --------------------------------------------------------------------------------------------
# Types, as ansible's argument spec names them

_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


def typed_boolean(value):
    """The boolean ``value`` stands for (``'false'`` -> False, as Ansible's ``bool`` filter
    reads it), or :class:`InputRuleError` when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if _is_text(value):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise InputRuleError("must be a boolean (true or false): got %s" % _shown(value))


def check_type(value, kind, elements=None):
    """None when ``value`` has the argument-spec type ``kind`` (str, bool, int, float, dict,
    list, path, raw); else the sentence ansible's argument spec would give."""
    if kind in (None, "raw"):
        return None
    if kind in ("str", "path"):
        ok = _is_text(value)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "dict":
        ok = isinstance(value, dict)
    elif kind == "list":
        if not isinstance(value, list):
            return "is of type %s and we were unable to convert to list: must be a list%s" % (
                _type_name(value), (" of %s" % elements) if elements else "")
        if elements:
            for index, item in enumerate(value):
                broken = check_type(item, elements)
                if broken:
                    return "element %d %s" % (index, broken)
        return None
    else:
        return None
    if ok:
        return None
    return "is of type %s and we were unable to convert to %s: got %s" % (_type_name(value), kind, _shown(value))


def _type_name(value):
    if isinstance(value, bool):
        return "bool"
    if _is_text(value):
        return "str"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def closest_name(name, known):
    """The known variable name closest to a misspelt ``name``, or None."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# Rollout waves (Ansible's play keyword ``serial`` as a list)

_PERCENT = re.compile(r"([1-9][0-9]?|100)%")


def check_rollout_waves(value):
    """Wave sizes: a non-empty list of whole numbers of clusters (at least 1) or percentages of
    the inventory (``"25%"``, 1 to 100). Ansible repeats the last size until every cluster is
    done, so ``[1, "100%"]`` is one canary cluster, then all the others."""
    example = 'for example [1, "100%"] (one canary cluster, then the rest) or [1, 5, "25%"]'
    if not isinstance(value, list) or not value:
        return "must be a non-empty list of wave sizes, %s; got %s" % (example, _shown(value))
    for position, size in enumerate(value, 1):
        if isinstance(size, bool) or not (isinstance(size, int) and size >= 1 or _full(_PERCENT, size)):
            return ("must be a list of wave sizes, each a number of clusters (1 or more) or a percentage from "
                    "\"1%%\" to \"100%%\", %s; wave %d is %s" % (example, position, _shown(size)))
    return None


# --------------------------------------------------------------------------------------------
# Which rule each input keeps

def check_field_manager(value):
    """Server-side apply field managers: what kube-apiserver accepts for ``fieldManager`` on an apply."""
    if _is_text(value) and value and len(value.encode("utf-8")) <= 128 and value.isprintable():
        return None
    return "must be a field manager name (1 to 128 bytes of printable characters): got %s" % _shown(value)


RULES = {
    "dns1123_label": check_dns1123_label,
    "dns1123_subdomain": check_dns1123_subdomain,
    "dns1035_label": check_dns1035_label,
    "helm_release_name": check_helm_release_name,
    "label_value": check_label_value,
    "label_selector": check_label_selector,
    "spiffe_trust_domain": check_spiffe_trust_domain,
    "go_duration": check_go_duration,
    "go_duration_or_zero": check_go_duration_or_zero,
    "vault_ttl": check_vault_ttl,
    "path_component": check_path_component,
    "field_manager": check_field_manager,
    "rollout_waves": check_rollout_waves,
    "vault_mount": check_vault_mount,
    "vault_kv_path": check_vault_kv_path,
    "vault_address": check_vault_address,
    "vault_namespace": check_vault_namespace,
    "control_node_file": check_control_node_file,
}


def check(rule, value):
    """Apply the named rule; None when kept, else the sentence saying why not."""
    try:
        return RULES[rule](value)
    except Exception as exc:  # a rule never lets a value crash the caller
        return "could not be checked against %s (%s): got %s" % (rule, exc.__class__.__name__, _shown(value))
