"""SQLite persistence of the WFM: clients, their certificates, capability documents, trust list, audit log.

Why SQLite in WAL mode: one file in the data directory, readers never block the writer, and another process
(``margo-conformance wfm approve ID --data-dir DIR``) can change a client's state while the server runs.
``synchronous=NORMAL``: a committed transaction survives a crash of the process (what "a restart keeps
everything" needs); only a power loss may drop the last commits.

Concurrency: one connection, guarded by a lock, shared by the event-loop thread, the audit flusher and any
in-process operator. Every transaction is a few statements on primary keys (tens of microseconds), so the
event loop is never held for long; audit rows, the one write per request, are queued and written in batches
by a background thread. Onboarding is insert-or-get on the certificate fingerprint inside one
``BEGIN IMMEDIATE`` transaction, so a storm of concurrent onboardings can neither lose nor duplicate a client.

Schema (``schema_version`` 1):

- ``clients(client_id PK, state, subject, created_at, updated_at)``; state is pending, approved, rejected or
  revoked.
- ``certificates(cert_sha256 PK, client_id, cert_der, spki_sha256, created_at)``: the certificates bound to a
  client (exactly one in the clean server; the binding of ONB-14).
- ``capabilities(client_id, device_id, document, created_at, updated_at)``, PK (client_id, device_id): the
  last full document PUT for each device (PUT replaces; DIGEST 3.3).
- ``trusted(kind, sha256, der, added_at)``: allow-listed issuing CAs (kind 'issuer') and pre-registered client
  certificates (kind 'certificate'), CERT-12.
- ``audit(id, ts, method, path, status, problem_type, check_name, client_id, remote, note)``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ClientState = Literal["pending", "approved", "rejected", "revoked"]
CLIENT_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "revoked")
DB_NAME = "wfm.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked')),
    subject TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    cert_sha256 TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(client_id),
    cert_der BLOB NOT NULL,
    spki_sha256 TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_client ON certificates(client_id);
CREATE INDEX IF NOT EXISTS certificates_spki ON certificates(spki_sha256);
CREATE TABLE IF NOT EXISTS capabilities (
    client_id TEXT NOT NULL REFERENCES clients(client_id),
    device_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (client_id, device_id)
);
CREATE TABLE IF NOT EXISTS trusted (
    kind TEXT NOT NULL CHECK (kind IN ('issuer', 'certificate')),
    sha256 TEXT NOT NULL,
    der BLOB NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (kind, sha256)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER,
    problem_type TEXT,
    check_name TEXT,
    client_id TEXT,
    remote TEXT,
    note TEXT
);
"""


@dataclass(frozen=True)
class BoundCertificate:
    sha256: str
    der: bytes
    spki_sha256: str
    created_at: float


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    state: str
    subject: str
    created_at: float
    updated_at: float
    certificates: tuple[BoundCertificate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (fingerprints, never certificate bytes)."""
        return {
            "clientId": self.client_id,
            "state": self.state,
            "subject": self.subject,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "certificates": [c.sha256 for c in self.certificates],
        }


@dataclass(frozen=True)
class AuditEntry:
    ts: float
    method: str
    path: str
    status: int | None
    problem_type: str | None = None
    check: str | None = None
    client_id: str | None = None
    remote: str | None = None
    note: str | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    """The WFM's database. Safe to share between threads; open it from several processes at once."""

    def __init__(self, path: Path, *, audit_flush_s: float = 0.2) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        if int(version) != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: schema version {version}, this WFM knows {SCHEMA_VERSION}")
        self._certs: dict[str, tuple[BoundCertificate, ...]] = {}
        self._listeners: list[Callable[[str, str], None]] = []
        self._audit_queue: deque[AuditEntry] = deque()
        self._audit_flush_s = audit_flush_s
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    @classmethod
    def in_dir(cls, data_dir: Path, **kwargs: Any) -> Store:
        return cls(Path(data_dir) / DB_NAME, **kwargs)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken before any read so that insert-or-get is atomic."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """Called with (client_id, new state) after an in-process state change commits."""
        self._listeners.append(listener)

    def close(self) -> None:
        self._closed.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush_audit()
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ clients
    def onboard(self, cert_der: bytes, *, spki_sha256: str, subject: str, state: ClientState,
                new_client_id: Callable[[], str], client_id: str | None = None) -> tuple[ClientRecord, bool]:
        """Insert-or-get by certificate fingerprint; returns (record, created).

        A certificate already bound returns its client unchanged (re-onboarding, Q-13). Otherwise the
        certificate is bound to ``client_id`` when given (creating that client if it does not exist, or
        joining it if it does: fault injection and the client-id-shared defect), else to a new id.
        """
        fp = sha256_hex(cert_der)
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT client_id FROM certificates WHERE cert_sha256=?", (fp,)).fetchone()
            if row is not None:
                existing: str = row[0]
                created = False
            else:
                existing = client_id or new_client_id()
                exists = db.execute("SELECT 1 FROM clients WHERE client_id=?", (existing,)).fetchone()
                if exists is None:
                    db.execute("INSERT INTO clients(client_id, state, subject, created_at, updated_at) "
                               "VALUES (?, ?, ?, ?, ?)", (existing, state, subject, now, now))
                db.execute("INSERT INTO certificates(cert_sha256, client_id, cert_der, spki_sha256, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (fp, existing, cert_der, spki_sha256, now))
                self._certs.pop(existing, None)
                created = True
            record = self._client_locked(existing)
        assert record is not None
        return record, created

    def _client_locked(self, client_id: str) -> ClientRecord | None:
        row = self._db.execute("SELECT client_id, state, subject, created_at, updated_at FROM clients "
                               "WHERE client_id=?", (client_id,)).fetchone()
        if row is None:
            return None
        return ClientRecord(*row, certificates=self._certificates_locked(client_id))

    def _certificates_locked(self, client_id: str) -> tuple[BoundCertificate, ...]:
        certs = self._certs.get(client_id)
        if certs is None:
            rows = self._db.execute("SELECT cert_sha256, cert_der, spki_sha256, created_at FROM certificates "
                                    "WHERE client_id=? ORDER BY created_at", (client_id,)).fetchall()
            certs = tuple(BoundCertificate(r[0], bytes(r[1]), r[2], r[3]) for r in rows)
            self._certs[client_id] = certs
        return certs

    def client(self, client_id: str) -> ClientRecord | None:
        """The client with its bound certificates (state read fresh: another process may have changed it)."""
        with self._lock:
            return self._client_locked(client_id)

    def client_for_certificate(self, cert_sha256: str) -> ClientRecord | None:
        """The client a certificate (by SHA-256 of its DER) is bound to, if any."""
        rows = self._query("SELECT client_id FROM certificates WHERE cert_sha256=?", (cert_sha256,))
        return self.client(rows[0][0]) if rows else None

    def client_by_spki(self, spki_sha256: str) -> ClientRecord | None:
        rows = self._query("SELECT client_id FROM certificates WHERE spki_sha256=? ORDER BY created_at LIMIT 1",
                           (spki_sha256,))
        return self.client(rows[0][0]) if rows else None

    def first_client_id(self) -> str | None:
        rows = self._query("SELECT client_id FROM clients ORDER BY created_at, rowid LIMIT 1")
        return rows[0][0] if rows else None

    def clients(self, state: str | None = None) -> list[ClientRecord]:
        with self._lock:
            if state is None:
                ids = self._db.execute("SELECT client_id FROM clients ORDER BY created_at, rowid").fetchall()
            else:
                ids = self._db.execute("SELECT client_id FROM clients WHERE state=? ORDER BY created_at, rowid",
                                       (state,)).fetchall()
            return [r for (cid,) in ids if (r := self._client_locked(cid)) is not None]

    def set_state(self, client_id: str, state: ClientState) -> ClientRecord:
        """Operator decision (approve, reject, revoke). KeyError for an unknown client."""
        if state not in CLIENT_STATES:
            raise ValueError(f"unknown client state {state!r}")
        with self._tx() as db:
            cur = db.execute("UPDATE clients SET state=?, updated_at=? WHERE client_id=?",
                             (state, time.time(), client_id))
            if cur.rowcount == 0:
                raise KeyError(f"no client {client_id!r}")
            record = self._client_locked(client_id)
        for listener in list(self._listeners):
            listener(client_id, state)
        assert record is not None
        return record

    def clear(self) -> None:
        """Forget every client, certificate, capability document and trust entry (the audit log stays):
        a clean WFM for the next scenario of a shared simulated WFM."""
        with self._tx() as db:
            for table in ("capabilities", "certificates", "clients", "trusted"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._certs.clear()

    # ------------------------------------------------------------------ capabilities
    def put_capabilities(self, client_id: str, device_id: str, document: str) -> bool:
        """Store the full document (PUT replaces); True when the device had no document before."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute("UPDATE capabilities SET document=?, updated_at=? WHERE client_id=? AND device_id=?",
                             (document, now, client_id, device_id))
            if cur.rowcount:
                return False
            db.execute("INSERT INTO capabilities(client_id, device_id, document, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?)", (client_id, device_id, document, now, now))
            return True

    def has_device(self, client_id: str, device_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM capabilities WHERE client_id=? AND device_id=?",
                                (client_id, device_id)))

    def capabilities(self, client_id: str, device_id: str) -> str | None:
        rows = self._query("SELECT document FROM capabilities WHERE client_id=? AND device_id=?",
                           (client_id, device_id))
        return rows[0][0] if rows else None

    def devices(self, client_id: str) -> list[str]:
        return [r[0] for r in self._query("SELECT device_id FROM capabilities WHERE client_id=? ORDER BY device_id",
                                          (client_id,))]

    def delete_capabilities(self, client_id: str, device_id: str) -> int:
        """Remove a device and everything reported below it (children cannot outlive their gateway, CAP-13).
        Returns the number of documents removed (0: the device was unknown)."""
        escaped = device_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._tx() as db:
            if db.execute("SELECT 1 FROM capabilities WHERE client_id=? AND device_id=?",
                          (client_id, device_id)).fetchone() is None:
                return 0
            cur = db.execute("DELETE FROM capabilities WHERE client_id=? AND (device_id=? OR device_id LIKE ? "
                             "ESCAPE '\\')", (client_id, device_id, escaped + "/%"))
            return cur.rowcount

    # ------------------------------------------------------------------ trust list (CERT-12)
    def add_trusted(self, kind: Literal["issuer", "certificate"], der: bytes) -> str:
        fp = sha256_hex(der)
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO trusted(kind, sha256, der, added_at) VALUES (?, ?, ?, ?)",
                       (kind, fp, der, time.time()))
        return fp

    def trusted(self, kind: Literal["issuer", "certificate"]) -> list[bytes]:
        return [bytes(r[0]) for r in self._query("SELECT der FROM trusted WHERE kind=? ORDER BY added_at", (kind,))]

    def is_certificate_preregistered(self, cert_sha256: str) -> bool:
        return bool(self._query("SELECT 1 FROM trusted WHERE kind='certificate' AND sha256=?", (cert_sha256,)))

    # ------------------------------------------------------------------ audit
    def audit(self, entry: AuditEntry) -> None:
        """Queue one audit row; a background thread writes them in batches."""
        self._audit_queue.append(entry)
        if self._flusher is None:
            with self._lock:
                if self._flusher is None and not self._closed.is_set():
                    self._flusher = threading.Thread(target=self._flush_loop, name="wfm-audit", daemon=True)
                    self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed.wait(self._audit_flush_s):
            try:
                self.flush_audit()
            except sqlite3.Error:  # a busy database from another process: retry on the next tick
                pass

    def flush_audit(self) -> int:
        batch: list[AuditEntry] = []
        while self._audit_queue:
            batch.append(self._audit_queue.popleft())
        if not batch:
            return 0
        with self._tx() as db:
            db.executemany("INSERT INTO audit(ts, method, path, status, problem_type, check_name, client_id, remote, "
                           "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(e.ts, e.method, e.path, e.status, e.problem_type, e.check, e.client_id, e.remote, e.note)
                            for e in batch])
        return len(batch)

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        """The most recent audit rows, oldest first (flushes the queue first)."""
        self.flush_audit()
        rows = self._query("SELECT ts, method, path, status, problem_type, check_name, client_id, remote, note "
                           "FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry(*r) for r in reversed(rows)]
