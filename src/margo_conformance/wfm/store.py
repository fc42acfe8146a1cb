"""SQLite persistence of the WFM: clients, their certificates, capability documents, trust list, audit log.

Why SQLite in WAL mode: one file in the data directory, readers never block the writer, and another process
(``margo-conformance wfm approve ID --data-dir DIR``) can change a client's state while the server runs.
``synchronous=NORMAL``: a committed transaction survives a crash of the process (what "a restart keeps
everything" needs); only a power loss may drop the last commits.

Concurrency: one connection, guarded by a lock, shared by the event-loop thread, the audit flusher and any
in-process operator or test. The hot writes of the event loop (onboarding inserts, capability upserts and
deletes) go through ``*_async``: every job queued during one loop iteration runs in one ``BEGIN IMMEDIATE``
transaction, each inside its own SAVEPOINT, with one commit for all (group commit on the loop thread), and the
queued audit rows ride along in the same commit. A batch of 32 onboardings holds the loop for a few
milliseconds; a single capability update for a few tens of microseconds. A dedicated writer thread was tried
and measured slower on two cores (the GIL hand-offs between the loop and the writer cost more than the overlap
gained: -15 % PUTs/s), so the disk work stays on the loop, in short, batched transactions. Other processes
(``wfm approve``) write through their own connection; SQLite's locking with a 5 s busy timeout orders them.
Onboarding is insert-or-get on the certificate fingerprint inside one transaction, so a storm of concurrent
onboardings can neither lose nor duplicate a client, and an answer is sent only after its commit.

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

import asyncio
import hashlib
import sqlite3
import threading
import time
import uuid
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


def _resolve(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """Hand each job's result (or error) to its future."""
    for future, result, error in items:
        if future.done():  # the caller gave up (cancelled)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Store:
    """The WFM's database. Safe to share between threads; open it from several processes at once."""

    def __init__(self, path: Path, *, audit_flush_s: float = 0.2) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._db = self._connect()
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        if int(version) != SCHEMA_VERSION:
            self._db.close()
            raise RuntimeError(f"{self.path}: schema version {version}, this WFM knows {SCHEMA_VERSION}")
        self._certs: dict[str, tuple[BoundCertificate, ...]] = {}
        self._listeners: list[Callable[[str, str], None]] = []
        self._audit_queue: deque[AuditEntry] = deque()
        self._audit_flush_s = audit_flush_s
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[Any, tuple[Any, ...], asyncio.Future[Any]]]] = {}
        self._flusher: threading.Thread | None = None
        self._flusher_lock = threading.Lock()
        self._closed = threading.Event()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @classmethod
    def in_dir(cls, data_dir: Path, **kwargs: Any) -> Store:
        return cls(Path(data_dir) / DB_NAME, **kwargs)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the shared connection, taken before any read (insert-or-get)."""
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
        """Write the audit rows still waiting and close the connection."""
        self._closed.set()
        flusher = self._flusher
        if flusher is not None:
            flusher.join(timeout=5)
        self.flush_audit()
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ group commit on the loop thread
    def _submit(self, job: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``job(db, *args)`` for this loop iteration's group commit; await the result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._run_batch, loop)
        pending.append((job, args, future))
        return future

    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, [])
        audit = self._take_audit()
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for job, args, future in batch:
                    db.execute("SAVEPOINT job")
                    try:
                        result = job(db, *args)
                    except Exception as exc:  # this job fails alone; the others of the batch still commit
                        db.execute("ROLLBACK TO job")
                        outcomes.append((future, None, exc))
                    else:
                        outcomes.append((future, result, None))
                    db.execute("RELEASE job")
                if audit:
                    self._insert_audit(db, audit)
                db.execute("COMMIT")
            except Exception as exc:  # the commit itself failed (disk full, busy for 5 s): everyone hears it
                if db.in_transaction:
                    db.execute("ROLLBACK")
                outcomes = [(future, None, exc) for _, _, future in batch]
        _resolve(outcomes)

    # ------------------------------------------------------------------ certificate cache
    def _forget_certificates(self, client_id: str) -> None:
        with self._cache_lock:
            self._certs.pop(client_id, None)

    # ------------------------------------------------------------------ clients
    def onboard(self, cert_der: bytes, *, spki_sha256: str, subject: str, state: ClientState,
                new_client_id: Callable[[], str | None] | None = None,
                client_id: str | None = None, join_same_subject: bool = False) -> tuple[ClientRecord, bool]:
        """Insert-or-get by certificate fingerprint; returns (record, created).

        A certificate already bound returns its client unchanged (re-onboarding, Q-13). Otherwise the
        certificate is bound to ``client_id`` (or what ``new_client_id()`` returns, called only when a new
        client is needed), creating that client if it does not exist, or joining it if it does: fault
        injection). ``join_same_subject`` binds it to the earliest client with the same certificate subject (the
        client-id-shared defect: a WFM that keys clients by subject DN).
        """
        with self._tx() as db:
            return self._onboard_in(db, cert_der, spki_sha256, subject, state, new_client_id, client_id, join_same_subject)

    async def onboard_async(self, cert_der: bytes, *, spki_sha256: str, subject: str, state: ClientState,
                            new_client_id: Callable[[], str | None] | None = None,
                            client_id: str | None = None, join_same_subject: bool = False) -> tuple[ClientRecord, bool]:
        """``onboard`` in this loop iteration's group commit (one commit for every onboarding waiting)."""
        return await self._submit(self._onboard_in, cert_der, spki_sha256, subject, state,  # type: ignore[no-any-return]
                                  new_client_id, client_id, join_same_subject)

    def _onboard_in(self, db: sqlite3.Connection, cert_der: bytes, spki_sha256: str, subject: str, state: str,
                    new_client_id: Callable[[], str | None] | None, client_id: str | None,
                    join_same_subject: bool = False) -> tuple[ClientRecord, bool]:
        fp = sha256_hex(cert_der)
        now = time.time()
        row = db.execute("SELECT client_id FROM certificates WHERE cert_sha256=?", (fp,)).fetchone()
        if row is not None:
            existing: str = row[0]
            created = False
        else:
            if join_same_subject and client_id is None:
                first = db.execute("SELECT client_id FROM clients WHERE subject=? ORDER BY created_at, rowid LIMIT 1",
                                   (subject,)).fetchone()
                client_id = first[0] if first else None
            existing = client_id or (new_client_id() if new_client_id is not None else None) or str(uuid.uuid4())
            exists = db.execute("SELECT 1 FROM clients WHERE client_id=?", (existing,)).fetchone()
            if exists is None:
                db.execute("INSERT INTO clients(client_id, state, subject, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?)", (existing, state, subject, now, now))
            db.execute("INSERT INTO certificates(cert_sha256, client_id, cert_der, spki_sha256, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", (fp, existing, cert_der, spki_sha256, now))
            self._forget_certificates(existing)
            created = True
        record = self._client_in(db, existing)
        assert record is not None
        return record, created

    def _client_in(self, db: sqlite3.Connection, client_id: str) -> ClientRecord | None:
        row = db.execute("SELECT client_id, state, subject, created_at, updated_at FROM clients "
                         "WHERE client_id=?", (client_id,)).fetchone()
        if row is None:
            return None
        return ClientRecord(*row, certificates=self._certificates_in(db, client_id))

    def _client_locked(self, client_id: str) -> ClientRecord | None:
        return self._client_in(self._db, client_id)

    def _certificates_in(self, db: sqlite3.Connection, client_id: str) -> tuple[BoundCertificate, ...]:
        with self._cache_lock:
            certs = self._certs.get(client_id)
        if certs is None:
            rows = db.execute("SELECT cert_sha256, cert_der, spki_sha256, created_at FROM certificates "
                              "WHERE client_id=? ORDER BY created_at", (client_id,)).fetchall()
            certs = tuple(BoundCertificate(r[0], bytes(r[1]), r[2], r[3]) for r in rows)
            with self._cache_lock:
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

    def rebind_to_new_client(self, cert_der: bytes, *, client_id: str, subject: str,
                             state: ClientState) -> ClientRecord:
        """Move a bound certificate to a new client (the revoked-reonboard-fresh-client defect: a WFM that lets a
        revoked certificate start over). KeyError when the certificate is not bound."""
        fp = sha256_hex(cert_der)
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT client_id FROM certificates WHERE cert_sha256=?", (fp,)).fetchone()
            if row is None:
                raise KeyError("the certificate is not bound to a client")
            db.execute("INSERT INTO clients(client_id, state, subject, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                       (client_id, state, subject, now, now))
            db.execute("UPDATE certificates SET client_id=? WHERE cert_sha256=?", (client_id, fp))
            self._forget_certificates(row[0])
            self._forget_certificates(client_id)
            record = self._client_locked(client_id)
        assert record is not None
        return record

    def clear(self) -> None:
        """Forget every client, certificate, capability document and trust entry (the audit log stays):
        a clean WFM for the next scenario of a shared simulated WFM."""
        with self._tx() as db:
            for table in ("capabilities", "certificates", "clients", "trusted"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        with self._cache_lock:
            self._certs.clear()

    # ------------------------------------------------------------------ capabilities
    def put_capabilities(self, client_id: str, device_id: str, document: str) -> bool:
        """Store the full document (PUT replaces); True when the device had no document before."""
        with self._tx() as db:
            return self._put_in(db, client_id, device_id, document)

    async def put_capabilities_async(self, client_id: str, device_id: str, document: str) -> bool:
        return await self._submit(self._put_in, client_id, device_id, document)  # type: ignore[no-any-return]

    @staticmethod
    def _put_in(db: sqlite3.Connection, client_id: str, device_id: str, document: str) -> bool:
        now = time.time()
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
        with self._tx() as db:
            return self._delete_in(db, client_id, device_id)

    async def delete_capabilities_async(self, client_id: str, device_id: str) -> int:
        return await self._submit(self._delete_in, client_id, device_id)  # type: ignore[no-any-return]

    @staticmethod
    def _delete_in(db: sqlite3.Connection, client_id: str, device_id: str) -> int:
        if db.execute("SELECT 1 FROM capabilities WHERE client_id=? AND device_id=?",
                      (client_id, device_id)).fetchone() is None:
            return 0
        escaped = device_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
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
        """Queue one audit row. Rows ride along with the next group commit; a background thread writes
        whatever is left every ``audit_flush_s`` seconds (e.g. under a load of refused requests)."""
        self._audit_queue.append(entry)
        if self._flusher is None:
            with self._flusher_lock:
                if self._flusher is None and not self._closed.is_set():
                    self._flusher = threading.Thread(target=self._flush_loop, name="wfm-audit", daemon=True)
                    self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed.wait(self._audit_flush_s):
            try:
                self.flush_audit()
            except sqlite3.Error:  # busy from another process: retry on the next tick
                pass

    def _take_audit(self) -> list[AuditEntry]:
        batch: list[AuditEntry] = []
        while self._audit_queue:
            try:
                batch.append(self._audit_queue.popleft())
            except IndexError:  # another thread took the last one
                break
        return batch

    @staticmethod
    def _insert_audit(db: sqlite3.Connection, batch: list[AuditEntry]) -> None:
        db.executemany("INSERT INTO audit(ts, method, path, status, problem_type, check_name, client_id, remote, "
                       "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(e.ts, e.method, e.path, e.status, e.problem_type, e.check, e.client_id, e.remote, e.note)
                        for e in batch])

    def flush_audit(self) -> int:
        """Write the queued audit rows now, on the calling thread."""
        batch = self._take_audit()
        if batch:
            with self._tx() as db:
                self._insert_audit(db, batch)
        return len(batch)

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        """The most recent audit rows, oldest first (flushes the queue first)."""
        self.flush_audit()
        rows = self._query("SELECT ts, method, path, status, problem_type, check_name, client_id, remote, note "
                           "FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry(*r) for r in reversed(rows)]
