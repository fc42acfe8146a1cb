"""A minimal DER reader and writer, just enough to take a certificate apart and put it back together.

``cryptography``'s ``CertificateBuilder`` always writes v3 and refuses negative serials, yet the harness
must send exactly such certificates (CERT-09: "negative serial, v1 with extensions"). So the factory builds
a clean certificate, rewrites fields of its TBSCertificate here and re-signs it with the issuer key. The
decoder also uses this module to explain *why* bytes that ``cryptography`` rejects are not a certificate
(truncated, negative serial), so every function here raises only :class:`DerError` on bad input.

Only single-octet tags (tag numbers below 31) and definite lengths up to 4 octets are supported: that
covers every X.509 structure, and anything else is reported as an error instead of misread.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DerError",
    "DerTruncated",
    "Tlv",
    "CertificateParts",
    "TbsCertificate",
    "TAG_INTEGER",
    "TAG_BIT_STRING",
    "TAG_SEQUENCE",
    "TAG_VERSION",
    "TAG_EXTENSIONS",
    "assemble_certificate",
    "children",
    "decode_integer",
    "encode_integer",
    "integer_length",
    "encode_length",
    "encode_tlv",
    "parse_tbs",
    "read_single",
    "read_tlv",
    "rebuild_tbs",
    "split_certificate",
]

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_SEQUENCE = 0x30
TAG_VERSION = 0xA0  # [0] EXPLICIT Version in TBSCertificate
TAG_ISSUER_UID = 0x81  # [1] IMPLICIT
TAG_SUBJECT_UID = 0x82  # [2] IMPLICIT
TAG_EXTENSIONS = 0xA3  # [3] EXPLICIT Extensions

_MAX_LENGTH_OCTETS = 4


class DerError(ValueError):
    """The bytes are not the DER this module expected."""


class DerTruncated(DerError):
    """A length runs past the end of the data: the value was cut short."""


@dataclass(frozen=True)
class Tlv:
    """One DER element: its identifier octet, its header (tag + length octets) and its content."""

    tag: int
    header: bytes
    value: bytes

    @property
    def encoded(self) -> bytes:
        return self.header + self.value

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


def encode_length(length: int) -> bytes:
    """DER length octets: short form below 128, else the minimal long form."""
    if length < 0:
        raise DerError("negative length")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(body) > _MAX_LENGTH_OCTETS:
        raise DerError("length too large")
    return bytes([0x80 | len(body)]) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    if not 0 <= tag <= 0xFF or (tag & 0x1F) == 0x1F:
        raise DerError(f"unsupported tag {tag:#x}")
    return bytes([tag]) + encode_length(len(value)) + value


def integer_length(number: int) -> int:
    """Content octets of ``number`` as a DER INTEGER (minimal two's complement, sign bit included)."""
    return max(1, (number + (number < 0)).bit_length() // 8 + 1)


def encode_integer(number: int) -> bytes:
    """A complete DER INTEGER: minimal two's complement, so 128 is 02 02 00 80 and -128 is 02 01 80."""
    return encode_tlv(TAG_INTEGER, number.to_bytes(integer_length(number), "big", signed=True))


def decode_integer(value: bytes) -> int:
    """The content octets of an INTEGER as a Python int (two's complement)."""
    if not value:
        raise DerError("empty INTEGER")
    return int.from_bytes(value, "big", signed=True)


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """Read the element that starts at ``offset``; returns it and the offset just after it."""
    end_of_data = len(data)
    if offset >= end_of_data:
        raise DerTruncated("no element: end of data")
    tag = data[offset]
    if (tag & 0x1F) == 0x1F:
        raise DerError(f"multi-octet tag at offset {offset} is not supported")
    pos = offset + 1
    if pos >= end_of_data:
        raise DerTruncated(f"element at offset {offset} has no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError(f"indefinite length at offset {offset} is not DER")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS:
            raise DerError(f"length of {count} octets at offset {offset} is not supported")
        if pos + count > end_of_data:
            raise DerTruncated(f"length octets of the element at offset {offset} are cut short")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise DerError(f"non-minimal length at offset {offset} is not DER")
        pos += count
    if pos + length > end_of_data:
        raise DerTruncated(
            f"element at offset {offset} declares {length} content octets, only {end_of_data - pos} remain"
        )
    return Tlv(tag, bytes(data[offset:pos]), bytes(data[pos : pos + length])), pos + length


def read_single(data: bytes) -> Tlv:
    """Exactly one element filling ``data`` (trailing bytes are an error)."""
    tlv, end = read_tlv(data, 0)
    if end != len(data):
        raise DerError(f"{len(data) - end} trailing octets after the element")
    return tlv


def children(tlv: Tlv) -> list[Tlv]:
    """The elements inside a constructed element."""
    if not tlv.constructed:
        raise DerError(f"element with tag {tlv.tag:#x} is not constructed")
    items: list[Tlv] = []
    pos = 0
    while pos < len(tlv.value):
        item, pos = read_tlv(tlv.value, pos)
        items.append(item)
    return items


@dataclass(frozen=True)
class CertificateParts:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 4.1)."""

    tbs: Tlv
    signature_algorithm: Tlv
    signature_value: Tlv

    @property
    def signature(self) -> bytes:
        """The signature octets without the BIT STRING's unused-bits octet."""
        return self.signature_value.value[1:]


def split_certificate(der: bytes) -> CertificateParts:
    outer = read_single(der)
    if outer.tag != TAG_SEQUENCE:
        raise DerError("a certificate is a SEQUENCE")
    items = children(outer)
    if len(items) != 3:
        raise DerError(f"a certificate SEQUENCE has 3 elements, this one has {len(items)}")
    tbs, alg, sig = items
    if tbs.tag != TAG_SEQUENCE or alg.tag != TAG_SEQUENCE or sig.tag != TAG_BIT_STRING:
        raise DerError("certificate elements are not SEQUENCE, SEQUENCE, BIT STRING")
    if not sig.value or sig.value[0] != 0:
        raise DerError("signature BIT STRING must have 0 unused bits")
    return CertificateParts(tbs, alg, sig)


@dataclass(frozen=True)
class TbsCertificate:
    """The fields of a TBSCertificate this harness inspects; ``fields`` keeps every element in order."""

    version: int  # the encoded value: 0 = v1 (field absent), 1 = v2, 2 = v3
    serial: int
    fields: tuple[Tlv, ...]
    has_version_field: bool
    has_extensions: bool

    @property
    def version_number(self) -> int:
        """The human version number: 1, 2 or 3."""
        return self.version + 1


def parse_tbs(tbs: bytes | Tlv) -> TbsCertificate:
    element = tbs if isinstance(tbs, Tlv) else read_single(tbs)
    if element.tag != TAG_SEQUENCE:
        raise DerError("a TBSCertificate is a SEQUENCE")
    fields = children(element)
    pos = 0
    version = 0
    has_version = bool(fields) and fields[0].tag == TAG_VERSION
    if has_version:
        inner = read_single(fields[0].value)
        if inner.tag != TAG_INTEGER:
            raise DerError("version is not an INTEGER")
        version = decode_integer(inner.value)
        pos = 1
    if len(fields) < pos + 6:
        raise DerError("TBSCertificate has too few elements")
    if fields[pos].tag != TAG_INTEGER:
        raise DerError("serialNumber is not an INTEGER")
    serial = decode_integer(fields[pos].value)
    has_extensions = any(f.tag == TAG_EXTENSIONS for f in fields[pos + 6 :])
    return TbsCertificate(version, serial, tuple(fields), has_version, has_extensions)


def rebuild_tbs(
    tbs: bytes | Tlv,
    *,
    version: int | None = None,
    serial: int | None = None,
    signature_algorithm: bytes | None = None,
) -> bytes:
    """The TBSCertificate with the version, serial and/or inner signature AlgorithmIdentifier (DER) replaced;
    everything else byte for byte.

    ``version=0`` (v1) drops the version field, as DER requires for a DEFAULT value.
    """
    parsed = parse_tbs(tbs)
    rest = list(parsed.fields[1:] if parsed.has_version_field else parsed.fields)
    if serial is not None:
        rest[0] = read_single(encode_integer(serial))
    if signature_algorithm is not None:
        rest[1] = read_single(signature_algorithm)
    new_version = parsed.version if version is None else version
    head: list[bytes] = []
    if new_version != 0:
        head.append(encode_tlv(TAG_VERSION, encode_integer(new_version)))
    return encode_tlv(TAG_SEQUENCE, b"".join(head + [f.encoded for f in rest]))


def assemble_certificate(tbs: bytes, signature_algorithm: bytes, signature: bytes) -> bytes:
    """Certificate DER from TBS DER, AlgorithmIdentifier DER and raw signature octets."""
    return encode_tlv(TAG_SEQUENCE, tbs + signature_algorithm + encode_tlv(TAG_BIT_STRING, b"\x00" + signature))
