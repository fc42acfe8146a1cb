"""Test PKI: a throwaway CA, clean and deliberately defective certificates, wire encodings, a decoder
that says what it found, and an RFC 5280 lint. Contract: docs/CORE-API.md, section ``margo_conformance.pki``.
"""

from __future__ import annotations

from .ca import DEFAULT_SERVER_HOSTS, WRONG_HOST_NAME, TestCA, random_serial
from .cert_defects import SERVER_ONLY_DEFECTS, CertDefect, lint_code_for
from .encoding import (
    DECODE_REASONS,
    MAX_DECODE_INPUT,
    NON_CERTIFICATE_REASONS,
    CertEncoding,
    CertificateDecodeError,
    DecodedCertificate,
    decode_certificate,
    encode_certificate,
    non_certificates,
)
from .issued import IssuedCert, RawCertificate, der_to_pem
from .keys import (
    KeyType,
    PrivateKey,
    PublicKey,
    cached_key,
    describe_key,
    generate_key,
    key_type_of,
)
from .lint import describe_certificate, lint_rfc5280

__all__ = [
    "DECODE_REASONS",
    "DEFAULT_SERVER_HOSTS",
    "MAX_DECODE_INPUT",
    "NON_CERTIFICATE_REASONS",
    "SERVER_ONLY_DEFECTS",
    "WRONG_HOST_NAME",
    "CertDefect",
    "CertEncoding",
    "CertificateDecodeError",
    "DecodedCertificate",
    "IssuedCert",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "RawCertificate",
    "TestCA",
    "cached_key",
    "decode_certificate",
    "der_to_pem",
    "describe_certificate",
    "describe_key",
    "encode_certificate",
    "generate_key",
    "key_type_of",
    "lint_code_for",
    "lint_rfc5280",
    "non_certificates",
    "random_serial",
]
