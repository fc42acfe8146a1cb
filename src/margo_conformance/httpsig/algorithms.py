"""Signature algorithms: the library's RFC 9421 registry plus Margo's own ``rsa-pss-sha256`` (Q-05).

The library ships the registered algorithms as ``HTTPSignatureAlgorithm`` subclasses; Margo names one the
RFC does not register, so it is defined here the same way (it works with the library's signer and
verifier too). Everything else in ``httpsig`` picks algorithms through ``ALGORITHMS`` so there is one
name -> implementation table.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from http_message_signatures import algorithms as lib_algorithms
from http_message_signatures.algorithms import HTTPSignatureAlgorithm

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey]

MARGO_ALGORITHMS: tuple[str, ...] = ("ecdsa-p256-sha256", "ecdsa-p384-sha384", "rsa-v1_5-sha256", "rsa-pss-sha256")
EXTRA_ALGORITHMS: tuple[str, ...] = ("ed25519", "rsa-pss-sha512")


class RSA_PSS_SHA256(lib_algorithms.RSA_PSS_SHA512):
    """Margo's ``rsa-pss-sha256``: RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt (DIGEST 2.2, Q-05).

    Not in the RFC 9421 registry; this is the natural reading of the Margo name. Subclassing the library's
    PSS class keeps key loading and type checks identical to the registered ``rsa-pss-sha512``.
    """

    algorithm_id = "rsa-pss-sha256"

    def __init__(self, public_key=None, private_key=None, password=None):  # type: ignore[no-untyped-def]
        super().__init__(public_key=public_key, private_key=private_key, password=password)
        self.padding = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        self.hash_algorithm = hashes.SHA256()


#: Every algorithm name we can sign or verify with, mapped to its implementation class.
ALGORITHMS: dict[str, type[HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": lib_algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": lib_algorithms.ECDSA_P384_SHA384,
    "rsa-v1_5-sha256": lib_algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha256": RSA_PSS_SHA256,
    "rsa-pss-sha512": lib_algorithms.RSA_PSS_SHA512,
    "ed25519": lib_algorithms.ED25519,
    "hmac-sha256": lib_algorithms.HMAC_SHA256,
}

#: Order in which an RSA signature without ``alg`` is tried (DIGEST 2.5: v1.5 first, then PSS).
RSA_CANDIDATES: tuple[str, ...] = ("rsa-v1_5-sha256", "rsa-pss-sha256", "rsa-pss-sha512")

_EC_BY_CURVE = {"secp256r1": "ecdsa-p256-sha256", "secp384r1": "ecdsa-p384-sha384"}
#: Byte length of r (and of s) in a raw r||s ECDSA signature.
EC_COORDINATE_SIZE = {"ecdsa-p256-sha256": 32, "ecdsa-p384-sha384": 48}
_EC_HASH = {"ecdsa-p256-sha256": hashes.SHA256, "ecdsa-p384-sha384": hashes.SHA384}


class KeyUnsupported(ValueError):
    """The key is of a type no Margo or RFC 9421 algorithm uses (DSA, P-521, X25519, ...)."""


_PRIVATE_TYPES = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


@lru_cache(maxsize=64)
def _family(cls: type) -> tuple[str | None, bool]:
    """(family, is_private) of a key class. Cached per class: the key types are ABCs, and ``isinstance``
    against ABCs showed up in the signer's profile."""
    for family, types in (
        ("ec", (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)),
        ("rsa", (rsa.RSAPrivateKey, rsa.RSAPublicKey)),
        ("ed25519", (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)),
    ):
        if issubclass(cls, types):
            return family, issubclass(cls, _PRIVATE_TYPES)
    if issubclass(cls, (bytes, bytearray)):
        return "hmac", False
    return None, False


def is_private_key(key: object) -> bool:
    return _family(type(key))[1]


def _public(key: PrivateKey | PublicKey | x509.Certificate) -> PublicKey:
    if isinstance(key, x509.Certificate):
        return key.public_key()  # type: ignore[return-value]
    if is_private_key(key):
        return key.public_key()  # type: ignore[union-attr]
    return key  # type: ignore[return-value]


def algorithms_for_key(key: PrivateKey | PublicKey | bytes) -> tuple[str, ...]:
    """Algorithms that can use this key, in the order a verifier without ``alg`` should try them.

    ``bytes`` is an HMAC shared secret (only the RFC vector B.2.5 needs it). Raises KeyUnsupported.
    """
    family = _family(type(key))[0]
    if family == "ec":
        name = _EC_BY_CURVE.get(key.curve.name)  # type: ignore[union-attr]
        if name is None:
            raise KeyUnsupported(f"EC curve {key.curve.name} has no RFC 9421 / Margo algorithm")  # type: ignore[union-attr]
        return (name,)
    if family == "rsa":
        return RSA_CANDIDATES
    if family == "ed25519":
        return ("ed25519",)
    if family == "hmac":
        return ("hmac-sha256",)
    raise KeyUnsupported(f"{type(key).__name__} keys are not used by any RFC 9421 / Margo algorithm")


def default_algorithm(key: PrivateKey | PublicKey) -> str:
    """The algorithm a signer uses when none is chosen: by curve for EC, PKCS#1 v1.5 for RSA, Ed25519."""
    return algorithms_for_key(key)[0]


def algorithm_fits_key(algorithm: str, key: PrivateKey | PublicKey | bytes) -> bool:
    """Whether ``algorithm`` can be used with ``key`` (the ``alg-key-mismatch`` check)."""
    try:
        return algorithm in algorithms_for_key(key)
    except KeyUnsupported:
        return False


_keyid_lock = threading.Lock()
_keyid_cache: OrderedDict[int, tuple[object, str]] = OrderedDict()
_KEYID_CACHE_SIZE = 256


def keyid_for(key: PrivateKey | PublicKey | x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the SubjectPublicKeyInfo DER: the harness's default ``keyid`` (Q-02).

    Cached per key object (the cache holds the object, so its id cannot be reused while cached): the
    simulated device signs every request with the same key and DER-encoding it each time is waste.
    """
    hit = _keyid_cache.get(id(key))  # a dict read is atomic; only mutation takes the lock
    if hit is not None and hit[0] is key:
        return hit[1]
    der = _public(key).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    value = hashlib.sha256(der).hexdigest()
    with _keyid_lock:
        _keyid_cache[id(key)] = (key, value)
        while len(_keyid_cache) > _KEYID_CACHE_SIZE:
            _keyid_cache.popitem(last=False)
    return value


_impl_lock = threading.Lock()
_impl_cache: OrderedDict[tuple[str, int, bool], tuple[object, HTTPSignatureAlgorithm]] = OrderedDict()
_IMPL_CACHE_SIZE = 512


def implementation(algorithm: str, key: PrivateKey | PublicKey | bytes) -> HTTPSignatureAlgorithm:
    """The library algorithm object for (algorithm, key), cached: the WFM verifies many requests per key.

    The objects are immutable after construction (key + padding + hash), so sharing them is safe.
    Raises KeyError for an unknown algorithm and the library's exception when the key does not fit.
    """
    is_private = is_private_key(key)
    cache_key = (algorithm, id(key), is_private)
    hit = _impl_cache.get(cache_key)  # lock-free read; eviction is FIFO, good enough for a few keys
    if hit is not None and hit[0] is key:
        return hit[1]
    cls = ALGORITHMS[algorithm]
    if isinstance(key, (bytes, bytearray)):
        impl = cls(shared_secret=bytes(key))  # type: ignore[call-arg]
    elif is_private:
        impl = cls(private_key=key)
    else:
        impl = cls(public_key=key)
    with _impl_lock:
        _impl_cache[cache_key] = (key, impl)
        while len(_impl_cache) > _IMPL_CACHE_SIZE:
            _impl_cache.popitem(last=False)
    return impl


def sign_bytes(algorithm: str, key: PrivateKey | bytes, message: bytes) -> bytes:
    """Sign with the library's implementation (ECDSA comes back as raw r||s, as RFC 9421 requires)."""
    return implementation(algorithm, key).sign(message)


def sign_ecdsa_der(algorithm: str, key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """A DER-encoded ECDSA signature: the classic device bug (Q-06), produced on purpose by the forge."""
    return key.sign(message, ec.ECDSA(_EC_HASH[algorithm]()))


def der_to_raw(algorithm: str, der: bytes) -> bytes | None:
    """Convert a DER ECDSA signature to r||s; None when ``der`` is not strict DER for this curve."""
    size = EC_COORDINATE_SIZE[algorithm]
    try:
        r, s = decode_dss_signature(der)
        if encode_dss_signature(r, s) != der:  # only canonical DER counts as "DER-encoded"
            return None
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    except (ValueError, OverflowError):
        return None


def verify_bytes(algorithm: str, key: PublicKey | bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` verifies; any failure (length, math, key type) is just False."""
    try:
        implementation(algorithm, key).verify(signature, message)
    except Exception:  # the library raises several types; all mean "does not verify"
        return False
    return True


def rsa_pss_salt_length(key: rsa.RSAPublicKey, signature: bytes, message: bytes, hash_name: str) -> bool:
    """Whether the signature is RSASSA-PSS with this hash but another salt length (diagnosis only)."""
    hash_cls = {"sha256": hashes.SHA256, "sha512": hashes.SHA512}[hash_name]
    try:
        key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.AUTO),
                   hash_cls())
    except Exception:
        return False
    return True
