"""Key types, key generation and the process-wide key cache.

RSA generation is the slow part of building test certificates (hundreds of milliseconds on a slow machine
for 3072 bits), so every test that does not need a *fresh* key takes one from :func:`cached_key`: the same
``(key_type, slot)`` yields the same key for the whole run. EC and Ed25519 keys cost microseconds and are
generated fresh wherever distinct identities matter.
"""

from __future__ import annotations

import threading
from enum import Enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

__all__ = [
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "cached_key",
    "describe_key",
    "generate_key",
    "key_type_of",
    "sign_for_certificate",
    "signature_hash_for",
]


class KeyType(str, Enum):
    """The key types the harness issues; the values are the CLI spellings."""

    P256 = "p256"
    P384 = "p384"
    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    RSA1024 = "rsa1024"
    ED25519 = "ed25519"

    @classmethod
    def coerce(cls, value: KeyType | str) -> KeyType:
        """Accept the enum or its CLI spelling (any case); a clear error lists the valid spellings."""
        if isinstance(value, KeyType):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown key type {value!r}; expected one of: {valid}") from None


_RSA_BITS = {KeyType.RSA1024: 1024, KeyType.RSA2048: 2048, KeyType.RSA3072: 3072}
_CURVES: dict[KeyType, type[ec.EllipticCurve]] = {KeyType.P256: ec.SECP256R1, KeyType.P384: ec.SECP384R1}


def generate_key(key_type: KeyType | str = KeyType.P256) -> PrivateKey:
    """A fresh key every call: use it where two identities must not share a key."""
    kt = KeyType.coerce(key_type)
    if kt in _CURVES:
        return ec.generate_private_key(_CURVES[kt]())
    if kt in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[kt])
    return ed25519.Ed25519PrivateKey.generate()


_cache: dict[tuple[KeyType, str], PrivateKey] = {}
_slot_locks: dict[tuple[KeyType, str], threading.Lock] = {}
_guard = threading.Lock()


def cached_key(key_type: KeyType | str = KeyType.P256, slot: str | int = 0) -> PrivateKey:
    """The run-wide key for ``(key_type, slot)``; generated once, then shared (thread-safe).

    ``slot`` is compared as text, so ``0`` and ``"0"`` name the same key. Each slot has its own lock, so
    two threads that want different RSA keys do not wait for each other.
    """
    ident = (KeyType.coerce(key_type), str(slot))
    key = _cache.get(ident)
    if key is not None:
        return key
    with _guard:
        lock = _slot_locks.setdefault(ident, threading.Lock())
    with lock:
        key = _cache.get(ident)
        if key is None:
            key = generate_key(ident[0])
            _cache[ident] = key
    return key


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    """The :class:`KeyType` of a key; ``ValueError`` for anything the harness does not issue."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        for kt, curve in _CURVES.items():
            if isinstance(key.curve, curve):
                return kt
        raise ValueError(f"unsupported elliptic curve {key.curve.name}")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        for kt, bits in _RSA_BITS.items():
            if key.key_size == bits:
                return kt
        raise ValueError(f"unsupported RSA key size {key.key_size}")
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return KeyType.ED25519
    raise ValueError(f"unsupported key type {type(key).__name__}")


def describe_key(key: object) -> str:
    """A short name for any public or private key ("p256", "rsa4096", "ec-secp521r1"); never raises.

    Reports need a name even for keys a peer sent that the harness would never issue.
    """
    try:
        return key_type_of(key).value  # type: ignore[arg-type]
    except ValueError:
        pass
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ec-{key.curve.name}"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa{key.key_size}"
    name = type(key).__name__.lower()
    for suffix in ("privatekey", "publickey"):
        name = name.removesuffix(suffix)
    return name.lstrip("_") or "unknown"


def signature_hash_for(key: PrivateKey | PublicKey) -> hashes.HashAlgorithm | None:
    """The hash a CA with this key signs certificates with (None for Ed25519, which hashes internally).

    SHA-384 for P-384 keeps the hash strength matched to the curve, as CA/B and RFC 5480 recommend.
    """
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return None
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and isinstance(
        key.curve, ec.SECP384R1
    ):
        return hashes.SHA384()
    return hashes.SHA256()


def sign_for_certificate(key: PrivateKey, tbs: bytes) -> bytes:
    """Sign TBSCertificate bytes exactly as ``CertificateBuilder.sign`` would with this key.

    Needed to re-sign TBS structures that the builder refuses to produce (negative serial, v1).
    """
    algorithm = signature_hash_for(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(tbs)
    assert algorithm is not None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(tbs, ec.ECDSA(algorithm))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(tbs, padding.PKCS1v15(), algorithm)
    raise ValueError(f"unsupported signing key {type(key).__name__}")
