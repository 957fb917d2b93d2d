"""Fuzz targets for the parsers' never-raise contract (docs/parsers.md), shared by the short
fuzz tests (tests/unit/fuzz) and the long run (bench/fuzz.py).

Each ``Target`` names one parser entry point, the ``hypothesis`` strategy that feeds it and the
exceptions its contract allows (its own clear error). Any other exception is a defect.

The generators are structure-aware so that inputs get past the first ``is this PEM?`` check:
real certificates from pki_factory, taken apart into DER elements, mutated at any depth
(extension values included) and signed again by their issuer, so the verifier sees a chain that
links up and the crafted field is what the code meets; plus raw byte mutations, PEM armour
variants and plain random text.
"""

import base64
import datetime
import json
import math
import os
import tempfile

from hypothesis import strategies as st

from tests.support import der

UTC = datetime.timezone.utc


# --------------------------------------------------------------------------------------------
# A corpus of real certificates, made once


class _Corpus:
    """Real mesh certificates with the key of whoever signed each."""

    def __init__(self):
        from tests.support import pki_factory as factory
        self.ec = factory.MeshPKI("ec")
        self.rsa = factory.MeshPKI("rsa")
        # (certificate, key that signed it) for leaves, intermediates and roots
        # An intermediate constrained to its trust domain (URI name constraint), which the
        # module validates itself (module_utils/name_constraints.py).
        from cryptography import x509
        constrained = factory.make_intermediate(self.ec.root, "fuzz constrained", path_length=0, extensions=[(
            x509.NameConstraints(permitted_subtrees=[x509.UniformResourceIdentifier("cluster.local")],
                                 excluded_subtrees=[x509.DNSName("evil.example")]), True)])
        constrained_leaf = factory.make_workload_svid(constrained, "cluster.local", "shop", "web")
        # Families (leaf, intermediate, root), each entry (certificate, key that signed it).
        self.families = [
            ((m.workload, m.intermediate.key), (m.intermediate, m.root.key), (m.root, m.root.key))
            for m in (self.ec, self.rsa)] + [
            ((m.gateway, m.intermediate.key), (m.intermediate, m.root.key), (m.root, m.root.key))
            for m in (self.ec, self.rsa)] + [
            ((constrained_leaf, constrained.key), (constrained, self.ec.root.key), (self.ec.root, self.ec.root.key))]
        self.leaves = [family[0] for family in self.families]
        self.intermediates = [family[1] for family in self.families]
        self.roots = [family[2] for family in self.families]
        self.all = self.leaves + self.intermediates + self.roots
        self._store = None

    def store(self):
        from ansible_collections.certmesh.istio.plugins.module_utils import chain
        if self._store is None:
            self._store = chain.load_store([self.ec.root.cert, self.rsa.root.cert])
        return self._store


_CORPUS = []


def corpus():
    if not _CORPUS:
        _CORPUS.append(_Corpus())
    return _CORPUS[0]


# --------------------------------------------------------------------------------------------
# DER and PEM generators


def armour(der_bytes, label="CERTIFICATE"):
    body = base64.b64encode(der_bytes).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)] or [""]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


@st.composite
def byte_mutations(draw, data):
    """``data`` with a few random edits: flips, inserts, deletions, truncation, duplication."""
    data = bytearray(data)
    for _edit in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "duplicate")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "set" and data:
            data[at] = draw(st.sampled_from((0x00, 0x7F, 0x80, 0x81, 0x82, 0xFF, 0x30, 0x05)))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif how == "truncate":
            del data[at:]
        elif how == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


def _split(element):
    """Children of a constructed element (or of an OCTET STRING that holds DER, as extension
    values do); None when it does not parse as a sequence of elements."""
    try:
        if element[0] & 0x20 or element[0] == 0x04:
            found = der.children(element)
            if found and b"".join(found) == der.value(element):
                return found
    except (IndexError, ValueError):
        pass
    return None


@st.composite
def element_mutation(draw, element, depth=0):
    """``element`` with one of its descendants (at any depth) replaced, mutated or re-tagged;
    lengths are re-encoded on the way up, so only the chosen element is wrong."""
    parts = _split(element) if depth < 6 else None
    if parts and draw(st.integers(0, 3)) > 0:
        index = draw(st.integers(0, len(parts) - 1))
        parts[index] = draw(element_mutation(parts[index], depth + 1))
        return der.tlv(element[0], b"".join(parts))
    if not element:
        return draw(st.binary(min_size=1, max_size=48))
    how = draw(st.sampled_from(("body", "retag", "empty", "random", "big_integer")))
    if how == "body":
        try:
            body = der.value(element)
        except IndexError:  # already mangled: mutate it as raw bytes
            body = element[1:]
        return der.tlv(element[0], draw(byte_mutations(body or b"\x00")))
    if how == "retag":
        return draw(st.sampled_from((0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x16, 0x17, 0x18,
                                     0x1E, 0x30, 0x31, 0x80, 0xA0, 0xA3))).to_bytes(1, "big") + element[1:]
    if how == "empty":
        return der.tlv(element[0], b"")
    if how == "big_integer":
        return der.tlv(der.INTEGER, draw(st.binary(min_size=1, max_size=40)))
    return draw(st.binary(max_size=48))


@st.composite
def crafted_der(draw, pool="all"):
    """DER of a corpus certificate with one or two TBSCertificate fields mutated (at any depth,
    extension values included), signed again by its issuer."""
    base, signer = draw(st.sampled_from(getattr(corpus(), pool))) if isinstance(pool, str) else pool
    elements = der.tbs_elements(base.der)
    replace = {}
    for _field in range(draw(st.integers(1, 2))):
        position = draw(st.integers(0, len(elements) - 1))
        replace[position] = draw(element_mutation(replace.get(position, elements[position])))
    return der.rebuild(base.der, signer, replace)


@st.composite
def certificate_der(draw, pool="all"):
    """A real, a re-signed crafted, or a byte-mutated certificate."""
    entry = draw(st.sampled_from(getattr(corpus(), pool))) if isinstance(pool, str) else pool
    how = draw(st.sampled_from(("real", "crafted", "crafted", "crafted", "bytes")))
    if how == "real":
        return entry[0].der
    if how == "crafted":
        return draw(crafted_der(entry))
    return draw(byte_mutations(entry[0].der))


_LABELS = ("CERTIFICATE", "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY",
           "EC PRIVATE KEY", "CERTIFICATE REQUEST", "X509 CRL", "PUBLIC KEY")


@st.composite
def pem_block(draw):
    label = draw(st.sampled_from(_LABELS))
    text = armour(draw(certificate_der()), label)
    how = draw(st.sampled_from(("as is", "as is", "no end", "other end", "bad base64", "crlf",
                                "spaces")))
    if how == "no end":
        text = text[:text.index("-----END")]
    elif how == "other end":
        text = text.replace("-----END %s" % label, "-----END %s" % draw(st.sampled_from(_LABELS)))
    elif how == "bad base64":
        lines = text.split("\n")
        at = draw(st.integers(1, max(len(lines) - 3, 1)))
        lines[at] = lines[at][:10] + draw(st.sampled_from(("!", "=", "==", "\u00e9", "\x00", "-", " "))) + lines[at][10:]
        text = "\n".join(lines)
    elif how == "crlf":
        text = text.replace("\n", "\r\n")
    elif how == "spaces":
        text = text.replace("\n", " \n")
    return text


_JUNK = st.one_of(st.just(""), st.just("\n"), st.just("# comment\n"), st.text(max_size=40),
                  st.just("-----BEGIN "), st.just("-----END CERTIFICATE-----\n"))


@st.composite
def pem_bundle(draw):
    """PEM text of one to four blocks (real and mutated), with junk between them."""
    parts = []
    for _block in range(draw(st.integers(1, 4))):
        parts.append(draw(_JUNK))
        parts.append(draw(pem_block()))
    parts.append(draw(_JUNK))
    return "".join(parts)


def random_input():
    return st.one_of(st.text(max_size=200), st.binary(max_size=200), st.none(), st.integers(),
                     st.lists(st.text(max_size=20), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))


def pem_input():
    """What a user may hand a PEM parameter: PEM text (mostly), bytes, DER, junk."""
    return st.one_of(
        pem_bundle(), pem_bundle(), pem_bundle(),
        pem_bundle().map(lambda text: text.encode("latin-1", "replace")),
        certificate_der(), st.text(max_size=200), st.binary(max_size=200))


# Paths a wrong variable may name: devices, a directory, a file that is not PEM, none at all.
_PATHS = st.sampled_from(("/dev/zero", "/dev/null", "/", ".", "/etc/hostname", "/proc/self/status",
                          "/nonexistent/ca.pem", "missing.crt", "/tmp/\x00.pem", "/tmp/\ud800.pem"))


# --------------------------------------------------------------------------------------------
# Text for the small grammars

_UNICODE_EDGE = st.sampled_from(("\ud800", "\udfff", "\u00b5", "\u0000", "\ufeff", "\u212a", "\u0130",
                                 "\U0001f600", "\n", " "))


def text_near(*fragments):
    """Text built from grammar fragments plus odd characters (lone surrogates included)."""
    return st.lists(st.one_of(st.sampled_from(fragments), _UNICODE_EDGE,
                              st.text(max_size=4), st.integers(0, 10 ** 30).map(str)),
                    max_size=8).map("".join)


def spiffe_input():
    return st.one_of(text_near("spiffe://", "SPIFFE://", "cluster.local", "/", "ns", "sa", "default",
                               ".", "..", "_", "-", "?", "#", "@", ":", "%2F", "x" * 300),
                     random_input())


def time_input():
    aware = st.datetimes(timezones=st.sampled_from([UTC] + [datetime.timezone(datetime.timedelta(
        hours=h)) for h in (-23, -12, -1, 1, 12, 23)]))
    return st.one_of(
        aware, st.datetimes(), st.dates(),
        aware.map(lambda moment: moment.isoformat()),
        st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        text_near("0001-01-01", "9999-12-31", "T", "00:00:00", "23:59:59", "Z", "+", "-", "14:00",
                  "23:59", ".999999", ":", "2026-11-25"),
        random_input(), st.booleans(), st.floats())


def duration_input():
    numbers = st.one_of(st.integers(0, 10 ** 400).map(str), st.floats(0, 1e308).map(repr),
                        st.sampled_from(("0", "1", "1.5", ".5", "1.", "-1", "+1", "1e9", "nan", "inf")))
    units = st.sampled_from(("ns", "us", "\u00b5s", "ms", "s", "m", "h", "d", "w", "y", "", " "))
    grammar = st.lists(st.tuples(numbers, units), min_size=1, max_size=4).map(
        lambda parts: "".join(number + unit for number, unit in parts))
    return st.one_of(grammar, grammar.map(lambda text: "-" + text), text_near("1h", "30m", "90d", "2160h0m0s"),
                     st.integers(-10 ** 30, 10 ** 400), st.floats(allow_nan=True), st.booleans(),
                     st.timedeltas(), random_input())


# --------------------------------------------------------------------------------------------
# Targets


class Target:
    """One parser entry point: ``call(value)`` must return, or raise one of ``allowed``."""

    def __init__(self, name, strategy, call, allowed):
        self.name = name
        self.strategy = strategy
        self.call = call
        self.allowed = allowed

    def run(self, value):
        try:
            self.call(value)
        except self.allowed:
            pass

    def __repr__(self):
        return "Target(%s)" % self.name


def _pki():
    from ansible_collections.certmesh.istio.plugins.module_utils import pki
    return pki


def _chain():
    from ansible_collections.certmesh.istio.plugins.module_utils import chain
    return chain


def _filter_error():
    from ansible.errors import AnsibleFilterError
    return AnsibleFilterError


@st.composite
def chain_input(draw):
    """A leaf, usually its intermediate, sometimes a root, plus the check's options. Mostly one
    of them is crafted or mutated and the others are real, so that most inputs get past
    loading into path validation and the mesh rules."""
    family = draw(st.sampled_from(corpus().families))
    if draw(st.integers(0, 9)) == 0:  # now and then, a leaf and intermediate of other families
        family = (family[0], draw(st.sampled_from(corpus().intermediates)), family[2])
    entries = list(family[:2]) if draw(st.integers(0, 3)) else [family[0]]
    if draw(st.integers(0, 4)) == 0:
        entries.append(family[2])
    mutated = draw(st.integers(0, len(entries)))  # len(entries): none mutated
    every = draw(st.integers(0, 5)) == 0  # now and then, all of them
    certs = [draw(certificate_der(entry)) if every or index == mutated else entry[0].der
             for index, entry in enumerate(entries)]
    options = {
        "purpose": draw(st.sampled_from(("workload", "gateway", "ca"))),
        "trust_domain": draw(st.sampled_from((None, "cluster.local", "other.example"))),
        "dns_names": draw(st.sampled_from((None, ["shop.example.com"], ["*.example.com", "x"]))),
        "at": draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
        "min_remaining": draw(st.one_of(st.none(), st.floats(0, 1e12), st.just(float("inf")))),
    }
    as_objects = draw(st.integers(0, 5)) == 0
    return certs, options, as_objects


def _check_chain(value):
    certs, options, as_objects = value
    chain = _chain()
    if as_objects:
        from cryptography import x509
        try:
            objects = [x509.load_der_x509_certificate(item) for item in certs]
        except Exception:  # noqa: BLE001 - only loadable objects are handed over as objects
            return
        result = chain.check(objects, corpus().store(), **options)
    else:
        result = chain.check("".join(armour(item) for item in certs), corpus().store(), **options)
    _assert_result_shape(result)


def _assert_result_shape(result):
    assert isinstance(result["valid"], bool)
    for found in result["problems"]:
        assert found["code"] in _chain().PROBLEM_CODES, found
        assert isinstance(found["message"], str) and found["message"], found
    json.dumps(result, default=str)


def _load_and_summarise(value):
    for item in _pki().load_pem_certificates(value, "fuzz"):
        json.dumps(_pki().summary(item.cert), default=str)


def _load_certificates(value):
    for item in _pki().load_certificates(value, "fuzz"):
        _pki().summary(item.cert)


def _load_store(value):
    store = _chain().load_store(value, "roots")
    _assert_result_shape(_chain().check(corpus().ec.workload.pem, store))


def _x509_info(value):
    from ansible_collections.certmesh.istio.plugins.filter.x509_info import x509_info
    pem, everything, at = value
    json.dumps(x509_info(pem, all=everything, at=at), default=str)


def _spiffe_filter(value):
    from ansible_collections.certmesh.istio.plugins.filter.spiffe_id import spiffe_id
    text, istio, trust_domain = value
    spiffe_id(text, istio=istio, strict=False, trust_domain=trust_domain)
    spiffe_id(text, istio=istio, strict=True, trust_domain=trust_domain)


def _certificate_object():
    spec = st.dictionaries(st.sampled_from(("isCA", "uris", "dnsNames", "secretName", "duration")),
                           st.one_of(st.booleans(), st.text(max_size=10), st.lists(st.text(max_size=10), max_size=2),
                                     st.none(), st.integers()), max_size=4)
    meta = st.dictionaries(st.sampled_from(("name", "namespace")), st.one_of(st.text(max_size=10), st.none(), st.integers()))
    objects = st.fixed_dictionaries({}, optional={"metadata": st.one_of(meta, random_input()),
                                                  "spec": st.one_of(spec, random_input())})
    return st.one_of(st.lists(st.one_of(objects, random_input()), max_size=3), random_input())


def _chain_checks(value):
    from ansible_collections.certmesh.istio.plugins.filter.chain_checks import chain_checks
    json.dumps(chain_checks(value, "prod-eu1", kubeconfig="k", context="c"))


def _marker_input():
    """Rotation state markers: a real one with fields dropped, retyped or added, JSON values
    of every shape, and non-JSON bytes."""
    from ansible_collections.certmesh.istio.plugins.module_utils import rotation
    real = rotation.new_state("root", ["prod-eu1", "prod-us1"],
                              datetime.datetime(2026, 11, 25, tzinfo=UTC))
    json_value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                        st.text(max_size=10)),
                              lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                              max_leaves=8)

    @st.composite
    def edited(draw):
        state = json.loads(json.dumps(real))
        for _edit in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(sorted(state) + ["extra"]))
            how = draw(st.sampled_from(("drop", "retype", "phase")))
            if how == "drop":
                state.pop(key, None)
            elif how == "retype":
                state[key] = draw(json_value)
            else:
                state["completed"] = draw(st.lists(st.sampled_from(list(real["phases"]) + ["bogus"]), max_size=6))
        return json.dumps(state).encode()

    return st.one_of(edited(), edited(), json_value.map(lambda v: json.dumps(v).encode()),
                     st.binary(max_size=100))


def _marker(value):
    from ansible_collections.certmesh.istio.plugins.module_utils import rotation
    handle, path = tempfile.mkstemp(prefix="certmesh-fuzz-marker-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(value)
        state = rotation.load(path)
        if state is None:
            return
        # A marker the loader accepts must be usable by everything that reads it.
        rotation.finished(state)
        rotation.pending(state)
        rotation.trust_now(state)
        rotation.plan(state, state["kind"], list(state["clusters"]))
    finally:
        os.unlink(path)


def _duration(parse, never_negative):
    def call(value):
        seconds = parse(value)
        assert isinstance(seconds, (int, float)) and not isinstance(seconds, bool), (value, seconds)
        assert not (isinstance(seconds, float) and math.isnan(seconds)) and abs(seconds) != float("inf"), "%r parsed as %r" % (value, seconds)
        assert seconds >= 0 or not never_negative, "%r parsed as %r" % (value, seconds)
    return call


def targets():
    """Every target, built lazily (the imports need the collection on sys.path)."""
    pki = _pki()
    from ansible_collections.certmesh.istio.plugins.module_utils import rotation
    # Duration grammars and the marker loader live where the branch has them; see
    # duration_parsers() for the list.
    found = [
        Target("pki.load_pem_certificates", pem_input(), _load_and_summarise, (pki.MalformedInput,)),
        Target("pki.load_certificates", st.one_of(pem_input(), st.lists(st.one_of(pem_input(), _PATHS), max_size=3),
                                                  random_input(), _PATHS),
               _load_certificates, (pki.MalformedInput,)),
        Target("pki.load_certificates(DER bytes)", certificate_der(), _load_certificates, (pki.MalformedInput,)),
        Target("chain.load_store", st.one_of(pem_input(), st.lists(pem_input(), max_size=2)),
               _load_store, (pki.MalformedInput,)),
        Target("chain.check", chain_input(), _check_chain, ()),
        Target("pki.parse_spiffe_id", st.tuples(spiffe_input(), st.booleans()),
               lambda value: pki.parse_spiffe_id(*value), (pki.SpiffeIdError,)),
        Target("pki.parse_time", time_input(), pki.parse_time, (ValueError,)),
        Target("rotation.load (state marker)", _marker_input(), _marker, (rotation.RotationError,)),
        Target("filter x509_info", st.tuples(st.one_of(pem_input(), random_input()), st.booleans(),
                                             st.one_of(st.none(), time_input())),
               _x509_info, (_filter_error(),)),
        Target("filter spiffe_id", st.tuples(spiffe_input(), st.booleans(),
                                             st.sampled_from((None, "cluster.local"))),
               _spiffe_filter, (_filter_error(),)),
        Target("filter chain_checks", _certificate_object(), _chain_checks, (_filter_error(),)),
    ]
    for name, parse, allowed, never_negative in duration_parsers():
        found.append(Target(name, duration_input(), _duration(parse, never_negative), allowed))
    found.extend(_input_rule_targets())
    return found


def _input_rules():
    try:
        from ansible_collections.certmesh.istio.plugins.module_utils import input_rules
    except ImportError:  # before module_utils/input_rules.py (issue 9) existed
        return None
    return input_rules


def duration_parsers():
    """``(name, function, allowed exceptions, never negative)`` of every duration grammar:
    the named grammars of module_utils/input_rules.py where it exists, and the older parsers
    that are still called."""
    from ansible_collections.certmesh.istio.plugins.module_utils import pki, preflight, vault_pki_desired
    from ansible_collections.certmesh.istio.plugins.module_utils.vault_pki_errors import VaultPkiInputError
    found = [
        ("pki.parse_duration", pki.parse_duration, (ValueError,), True),
        ("vault_pki_desired.duration_seconds", vault_pki_desired.duration_seconds, (VaultPkiInputError,), True),
    ]
    rules = _input_rules()
    if rules is None:
        found.append(("preflight.go_duration_seconds", preflight.go_duration_seconds, (ValueError,), False))
        return found
    # Go durations may be negative (time.ParseDuration accepts "-1h"); TTLs and the
    # collection's own durations may not.
    return found + [
        ("input_rules.go_duration_seconds", rules.go_duration_seconds, (rules.InputRuleError,), False),
        ("input_rules.vault_ttl_seconds", rules.vault_ttl_seconds, (rules.InputRuleError,), True),
        ("input_rules.extended_duration_seconds", rules.extended_duration_seconds, (rules.InputRuleError,), True),
    ]


def _input_rule_targets():
    """The time helpers and the ``check_*`` rules of input_rules (checks return None or a
    sentence for any value, and never raise)."""
    rules = _input_rules()
    if rules is None:
        return []
    checks = sorted(name for name in dir(rules) if name.startswith("check_") and name not in ("check_type",))

    def run_check(value):
        name, candidate = value
        result = getattr(rules, name)(candidate)
        assert result is None or (isinstance(result, str) and result), (name, candidate, result)

    def shift(value):
        moment, seconds = value
        rules.shift_time(moment, seconds, "fuzz")

    names = st.one_of(text_near("a", "-", ".", "_", "0", "..", "/", "cluster.local", "kube-system",
                                "x" * 64, "x" * 254, "A", "é"), random_input(), st.booleans(), st.floats())
    found = [
        Target("input_rules.check_*", st.tuples(st.sampled_from(checks), names), run_check, ()),
        Target("input_rules.shift_time", st.tuples(st.datetimes(timezones=st.just(UTC)), st.one_of(
            st.floats(allow_nan=True), st.integers(-10 ** 20, 10 ** 20))), shift, (rules.InputRuleError,)),
    ]
    if hasattr(rules, "time_from_timestamp"):
        found.append(Target("input_rules.time_from_timestamp", st.one_of(
            st.floats(allow_nan=True), st.integers(-10 ** 20, 10 ** 20), random_input()),
            lambda value: rules.time_from_timestamp(value, "fuzz"), (rules.InputRuleError,)))
    if hasattr(rules, "typed_boolean"):
        found.append(Target("input_rules.typed_boolean", st.one_of(names, st.sampled_from(
            ("true", "false", "yes", "no", "on", "off", "1", "0", "True", "FALSE"))),
            rules.typed_boolean, (rules.InputRuleError,)))
    return found
