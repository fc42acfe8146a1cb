"""What the checks judged, kept while the suite runs: every check call, its arguments and its verdict.

``CheckRecorder`` is installed as ``verdict.check_observer`` by the pytest plugin. Around the outermost check
call (a check that calls another is one call) it encodes the arguments *before* the check runs, runs it, and
keeps the outcome: a verdict, NOT TESTED with its reason, or an error. The verdict it returns carries the call's
id in ``Verdict.origin``, so the verdicts a scenario recorded can be traced to the call that made them, and the
call can be made again later on the same arguments (``rejudge``).

Arguments are encoded as JSON: plain values as they are; an exchange as a reference to its HAR entry (written
once, however many checks judged it); an X.509 certificate as its DER; a TLS probe result as its facts and
chain. Anything else is recorded as ``{"$unrecorded": type}``: a check that got one cannot be re-judged, and
``rejudge`` names what the record lacks instead of guessing.

Written at the end of the run into ``evidence/``: ``exchanges.har`` (``har``), ``checks.json`` (the calls, and
per scenario which call made each of its verdicts) and ``raw/``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..evidence import Exchange, TlsFacts, redact
from ..verdict import NotTested, Verdict
from . import har

EVIDENCE_DIR = "evidence"
HAR_FILE = "exchanges.har"
CHECKS_FILE = "checks.json"
CHECKS_SCHEMA_VERSION = 1


def check_name(fn: Any) -> str:
    """Where a check can be found again: ``module:qualname``."""
    return f"{fn.__module__}:{fn.__qualname__}"


class CheckRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.calls: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self._exchange_ids: dict[int, str] = {}
        #: The exchanges themselves, kept alive so that ``id()`` stays unique while the run lasts.
        self._kept: list[Exchange] = []
        self._raw_dir: Path | None = None
        self._pending_raw: dict[str, bytes] = {}
        #: Which scenario is running (set by the plugin); calls outside a scenario are kept under None.
        self.scenario: str | None = None
        #: scenario id -> the call id of each verdict it recorded, in the judge's order (None: no call)
        self.verdict_calls: dict[str, list[str | None]] = {}
        self.deselected: list[str] = []
        #: Why the run stopped before its end (the WFM stopped answering), for the re-judged roll-up.
        self.aborted: str | None = None
        #: call id -> its ``_judgedBy`` items in the HAR (the step's requirement IDs are added when it is judged)
        self._judged: dict[str, list[dict[str, Any]]] = {}

    # -- the observer ----------------------------------------------------------------------

    def __call__(self, check_fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], run: Any) -> Verdict:
        if getattr(self._local, "depth", 0):
            return run()
        self._local.depth = 1
        try:
            with self._lock:
                call_id = f"c{len(self.calls) + 1}"
                call: dict[str, Any] = {"id": call_id, "check": check_name(check_fn), "scenario": self.scenario,
                                        "args": [self._safe_encode(a) for a in args],
                                        "kwargs": {k: self._safe_encode(v) for k, v in kwargs.items()}}
                self.calls.append(call)
            try:
                verdict = run()
            except NotTested as exc:
                call["outcome"] = {"not_tested": str(getattr(exc, "msg", exc))}
                raise
            except Exception as exc:
                call["outcome"] = {"error": redact(f"{type(exc).__name__}: {exc}")}
                raise
            call["outcome"] = {"verdict": verdict.to_dict()}
            for ref in _exchange_refs(call["args"], call["kwargs"]):
                judged = {"call": call_id, "check": call["check"], "scenario": self.scenario,
                          "requirements": list(verdict.requirements)}
                self.entries[int(ref[1:]) - 1]["_judgedBy"].append(judged)
                self._judged.setdefault(call_id, []).append(judged)
            return replace(verdict, origin=call_id)
        finally:
            self._local.depth = 0

    # -- argument encoding -----------------------------------------------------------------

    def _safe_encode(self, value: Any) -> Any:
        """Recording evidence must never change a verdict: an argument that cannot be encoded is recorded as
        missing (rejudge then says so), and the check runs as it would have."""
        try:
            return self.encode(value)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the run goes on
            return {"$unrecorded": f"{type(value).__module__}.{type(value).__qualname__} ({type(exc).__name__}: {exc})"}

    def encode(self, value: Any) -> Any:
        from cryptography import x509

        from ..tlsprobe import TlsProbeResult

        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, Exchange):
            return {"$exchange": self._exchange(value)}
        if isinstance(value, bytes):
            return {"$bytes": base64.b64encode(value).decode("ascii")}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v) for v in value]}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"$dict": {k: self.encode(v) for k, v in value.items()}}
        if isinstance(value, x509.Certificate):
            from cryptography.hazmat.primitives.serialization import Encoding

            return {"$certificate": base64.b64encode(value.public_bytes(Encoding.DER)).decode("ascii")}
        if isinstance(value, TlsProbeResult):
            return {"$tlsprobe": {"ok": value.ok, "facts": har._tls_dict(value.facts),
                                  "peer_chain_der": [base64.b64encode(d).decode("ascii") for d in value.peer_chain_der]}}
        return {"$unrecorded": f"{type(value).__module__}.{type(value).__qualname__}"}

    def _exchange(self, exchange: Exchange) -> str:
        known = self._exchange_ids.get(id(exchange))
        if known is not None:
            return known
        entry_id = f"e{len(self.entries) + 1}"
        self._exchange_ids[id(exchange)] = entry_id
        self._kept.append(exchange)
        # Raw files are kept in memory until the evidence is written (the output directory is known then).
        entry = har.entry_of(exchange, entry_id, _MemoryDir(self._pending_raw))
        self.entries.append(entry)
        return entry_id

    # -- the plugin's side -------------------------------------------------------------------

    def scenario_finished(self, scenario_id: str, recorded: list[Any]) -> None:
        self.verdict_calls[scenario_id] = [getattr(r.verdict, "origin", None) for r in recorded]
        for r in recorded:  # the requirement IDs the step bound the verdict to, as the judge saw them
            for judged in self._judged.get(getattr(r.verdict, "origin", None) or "", []):
                judged["requirements"] = list(dict.fromkeys([*judged["requirements"], *r.verdict.requirements]))

    def write(self, output: Path, *, harness_version: str, role: str, profile: str) -> Path:
        evidence = output / EVIDENCE_DIR
        evidence.mkdir(parents=True, exist_ok=True)
        for name, data in self._pending_raw.items():
            (evidence / "raw").mkdir(exist_ok=True)
            (evidence / "raw" / name).write_bytes(data)
        document = har.har_document(self.entries, version=harness_version,
                                    comment=f"margo-conformance {role} run, profile {profile}: every exchange a check "
                                            "judged")
        (evidence / HAR_FILE).write_text(json.dumps(document, indent=1) + "\n")
        checks = {"schema_version": CHECKS_SCHEMA_VERSION, "role": role, "profile": profile,
                  "deselected": list(self.deselected), "aborted": self.aborted, "calls": self.calls, "verdict_calls": self.verdict_calls}
        (evidence / CHECKS_FILE).write_text(redact(json.dumps(checks, indent=1, default=str)) + "\n")
        return evidence


class _MemoryDir:
    """Stands in for ``evidence/raw`` while the run lasts: ``har.entry_of`` writes through ``/`` and ``mkdir``."""

    def __init__(self, store: dict[str, bytes]) -> None:
        self._store = store

    def mkdir(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __truediv__(self, name: str) -> _MemoryFile:
        return _MemoryFile(self._store, name)


class _MemoryFile:
    def __init__(self, store: dict[str, bytes], name: str) -> None:
        self._store, self._name = store, name

    def write_bytes(self, data: bytes) -> int:
        self._store[self._name] = data
        return len(data)


def _exchange_refs(args: list[Any], kwargs: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if "$exchange" in v:
                found.append(v["$exchange"])
                return
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(args)
    walk(kwargs)
    return list(dict.fromkeys(found))


# --- decoding (rejudge) ---------------------------------------------------------------------


class Decoder:
    """Arguments of a recorded call back as objects; ``har.MissingEvidence`` names what the record lacks."""

    def __init__(self, evidence_dir: Path, entries: list[dict[str, Any]]) -> None:
        self.evidence_dir = evidence_dir
        self._entries = {e["_id"]: e for e in entries}
        self._cache: dict[str, Exchange] = {}

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$exchange" in value:
            ref = value["$exchange"]
            if ref not in self._cache:
                entry = self._entries.get(ref)
                if entry is None:
                    raise har.MissingEvidence(f"exchange {ref} (not in exchanges.har)")
                self._cache[ref] = har.exchange_from_entry(entry, self.evidence_dir)
            return self._cache[ref]
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {k: self.decode(v) for k, v in value["$dict"].items()}
        if "$certificate" in value:
            from cryptography import x509

            return x509.load_der_x509_certificate(base64.b64decode(value["$certificate"]))
        if "$tlsprobe" in value:
            from ..tlsprobe import TlsProbeResult

            probe = value["$tlsprobe"]
            return TlsProbeResult(ok=probe["ok"], facts=TlsFacts(**probe["facts"]),
                                  peer_chain_der=[base64.b64decode(d) for d in probe["peer_chain_der"]])
        if "$unrecorded" in value:
            raise har.MissingEvidence(f"an argument of type {value['$unrecorded']} (not recorded as evidence)")
        raise har.MissingEvidence(f"an argument it cannot read back ({sorted(value)})")
