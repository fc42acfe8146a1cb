"""The RFC 9421 signature base (section 2.5), assembled line by line over the library's component resolver.

Why not the library's own base builder: it refuses upper-case component names, and a verifier that must
diagnose a device signing ``"Content-Digest"`` (Q-04) has to rebuild that base with the literal name.
It is also the hot path of the simulated WFM. So the *values* of components with parameters
(``@query-param;name=``, ``;sf``, ``;key=``, ``;bs``, ``;req``, ``@status``) come from the library's
public ``HTTPSignatureComponentResolver``; plain derived components and plain header fields are resolved
here with the same rules, and the tests check that the bases are byte-identical to the library's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import http_sf
from http_message_signatures.resolvers import HTTPSignatureComponentResolver
from http_message_signatures.structures import normalize_header_value
from http_sf.compat import Item
from http_sf.innerlist import ser_innerlist
from http_sf.item import ser_item

Headers = Sequence[tuple[str, str]] | Mapping[str, str]

#: Derived components whose value depends only on the method and the URL (cached per URL).
_URL_DERIVED = frozenset({"@target-uri", "@authority", "@scheme", "@path", "@query", "@request-target"})
_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")


class ComponentError(ValueError):
    """A covered component cannot be resolved or is not allowed in a signature base."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"{component}: {reason}")


_SF_STRING_CHARS = re.compile(r"[\x20-\x7e]*")


@lru_cache(maxsize=4096)
def serialize_string(value: str) -> str:
    """An RFC 8941 String (printable ASCII; backslash and quote escaped). Raises ValueError otherwise.

    Cached: component names and keyids repeat on every request of a client."""
    if _SF_STRING_CHARS.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a Structured Field String (printable ASCII only)")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=256)
def is_sf_key(value: str) -> bool:
    """Whether ``value`` can be a Dictionary key / parameter name (signature labels, RFC 8941 3.1.2)."""
    return _SF_KEY.fullmatch(value) is not None


@dataclass(frozen=True)
class Component:
    """One covered component identifier, with the name exactly as the signer wrote it."""

    name: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def identifier(self) -> str:
        """The serialized component identifier: what appears in the list and before ': ' in the base."""
        if not self.params:
            return serialize_string(self.name)
        return ser_item((self.name, dict(self.params)))  # type: ignore[arg-type]

    @property
    def lowercase(self) -> bool:
        return self.name == self.name.lower()

    @classmethod
    def of(cls, text: str) -> Component:
        """From a bare name (``content-digest``) or a serialized item (``"@query-param";name="Pet"``)."""
        if not text.startswith('"'):
            return cls(text)
        parsed = http_sf.parse(text.encode("ascii"), tltype="item")
        name, params = parsed  # type: ignore[misc]
        if not isinstance(name, str):
            raise ValueError(f"component identifier {text!r} is not a String")
        return cls(name, tuple(params.items()))

    def __str__(self) -> str:
        return self.identifier


def signature_params_value(components: Sequence[Component], params: Iterable[tuple[str, object]]) -> str:
    """The ``@signature-params`` value: the inner list as it goes into Signature-Input (RFC 9421 2.3)."""
    members = [(c.name, dict(c.params)) for c in components]
    return ser_innerlist((members, dict(params)))  # type: ignore[arg-type]


class FieldView:
    """Header fields as RFC 9421 section 2.1 sees them: names case-insensitive, lines combined with ', '.

    Built once per message; also what the library resolver gets for components with parameters.
    """

    __slots__ = ("_lines", "_combined")

    def __init__(self, headers: Headers) -> None:
        pairs: Iterable[tuple[str, str]]
        if isinstance(headers, Mapping):
            multi = getattr(headers, "multi_items", None)  # httpx.Headers keeps repeated fields here
            pairs = multi() if callable(multi) else headers.items()
        else:
            pairs = headers
        self._lines: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]
        combined: dict[str, list[str]] = {}
        for name, value in self._lines:
            combined.setdefault(name.lower(), []).append(normalize_header_value(value))
        self._combined = {name: ", ".join(values) for name, values in combined.items()}

    def get(self, name: str) -> str | None:
        return self._combined.get(name.lower())

    def items(self) -> list[tuple[str, str]]:
        """Every field line in order (the library resolver's header interface)."""
        return list(self._lines)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(name for name, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._combined


class _RequestView:
    """The message interface the library resolver reads (method, url, headers)."""

    def __init__(self, method: str, url: str, headers: object) -> None:
        self.method, self.url, self.headers = method, url, headers


@lru_cache(maxsize=2048)
def _url_values(method_key: str, url: str) -> dict[str, str] | str:
    """Derived values of one URL, via the library resolver; a str is the reason the URL is unusable.

    Cached because the simulated device and WFM see the same few URLs again and again; the method only
    matters for OPTIONS (``@target-uri``) and CONNECT (``@request-target``), so other methods share a key.
    """
    try:
        resolver = HTTPSignatureComponentResolver(_RequestView(method_key or "GET", url, {}))
        return {
            "@target-uri": resolver.get_target_uri(),
            "@authority": resolver.get_authority(),
            "@scheme": resolver.get_scheme(),
            "@path": resolver.get_path(),
            "@query": resolver.get_query(),
            "@request-target": resolver.get_request_target(),
        }
    except Exception as exc:
        return f"URL {url!r} is not usable: {exc}"


def resolve_component(component: Component, method: str, url: str, fields: FieldView) -> str:
    """The value of one component; the name is matched in lower case (Q-04 lenient reading)."""
    name = component.name.lower()
    if not component.params:
        if name == "@method":
            if not method or not method.isascii() or not method.isalpha():
                raise ComponentError(component.identifier, f"method {method!r} is not a token")
            return method
        if name in _URL_DERIVED:
            values = _url_values(method if method in ("OPTIONS", "CONNECT") else "", url)
            if isinstance(values, str):
                raise ComponentError(component.identifier, values)
            return values[name]
        if not name.startswith("@"):
            value = fields.get(name)
            if value is None:
                raise ComponentError(component.identifier, f"header field {name!r} is not in the message")
            return value
    # Everything with parameters, @query-param, @status, unknown derived names: the library decides.
    item = Item(name)
    item.params.update(dict(component.params))
    try:
        resolver = HTTPSignatureComponentResolver(_RequestView(method, url, fields))
        value = resolver.resolve(item)
    except Exception as exc:
        raise ComponentError(component.identifier, str(exc)) from None
    if not isinstance(value, str):
        raise ComponentError(component.identifier, "resolved to a non-string value")
    return value


def build_signature_base(
    method: str,
    url: str,
    headers: Headers | FieldView,
    components: Sequence[Component],
    signature_params: str,
    *,
    fast: bool = True,
) -> str:
    """The signature base of RFC 9421 section 2.5 (LF-separated, no trailing LF), exactly as signed.

    ``signature_params`` is the serialized inner list (``("@method" ...);created=...``). Component names
    keep their spelling in the base (so an upper-case name is reproduced, not corrected). Raises
    ComponentError naming the first component that cannot be resolved or is not allowed. ``fast=False``
    forces the general loop even for the plain Margo shape (the tests compare the two).
    """
    fields = headers if isinstance(headers, FieldView) else FieldView(headers)
    if fast and _METHOD.fullmatch(method) is not None and is_plain_margo(components):
        digest = fields.get("content-digest") if len(components) == 3 else None
        if len(components) == 3 and digest is None:
            raise ComponentError('"content-digest"', "header field 'content-digest' is not in the message")
        return margo_signature_base(method, url, digest, signature_params)
    lines: list[str] = []
    seen: set[tuple[str, frozenset[tuple[str, object]]]] = set()
    for component in components:
        identifier = component.identifier
        identity = (component.name, frozenset(component.params))
        if identity in seen:
            raise ComponentError(identifier, "appears more than once in the covered components")
        seen.add(identity)
        if component.name == "@signature-params":
            raise ComponentError(identifier, "@signature-params must not be listed as a covered component")
        value = resolve_component(component, method, url, fields)
        _check_value(identifier, component.name.startswith("@"), value)
        lines.append(f"{identifier}: {value}")
    lines.append(f'"@signature-params": {signature_params}')
    base = "\n".join(lines)
    if not base.isascii():
        raise ComponentError(identifier_of_non_ascii(lines), "the signature base contains non-ASCII characters")
    return base


_METHOD = re.compile(r"[A-Z]+")
_MARGO_NAMES = (("@method", "@target-uri", "content-digest"), ("@method", "@target-uri"))


def is_plain_margo(components: Sequence[Component]) -> bool:
    """Whether the components are exactly the Margo profile's (``margo_signature_base`` applies)."""
    return tuple(c.name for c in components) in _MARGO_NAMES and not any(c.params for c in components)


def margo_signature_base(method: str, url: str, content_digest: str | None, signature_params: str) -> str:
    """The base for exactly ("@method" "@target-uri" ["content-digest"]), built without the general loop.

    The hot path of both the signer and the WFM; the tests check it is byte-identical to
    ``build_signature_base`` and to the library's base for the same message.
    """
    if _METHOD.fullmatch(method) is None:
        raise ComponentError('"@method"', f"method {method!r} is not an upper-case token")
    values = _url_values(method if method in ("OPTIONS", "CONNECT") else "", url)
    if isinstance(values, str):
        raise ComponentError('"@target-uri"', values)
    head = f'"@method": {method}\n"@target-uri": {values["@target-uri"]}\n'
    if content_digest is not None:
        _check_value('"content-digest"', False, content_digest)
        head += f'"content-digest": {content_digest}\n'
    base = f'{head}"@signature-params": {signature_params}'
    if not base.isascii():
        raise ComponentError('"content-digest"' if content_digest and not content_digest.isascii()
                             else "@signature-params", "the signature base contains non-ASCII characters")
    return base


def _check_value(identifier: str, derived: bool, value: str) -> None:
    """The same rules the library applies (RFC 9421 section 2.5): no line breaks, no control characters."""
    if "\n" in identifier:
        raise ComponentError(identifier, "identifier contains a newline")
    if "\r" in value or "\n" in value:
        raise ComponentError(identifier, "value contains a line break")
    if not value:
        return
    if derived:
        if not value.isprintable() or value[0] == " " or value[-1] == " ":
            raise ComponentError(identifier, "derived value must be printable with no surrounding whitespace")
    elif not value.replace("\t", " ").isprintable():
        raise ComponentError(identifier, "field value contains control characters")


def identifier_of_non_ascii(lines: list[str]) -> str:
    for line in lines:
        if not line.isascii():
            return line.split(": ", 1)[0]
    return "@signature-params"
