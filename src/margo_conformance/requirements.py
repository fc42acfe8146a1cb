"""The requirement catalog (``fixtures/requirements.yaml``): the IDs every scenario, finding and report cites.

Why strict loading: reports roll verdicts up per requirement and the coverage test fails on a MUST
without a scenario, so a misspelt level, an unknown profile or a dangling interpretation ID would
quietly change what "conformant" means. Every such slip is a :class:`ConfigError` naming the entry.

Two levels per requirement, on purpose: ``level`` is what the spec text gives (MUST, IMPL, SILENT...),
``verdict_level`` is how a failure counts in our verdicts (MUST, SHOULD or MAY). IMPL routes and codes
count as MUST; EX, SILENT, CONTRADICTION and INFORMATIVE count as MAY; exceptions carry a ``note``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError
from .resources import REQUIREMENTS_FILE

__all__ = [
    "Level",
    "LEVELS",
    "VERDICT_LEVELS",
    "BINDS",
    "DEFAULT_VERDICT",
    "Requirement",
    "RoleLevel",
    "Question",
    "Profile",
    "Catalog",
    "load_catalog",
]

Level = Literal["MUST", "SHOULD", "MAY", "IMPL", "EX", "SILENT", "CONTRADICTION", "INFORMATIVE"]
LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "MAY", "IMPL", "EX", "SILENT", "CONTRADICTION", "INFORMATIVE")
VERDICT_LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "MAY")  # strongest first
BINDS: tuple[str, ...] = ("wfm", "device", "both")
#: How a failure counts when the catalog does not say otherwise; also the strongest it may count.
DEFAULT_VERDICT: dict[str, str] = {
    "MUST": "MUST",
    "IMPL": "MUST",
    "SHOULD": "SHOULD",
    "MAY": "MAY",
    "EX": "MAY",
    "SILENT": "MAY",
    "CONTRADICTION": "MAY",
    "INFORMATIVE": "MAY",
}

#: A requirement ID as the catalog writes it (SIG-11, TLS-M1): the one pattern steps and reports parse with.
from .patterns import QUESTION_ID_RE as _Q_RE, REQUIREMENT_ID, REQUIREMENT_ID_RE as _ID_RE, question_sort_key  # noqa: E402,F401
_PROFILE_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_SOURCE_RE = re.compile(r"^[^\s@]+@[0-9a-f]{7,40}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_REQ_KEYS = {
    "id",
    "level",
    "verdict_level",
    "binds",
    "profiles",
    "text",
    "source",
    "interpretations",
    "note",
    "digest_level",
    "verified_by",
    "role_levels",
}
#: How a requirement is verified: by a scenario of a suite, or by the vendor's attestation (conformance
#: statement) where no automated test can judge it (e.g. downtime tolerance, GEN-05).
VERIFIED_BY = ("scenario", "attestation")
_REQUIRED_REQ_KEYS = ("id", "level", "binds", "profiles", "text", "source")


@dataclass(frozen=True)
class RoleLevel:
    role: str
    level: str  # MUST | SHOULD | MAY
    by: str | None  # the Q-ID a level above the text rests on

    def __str__(self) -> str:
        return self.level


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str  # one of LEVELS: what the spec text gives
    binds: str  # "wfm" | "device" | "both"
    profiles: tuple[str, ...]
    text: str  # our one-line wording
    source: str  # "file@commit[, file@commit...]"
    interpretations: tuple[str, ...]  # Q-IDs it rests on
    verdict_level: str  # MUST | SHOULD | MAY: how a failure counts
    sources: tuple[str, ...] = ()  # the same sources, one per item
    note: str | None = None  # why a level or binding was chosen, when not obvious
    digest_level: str | None = None  # the DIGEST's own wording of a mixed level, e.g. "MUST (prose) vs SHOULD (yaml)"
    verified_by: str = "scenario"  # "scenario" | "attestation"
    #: How a failure counts on one side when it differs from ``verdict_level`` (DIGEST 6.1): e.g. GEN-03 is a
    #: MUST, but the WFM side sees only a configured URL, so it is judged at SHOULD there. A role level raised
    #: above what the text gives rests on an interpretation (``by``), so its failures land on that axis.
    role_levels: tuple[RoleLevel, ...] = ()

    def level_for(self, role: str | None) -> RoleLevel:
        """The verdict level (and the interpretation it rests on, if any) for a SUT of ``role``."""
        for rl in self.role_levels:
            if rl.role == role:
                return rl
        return RoleLevel(role or "both", self.verdict_level, None)

    def binds_role(self, role: str) -> bool:
        """True when the requirement applies to a SUT of ``role`` ("wfm" or "device"); "both" applies to each."""
        return self.binds == role or self.binds == "both" or role == "both"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["profiles"] = list(self.profiles)
        data["interpretations"] = list(self.interpretations)
        data["sources"] = list(self.sources)
        data["role_levels"] = [asdict(rl) for rl in self.role_levels]
        return data


@dataclass(frozen=True)
class Question:
    """An interpretation (DIGEST section 6): a point the spec leaves open, and the position we take."""

    id: str
    summary: str
    position: str
    #: The answers our position prefers (status codes or short phrases); a SUT that gives one of them
    #: shows no deviation. Empty when the question is not about a choice of answer.
    preferred: tuple[Any, ...] = ()
    #: Other answers the position accepts (a named deviation on the interpretation axis, never a must failure).
    alternatives: tuple[Any, ...] = ()

    def choice(self, observed: Any) -> str:
        """Which of the listed answers ``observed`` is: "preferred", "alternative" or "other"."""
        if observed in self.preferred:
            return "preferred"
        return "alternative" if observed in self.alternatives else "other"

    @property
    def question(self) -> str:
        """The open point itself (alias of ``summary``, the name reports use)."""
        return self.summary

    def get(self, key: str, default: str | None = None) -> str | None:
        """Mapping-style access for code that treats an interpretation as a dict ("question" = summary)."""
        return {"id": self.id, "summary": self.summary, "question": self.summary, "position": self.position}.get(
            key, default
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preferred"], data["alternatives"] = list(self.preferred), list(self.alternatives)
        return data


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    baseline_commit: str
    repository: str = "margo/specification"
    sources: tuple[str, ...] = ()
    note: str | None = None

    @property
    def baseline(self) -> str:
        """The spec text the profile is read from, as reports stamp it: ``repository@commit``."""
        return f"{self.repository}@{self.baseline_commit}"


class Catalog:
    """Read-only view of the catalog; the order of ``all()`` is the order of the file."""

    def __init__(
        self,
        requirements: list[Requirement],
        questions: list[Question] | None = None,
        profiles: list[Profile] | None = None,
        *,
        path: Path | None = None,
    ) -> None:
        self._requirements = list(requirements)
        self._by_id = {r.id: r for r in self._requirements}
        self._questions = {q.id: q for q in (questions or [])}
        self._profiles = {p.name: p for p in (profiles or [])}
        self.path = path

    # -- requirements
    def get(self, req_id: str) -> Requirement:
        try:
            return self._by_id[req_id]
        except KeyError:
            close = difflib.get_close_matches(req_id, list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"requirement {req_id!r} is not in the catalog{hint}") from None

    def __contains__(self, req_id: object) -> bool:
        return req_id in self._by_id

    def __len__(self) -> int:
        return len(self._requirements)

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._requirements)

    def all(self) -> list[Requirement]:
        return list(self._requirements)

    def select(
        self,
        *,
        level: str | None = None,
        profile: str | None = None,
        binds: str | None = None,
        verdict_level: str | None = None,
    ) -> list[Requirement]:
        """Requirements in file order matching every filter given.

        ``binds="wfm"`` (or ``"device"``) also selects requirements that bind ``both``: it answers "what
        applies to a SUT of this role". ``binds="both"`` selects only those binding both sides.
        """
        if level is not None and level not in LEVELS:
            raise ConfigError(f"unknown level {level!r}; known: {', '.join(LEVELS)}")
        if verdict_level is not None and verdict_level not in VERDICT_LEVELS:
            raise ConfigError(f"unknown verdict level {verdict_level!r}; known: {', '.join(VERDICT_LEVELS)}")
        if binds is not None and binds not in BINDS:
            raise ConfigError(f"unknown binds {binds!r}; known: {', '.join(BINDS)}")
        if profile is not None and self._profiles and profile not in self._profiles:
            raise ConfigError(f"unknown profile {profile!r}; known: {', '.join(self._profiles)}")
        out = []
        for r in self._requirements:
            if level is not None and r.level != level:
                continue
            if verdict_level is not None and r.verdict_level != verdict_level:
                continue
            if profile is not None and profile not in r.profiles:
                continue
            if binds is not None and not (r.binds == binds or (binds != "both" and r.binds == "both")):
                continue
            out.append(r)
        return out

    def ids(
        self,
        *,
        level: str | None = None,
        profile: str | None = None,
        binds: str | None = None,
        verdict_level: str | None = None,
    ) -> set[str]:
        """IDs matching the filters (see :meth:`select`; ``level`` is the spec level, ``verdict_level``
        how a failure counts: the coverage test wants ``verdict_level="MUST"``, which includes IMPL)."""
        return {r.id for r in self.select(level=level, profile=profile, binds=binds, verdict_level=verdict_level)}

    def strongest_verdict(self, *req_ids: str) -> str:
        """How a failure bound to several requirements counts: the strongest of their verdict levels."""
        if not req_ids:
            raise ValueError("strongest_verdict needs at least one requirement ID")
        return min((self.get(i).verdict_level for i in req_ids), key=VERDICT_LEVELS.index)

    # -- interpretations and profiles
    def question(self, qid: str) -> Question:
        try:
            return self._questions[qid]
        except KeyError:
            raise KeyError(f"interpretation {qid!r} is not in the catalog's questions") from None

    def questions(self) -> list[Question]:
        return sorted(self._questions.values(), key=lambda q: question_sort_key(q.id))

    def interpretations_of(self, req_ids: list[str] | tuple[str, ...] | set[str]) -> list[Question]:
        """The interpretations a set of requirements rests on (what a report lists under 'readings')."""
        qids = sorted({q for i in req_ids for q in self.get(i).interpretations})
        return [self.question(q) for q in qids]

    def profile(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise KeyError(f"profile {name!r} is not in the catalog; known: {', '.join(self._profiles)}") from None

    def profiles(self) -> list[Profile]:
        return list(self._profiles.values())


# --------------------------------------------------------------------------------------------------
# Loading


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and check the catalog (default ``fixtures/requirements.yaml``); ConfigError on any defect.

    Cached per file and modification time, so steps may call it freely.
    """
    target = Path(path) if path is not None else REQUIREMENTS_FILE
    try:
        stat = os.stat(target)
    except OSError as exc:
        raise ConfigError(f"cannot read the requirement catalog {target}: {exc.strerror or exc}") from exc
    return _load_cached(str(target.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Catalog:
    return _parse(Path(path))


def _parse(path: Path) -> Catalog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the requirement catalog {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"requirement catalog {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"requirement catalog {path}: the top level must be a mapping")
    unknown = set(data) - {"profiles", "questions", "requirements"}
    if unknown:
        raise ConfigError(f"requirement catalog {path}: unknown top-level keys {sorted(unknown)}")
    profiles = _parse_profiles(path, data.get("profiles"))
    questions = _parse_questions(path, data.get("questions"))
    raw_reqs = data.get("requirements")
    if not isinstance(raw_reqs, list) or not raw_reqs:
        raise ConfigError(f"requirement catalog {path}: 'requirements' must be a non-empty list")
    known_profiles = {p.name for p in profiles}
    known_questions = {q.id for q in questions}
    requirements: list[Requirement] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(raw_reqs, start=1):
        req = _parse_requirement(path, number, entry, known_profiles, known_questions)
        if req.id in seen:
            raise ConfigError(f"{path}: duplicate requirement ID {req.id} (entries #{seen[req.id]} and #{number})")
        seen[req.id] = number
        requirements.append(req)
    return Catalog(requirements, questions, profiles, path=path)


def _parse_profiles(path: Path, raw: object) -> list[Profile]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{path}: 'profiles' must be a non-empty mapping of profile name to its description")
    out = []
    for name, body in raw.items():
        where = f"{path}: profile {name!r}"
        if not isinstance(name, str) or not _PROFILE_RE.match(name):
            raise ConfigError(f"{where}: a profile name is lower-case letters, digits, '.' and '-'")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: must be a mapping")
        commit = body.get("baseline_commit")
        if not isinstance(commit, str) or not _COMMIT_RE.match(commit):
            raise ConfigError(f"{where}: baseline_commit must be a full 40-hex commit, not {commit!r}")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ConfigError(f"{where}: needs a title")
        sources = body.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) and _SOURCE_RE.match(s) for s in sources):
            raise ConfigError(f"{where}: sources must be a list of file@commit")
        out.append(
            Profile(
                name=name,
                title=title.strip(),
                baseline_commit=commit,
                repository=str(body.get("repository", "margo/specification")),
                sources=tuple(sources),
                note=body.get("note"),
            )
        )
    return out


def _parse_questions(path: Path, raw: object) -> list[Question]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: 'questions' must be a list")
    out: list[Question] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: question #{number} must be a mapping")
        qid = entry.get("id")
        if not isinstance(qid, str) or not _Q_RE.match(qid):
            raise ConfigError(f"{path}: question #{number} has a malformed ID {qid!r} (expected Q-NN)")
        if qid in seen:
            raise ConfigError(f"{path}: duplicate question ID {qid}")
        seen.add(qid)
        summary, position = entry.get("summary"), entry.get("position")
        for key, value in (("summary", summary), ("position", position)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{path}: question {qid} needs a one-line {key}")
        answers = {}
        for key in ("preferred", "alternatives"):
            value = entry.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, (int, str)) for v in value):
                raise ConfigError(f"{path}: question {qid}: {key} must be a list of status codes or phrases")
            answers[key] = tuple(value)
        if answers["alternatives"] and not answers["preferred"]:
            raise ConfigError(f"{path}: question {qid} lists alternatives but no preferred answer")
        unknown = set(entry) - {"id", "summary", "position", "preferred", "alternatives"}
        if unknown:
            raise ConfigError(f"{path}: question {qid}: unknown keys {sorted(unknown)}")
        out.append(Question(qid, str(summary).strip(), str(position).strip(), **answers))
    return out


def _one_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\n" not in value.strip()


def _parse_requirement(
    path: Path, number: int, entry: object, known_profiles: set[str], known_questions: set[str]
) -> Requirement:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: requirement #{number} must be a mapping")
    rid = entry.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise ConfigError(
            f"{path}: requirement #{number} has a malformed ID {rid!r} (expected e.g. SIG-11 or TLS-M1)"
        )
    where = f"{path}: requirement {rid}"
    unknown = set(entry) - _REQ_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {', '.join(sorted(_REQ_KEYS))}")
    missing = [k for k in _REQUIRED_REQ_KEYS if k not in entry]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")

    level = entry["level"]
    if level not in LEVELS:
        raise ConfigError(f"{where}: unknown level {level!r}; known: {', '.join(LEVELS)}")
    verdict = entry.get("verdict_level", DEFAULT_VERDICT[level])
    if verdict not in VERDICT_LEVELS:
        raise ConfigError(f"{where}: unknown verdict_level {verdict!r}; known: {', '.join(VERDICT_LEVELS)}")
    ceiling = DEFAULT_VERDICT[level]
    if VERDICT_LEVELS.index(verdict) < VERDICT_LEVELS.index(ceiling):
        raise ConfigError(
            f"{where}: verdict_level {verdict} is stronger than level {level} allows ({ceiling} at most)"
        )
    if entry.get("role_levels") and not _one_line(entry.get("note")):
        raise ConfigError(f"{where}: role_levels need a note that says why")
    if verdict != ceiling and not _one_line(entry.get("note")):
        raise ConfigError(f"{where}: verdict_level {verdict} departs from {ceiling} for {level}; say why in note")

    binds = entry["binds"]
    if binds not in BINDS:
        raise ConfigError(f"{where}: unknown binds {binds!r}; known: {', '.join(BINDS)}")

    profiles = entry["profiles"]
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) for p in profiles):
        raise ConfigError(f"{where}: profiles must be a non-empty list of profile names")
    for p in profiles:
        if p not in known_profiles:
            raise ConfigError(f"{where}: unknown profile {p!r}; known: {', '.join(sorted(known_profiles))}")

    text = entry["text"]
    if not _one_line(text):
        raise ConfigError(f"{where}: text must be one non-empty line")

    raw_source = entry["source"]
    sources = [raw_source] if isinstance(raw_source, str) else raw_source
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"{where}: source must be file@commit or a non-empty list of them")
    for s in sources:
        if not isinstance(s, str) or not _SOURCE_RE.match(s):
            raise ConfigError(f"{where}: source {s!r} is not file@commit (commit: 7 to 40 lower-case hex digits)")

    qs = entry.get("interpretations") or []
    if not isinstance(qs, list):
        raise ConfigError(f"{where}: interpretations must be a list of Q-IDs")
    for q in qs:
        if not isinstance(q, str) or not _Q_RE.match(q):
            raise ConfigError(f"{where}: malformed interpretation ID {q!r} (expected Q-NN)")
        if q not in known_questions:
            raise ConfigError(f"{where}: interpretation {q} is not defined under 'questions'")
    if len(set(qs)) != len(qs):
        raise ConfigError(f"{where}: an interpretation is listed twice")

    note = entry.get("note")
    if note is not None and not _one_line(note):
        raise ConfigError(f"{where}: note must be one line")
    digest_level = entry.get("digest_level")
    if digest_level is not None and not _one_line(digest_level):
        raise ConfigError(f"{where}: digest_level must be one line")
    role_levels = _parse_role_levels(where, entry.get("role_levels"), binds, known_questions, qs_list=qs,
                                     ceiling=ceiling)
    verified_by = entry.get("verified_by", "scenario")
    if verified_by not in VERIFIED_BY:
        raise ConfigError(f"{where}: verified_by must be one of {', '.join(VERIFIED_BY)}, not {verified_by!r}")

    return Requirement(
        id=rid,
        level=level,
        binds=binds,
        profiles=tuple(profiles),
        text=text.strip(),
        source=", ".join(sources),
        interpretations=tuple(qs),
        verdict_level=verdict,
        sources=tuple(sources),
        note=note.strip() if isinstance(note, str) else None,
        digest_level=str(digest_level).strip() if digest_level is not None else None,
        verified_by=verified_by,
        role_levels=role_levels,
    )


def _parse_role_levels(where: str, raw: object, binds: str, known_questions: set[str],
                       *, qs_list: list[str], ceiling: str) -> tuple[RoleLevel, ...]:
    """``role_levels: {wfm: SHOULD, device: {level: MUST, by: Q-18}}``: a side judged otherwise."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: role_levels must map a role (wfm, device) to a level")
    out = []
    for role, value in raw.items():
        if role not in ("wfm", "device") or (binds != "both" and role != binds):
            raise ConfigError(f"{where}: role_levels names {role!r}, a side this requirement does not bind")
        level, by = (value.get("level"), value.get("by")) if isinstance(value, Mapping) else (value, None)
        if level not in VERDICT_LEVELS:
            raise ConfigError(f"{where}: role_levels.{role} must be one of {', '.join(VERDICT_LEVELS)}")
        if by is not None and (by not in known_questions or by not in qs_list):
            raise ConfigError(f"{where}: role_levels.{role}.by must be one of the requirement's interpretations")
        if VERDICT_LEVELS.index(level) < VERDICT_LEVELS.index(ceiling) and by is None:
            raise ConfigError(f"{where}: role_levels.{role} {level} is above what the text gives ({ceiling}); "
                              "name the interpretation it rests on with 'by'")
        out.append(RoleLevel(role, level, by))
    return tuple(out)
