"""SQLite persistence of the reference MIAF WFM: the accepted-client policy, the trust bundle, capability records
keyed by (caller SPIFFE ID, deviceId), and an audit log.

Same style as ``wfm/store.py`` (WAL, ``synchronous=NORMAL``, one lock-guarded connection shared by the server's
loop and in-process operators, a 5 s busy timeout so ``margo-conformance wfm add-client --data-dir D`` from another
process can change the policy while the server runs). Its own file name (``miaf-wfm.sqlite3``), so one data
directory can hold both profiles' WFMs without mixing their tables.

Tables (``schema_version`` 1):

- ``policy(spiffe_id PK, state, added_at, updated_at)``: state ``active`` or ``retired`` (MID-11, MID-12). Read on
  every request, so a retirement applies to the next request even on a kept-alive connection (MTLS-08, Q-61).
- ``capabilities(caller, device_id, document, created_at, updated_at)``, PK (caller, device_id): per-caller
  scoping (MID-08, MID-09); a PUT replaces the whole document (MCAP-05).
- ``meta``: ``trust_domain`` and ``wfm_id`` of the server, ``policy_mode`` (allowlist | namespace, Q-65), ``trust_bundle`` (PEM anchors) and its ``bundle_version``,
  ``maintenance`` (on | off) and ``rate_limit`` (requests per second per client, 0 = none): MRTY-01/02.
- ``audit(ts, method, path, status, check_name, caller, remote, note)``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DB_NAME = "miaf-wfm.sqlite3"
SCHEMA_VERSION = 1
PolicyMode = Literal["allowlist", "namespace"]
POLICY_MODES: tuple[str, ...] = ("allowlist", "namespace")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy (
    spiffe_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS capabilities (
    caller TEXT NOT NULL,
    device_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (caller, device_id)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER,
    check_name TEXT,
    caller TEXT,
    remote TEXT,
    note TEXT
);
"""


@dataclass(frozen=True)
class PolicyEntry:
    spiffe_id: str
    state: str
    added_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"spiffeId": self.spiffe_id, "state": self.state, "addedAt": self.added_at,
                "updatedAt": self.updated_at}


class MiafStore:
    """The MIAF WFM's database; safe to share between threads, and to open from several processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = self._meta("schema_version")
        if version != str(SCHEMA_VERSION):
            self._db.close()
            raise RuntimeError(f"{self.path}: schema version {version}, this WFM knows {SCHEMA_VERSION}")

    @classmethod
    def in_dir(cls, data_dir: Path) -> MiafStore:
        return cls(Path(data_dir) / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                             (key, value))

    # ------------------------------------------------------------------ the WFM's own identity
    def identity(self) -> tuple[str | None, str | None]:
        """(trust domain, wfm-id) the server last started with, so operator commands can check client IDs."""
        return self._meta("trust_domain"), self._meta("wfm_id")

    def set_identity(self, trust_domain: str, wfm_id: str) -> None:
        self._set_meta("trust_domain", trust_domain)
        self._set_meta("wfm_id", wfm_id)

    # ------------------------------------------------------------------ transient states (MRTY-01/02)
    def maintenance(self) -> bool:
        """Whether the operator has put the WFM into maintenance (every MI request: 503 + Retry-After)."""
        return self._meta("maintenance") == "on"

    def set_maintenance(self, on: bool) -> None:
        self._set_meta("maintenance", "on" if on else "off")

    def rate_limit(self) -> int | None:
        """Requests per second one client may make (None: unlimited); the excess gets 429 + Retry-After."""
        value = self._meta("rate_limit")
        return int(value) if value and value.isdigit() and int(value) > 0 else None

    def set_rate_limit(self, per_second: int | None) -> None:
        self._set_meta("rate_limit", str(per_second or 0))

    # ------------------------------------------------------------------ policy
    def policy_mode(self) -> PolicyMode:
        mode = self._meta("policy_mode") or "allowlist"
        return mode if mode in POLICY_MODES else "allowlist"  # type: ignore[return-value]

    def set_policy_mode(self, mode: str) -> None:
        if mode not in POLICY_MODES:
            raise ValueError(f"policy mode must be allowlist or namespace (Q-65), not {mode!r}")
        self._set_meta("policy_mode", mode)

    def policy_state(self, spiffe_id: str) -> str | None:
        """``active``, ``retired`` or None (not on the policy)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM policy WHERE spiffe_id=?", (spiffe_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_policy(self, spiffe_id: str, state: Literal["active", "retired"]) -> PolicyEntry:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO policy(spiffe_id, state, added_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(spiffe_id) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
                (spiffe_id, state, now, now))
            row = self._db.execute("SELECT spiffe_id, state, added_at, updated_at FROM policy WHERE spiffe_id=?",
                                   (spiffe_id,)).fetchone()
        return PolicyEntry(*row)

    def policy(self) -> list[PolicyEntry]:
        with self._lock:
            rows = self._db.execute("SELECT spiffe_id, state, added_at, updated_at FROM policy "
                                    "ORDER BY added_at, spiffe_id").fetchall()
        return [PolicyEntry(*r) for r in rows]

    # ------------------------------------------------------------------ trust bundle
    def trust_bundle(self) -> tuple[bytes | None, int]:
        """(PEM anchors or None, version): the version grows with every replacement."""
        pem = self._meta("trust_bundle")
        return (pem.encode() if pem else None), int(self._meta("bundle_version") or 0)

    def set_trust_bundle(self, pem: bytes) -> int:
        with self._lock:
            _, version = self.trust_bundle()
            self._set_meta("trust_bundle", pem.decode("ascii"))
            self._set_meta("bundle_version", str(version + 1))
        return version + 1

    # ------------------------------------------------------------------ capabilities
    def put_capabilities(self, caller: str, device_id: str, document: str) -> bool:
        """Replace the caller's document for the device; True when it was created."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                exists = self._db.execute("SELECT 1 FROM capabilities WHERE caller=? AND device_id=?",
                                          (caller, device_id)).fetchone()
                if exists:
                    self._db.execute("UPDATE capabilities SET document=?, updated_at=? WHERE caller=? AND device_id=?",
                                     (document, now, caller, device_id))
                else:
                    self._db.execute("INSERT INTO capabilities(caller, device_id, document, created_at, updated_at) "
                                     "VALUES (?, ?, ?, ?, ?)", (caller, device_id, document, now, now))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return exists is None

    def has_capabilities(self, caller: str, device_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM capabilities WHERE caller=? AND device_id=?",
                                    (caller, device_id)).fetchone() is not None

    def delete_capabilities(self, caller: str, device_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM capabilities WHERE caller=? AND device_id=?", (caller, device_id))
        return cur.rowcount > 0

    def owners(self, device_id: str) -> list[str]:
        """Every caller holding a record of ``device_id`` (only the cross-client defect looks)."""
        with self._lock:
            rows = self._db.execute("SELECT caller FROM capabilities WHERE device_id=? ORDER BY created_at",
                                    (device_id,)).fetchall()
        return [r[0] for r in rows]

    def capabilities(self, caller: str | None = None) -> list[tuple[str, str, str]]:
        """(caller, device_id, document) rows, for tests and operators."""
        with self._lock:
            if caller is None:
                rows = self._db.execute("SELECT caller, device_id, document FROM capabilities "
                                        "ORDER BY caller, device_id").fetchall()
            else:
                rows = self._db.execute("SELECT caller, device_id, document FROM capabilities WHERE caller=? "
                                        "ORDER BY device_id", (caller,)).fetchall()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    # ------------------------------------------------------------------ audit
    def audit(self, *, method: str, path: str, status: int | None, check: str | None, caller: str | None,
              remote: str | None, note: str | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO audit(ts, method, path, status, check_name, caller, remote, note) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (time.time(), method, path[:2048], status, check, caller, remote, note))

    def audit_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT ts, method, path, status, check_name, caller, remote, note FROM audit "
                                    "ORDER BY id").fetchall()
        keys = ("ts", "method", "path", "status", "check", "caller", "remote", "note")
        return [dict(zip(keys, r)) for r in rows]
