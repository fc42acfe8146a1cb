"""Spec profiles as data: ``profiles/<name>/profile.yaml`` read into one typed :class:`Profile`.

Why data: the upstream text moves (HTTPSIG pre-draft, MIAF rc.3, rc.4 due next), and a new preview must be
a new folder, not new branches in code. So nothing outside a profile's own modules asks "which profile am
I in": code asks the profile for what differs (its routes and their codes, its problem-type registry, its
schema set, its retry table, the requirement rows a shared rule binds to, its authenticator *kind*).

A folder holds ``profile.yaml`` (read here) and ``requirements.yaml`` (its catalog rows and questions, read
by :func:`margo_conformance.requirements.load_catalog`). Loading is strict: every slip is a
:class:`ConfigError` naming the file and the key, so a typo never quietly changes what a run judges.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..errors import ConfigError
from ..resources import PROFILES_DIR, SCHEMAS_DIR

__all__ = [
    "AUTHENTICATORS",
    "PROFILE_TAG_PREFIX",
    "ProblemType",
    "Profile",
    "RetryRule",
    "Route",
    "RuleBinding",
    "UnknownProfile",
    "applies_to",
    "known_profiles",
    "load_profile",
    "profile_of_tags",
]

#: The kinds of authentication a profile may name; an adapter is picked by kind, never by profile name.
AUTHENTICATORS: tuple[str, ...] = ("httpsig", "mtls-svid")
#: A Gherkin tag that limits a feature or scenario to one profile: ``@profile:<name>``.
PROFILE_TAG_PREFIX = "profile:"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_ROUTE_KEY_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z]+$")
_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")
_RETRY_AFTER = ("must", "should", "n/a")
_BACKOFF = ("none", "fixed", "exponential")
_TOP_KEYS = {"name", "title", "spec", "authenticator", "schema_set", "routes", "problem_type_base",
             "problem_types", "problem_type_aliases", "retry", "rules", "fixtures"}


class UnknownProfile(ConfigError):
    """A profile name no folder defines (a usage error: exit 2); the message names the known profiles."""

    def __init__(self, name: str, known: Iterable[str] | None = None) -> None:
        self.name = name
        self.known = tuple(known if known is not None else known_profiles())
        close = difflib.get_close_matches(name, self.known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        super().__init__(f"unknown profile {name!r}; known profiles: {', '.join(self.known) or 'none'}{hint}")


@dataclass(frozen=True)
class Route:
    """One API route of a profile. ``template`` is the path after the base URL, e.g.
    ``/api/v1/capabilities/{deviceId}``; ``codes`` every status the text lists for it."""

    key: str
    method: str
    template: str
    title: str
    codes: tuple[int, ...] = ()
    requirements: tuple[str, ...] = ()

    @property
    def parameters(self) -> tuple[str, ...]:
        """The template's path parameters, in order (``("deviceId",)``)."""
        return tuple(re.findall(r"{([A-Za-z]+)}", self.template))

    def path(self, **values: str) -> str:
        """The template filled in verbatim (a deviceId keeps its raw '/', MIAF Q-47; CAP-10)."""
        missing = [p for p in self.parameters if p not in values]
        if missing:
            raise KeyError(f"route {self.key}: no value for {', '.join(missing)}")
        return self.template.format(**values)

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when ``method path`` is this route (the last parameter may hold '/'), else None."""
        if method.upper() != self.method:
            return None
        pattern = re.escape(self.template)
        names = self.parameters
        for i, name in enumerate(names):
            part = "(?P<%s>.+)" % name if i == len(names) - 1 else "(?P<%s>[^/]+)" % name
            pattern = pattern.replace(re.escape("{" + name + "}"), part, 1)
        m = re.fullmatch(pattern, path.split("?", 1)[0])
        return dict(m.groupdict()) if m else None


@dataclass(frozen=True)
class ProblemType:
    """A registered problem type: ``uri`` = the profile's base + ``name``; ``status`` the code it goes with."""

    name: str
    uri: str
    status: int


@dataclass(frozen=True)
class RetryRule:
    """One row of a retry table (MIAF MRTY): what an error answer of ``status`` carries.

    ``status`` is None for the row of every other error status. ``retry_after`` says whether the Retry-After
    header is required ("must"), recommended ("should") or not applicable ("n/a")."""

    status: int | None
    retryable: bool
    backoff: str
    retry_after: str
    requirement: str | None = None


@dataclass(frozen=True)
class RuleBinding:
    """A rule shared by several profiles (one untagged scenario), bound to this profile's data: the rows it
    verifies, the status and problem type it expects, the question its position rests on."""

    rule: str
    requirements: tuple[str, ...]
    status: int | None
    problem_type: str | None
    question: str | None
    note: str | None = None
    #: True when ``status`` is the code the ``question`` prefers (the text states none): refusing at all is then
    #: judged on the must axis and the code on the question's (interpretation) axis. False: the text states the
    #: code, so a wrong code is a must failure, and the question only qualifies the rest.
    status_by_question: bool = False
    #: Named cases of the rule (one Examples row each): each narrows the rows and may name its own body, status
    #: and problem type (``case``).
    cases: Mapping[str, RuleBinding] = field(default_factory=dict)
    #: The body a case sends, by name: resolved by the authenticator's body builder (steps), never here.
    body: str | None = None

    def case(self, name: str) -> RuleBinding:
        """The binding of one case of the rule: its own rows, body, status and problem type where it names them,
        the rule's otherwise."""
        try:
            return self.cases[name]
        except KeyError:
            raise KeyError(f"rule {self.rule} has no case {name!r}; known cases: {', '.join(self.cases) or 'none'}") \
                from None


@dataclass(frozen=True)
class Profile:
    """A spec profile: what a run judges against. Reports stamp ``name`` and ``spec``."""

    name: str
    title: str
    #: The spec text as reports stamp it: ``repository@commit`` (e.g. ``margo/specification@5c690f36...``).
    spec: str
    #: "httpsig" | "mtls-svid": picks an authentication adapter by kind.
    authenticator: str
    routes: Mapping[str, Route]
    problem_types: Mapping[str, ProblemType]
    problem_type_base: str | None
    schema_set: str
    #: status -> RetryRule for the statuses the table names; see :meth:`retry_rule` for every other status.
    retry: Mapping[int, RetryRule]
    fixtures: Mapping[str, Any]
    rules: Mapping[str, RuleBinding] = field(default_factory=dict)
    spec_repository: str = "margo/specification"
    spec_commit: str = ""
    spec_sources: tuple[str, ...] = ()
    #: Other base URIs a conformant answer may use for the same registered type (each a named deviation).
    problem_type_aliases: tuple[str, ...] = ()
    retry_default: RetryRule | None = None
    directory: Path | None = None

    @property
    def baseline(self) -> str:
        """Alias of ``spec`` (the name the requirement catalog and summary.json use)."""
        return self.spec

    def route(self, key: str) -> Route:
        try:
            return self.routes[key]
        except KeyError:
            raise KeyError(f"profile {self.name} has no route {key!r}; known: {', '.join(self.routes)}") from None

    def route_titled(self, title: str) -> Route:
        """The route a report or the route matrix names by its title ("capabilities PUT")."""
        for r in self.routes.values():
            if r.title == title:
                return r
        raise KeyError(f"profile {self.name} has no route titled {title!r}; "
                       f"known: {', '.join(r.title for r in self.routes.values())}")

    def route_of(self, method: str, path: str) -> Route | None:
        """The route ``method path`` belongs to (path after the base URL), or None."""
        return next((r for r in self.routes.values() if r.matches(method, path) is not None), None)

    def rule(self, name: str) -> RuleBinding:
        try:
            return self.rules[name]
        except KeyError:
            raise KeyError(f"profile {self.name} binds no rule {name!r}; known rules: {', '.join(self.rules)}") \
                from None

    def problem_type(self, name: str) -> ProblemType:
        try:
            return self.problem_types[name]
        except KeyError:
            raise KeyError(f"profile {self.name} registers no problem type {name!r}; "
                           f"known: {', '.join(self.problem_types)}") from None

    def problem_type_named(self, uri: str) -> ProblemType | None:
        """The registered type a URI names in the canonical form, else None (aliases: :meth:`problem_type_alias`)."""
        return next((p for p in self.problem_types.values() if p.uri == uri), None)

    def problem_type_alias(self, uri: str) -> ProblemType | None:
        """The registered type a URI names in one of the tolerated other forms (a deviation), else None."""
        for base in self.problem_type_aliases:
            if uri.startswith(base) and uri[len(base):] in self.problem_types:
                return self.problem_types[uri[len(base):]]
        return None

    def retry_rule(self, status: int) -> RetryRule | None:
        """What an error of ``status`` must carry: its own row, else the default row (for 4xx/5xx), else None."""
        if status in self.retry:
            return self.retry[status]
        return self.retry_default if status >= 400 else None

    def applies_to(self, tags: Iterable[str]) -> bool:
        """True when a scenario with these tags runs under this profile: a ``@profile:<name>`` tag (with or
        without '@') selects; a scenario with no profile tag is shared by every profile."""
        return applies_to(self.name, tags)

    def fixture(self, name: str) -> Mapping[str, Any]:
        """One fixture of the catalogue (``C-OK``, ``W-AIA``): ``expected`` (accept, reject, record),
        ``requirements`` and, where a position decides, ``question``."""
        for group in ("client", "wfm"):
            if name in (self.fixtures.get(group) or {}):
                return MappingProxyType(dict(self.fixtures[group][name]))
        raise KeyError(f"profile {self.name} has no fixture {name!r}")

    @property
    def fixture_expectations(self) -> Mapping[str, str]:
        """Every fixture name (client and WFM) -> what a conformant peer does with it: accept, reject, record."""
        return MappingProxyType({name: body["expected"] for group in ("client", "wfm")
                                 for name, body in (self.fixtures.get(group) or {}).items()})

    @property
    def schemas_dir(self) -> Path:
        return SCHEMAS_DIR / self.schema_set


# --------------------------------------------------------------------------------------------------
# Tags


def profile_of_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The profile names ``@profile:<name>`` tags name (a tag may come with or without its '@')."""
    out = []
    for tag in tags:
        bare = str(tag).lstrip("@")
        if bare.startswith(PROFILE_TAG_PREFIX):
            out.append(bare[len(PROFILE_TAG_PREFIX):])
    return tuple(dict.fromkeys(out))


def applies_to(profile: str, tags: Iterable[str]) -> bool:
    """Whether a scenario with ``tags`` runs under ``profile``: tagged ones only under a profile they name;
    untagged ones under every profile (shared rules, bound per profile through :meth:`Profile.rule`)."""
    named = profile_of_tags(tags)
    return not named or profile in named


# --------------------------------------------------------------------------------------------------
# Loading


def known_profiles() -> tuple[str, ...]:
    """Every profile folder's name, sorted (a folder is a profile when it holds ``profile.yaml``)."""
    return _known(str(PROFILES_DIR))


@lru_cache(maxsize=4)
def _known(directory: str) -> tuple[str, ...]:
    root = Path(directory)
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "profile.yaml").is_file()))


def check_profile_name(name: str) -> str:
    """``name`` when a profile folder defines it, else :class:`UnknownProfile` (for option validation)."""
    known = known_profiles()
    if name not in known:
        raise UnknownProfile(name, known)
    return name


def load_profile(name: str) -> Profile:
    """The profile of that name (cached); :class:`UnknownProfile` for a name no folder defines."""
    check_profile_name(name)
    return _load(str(PROFILES_DIR / name))


@lru_cache(maxsize=16)
def _load(folder: str) -> Profile:
    return parse_profile(Path(folder))


def parse_profile(folder: Path, *, catalog: Any = None) -> Profile:
    """Read and check ``folder/profile.yaml``. The rule bindings and routes are checked against the catalog
    (default: the merged one): every requirement they name is a row of this profile, every question exists."""
    path = folder / "profile.yaml"
    try:
        from ..requirements import SAFE_LOADER

        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except OSError as exc:
        raise ConfigError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"profile {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"profile {path}: the top level must be a mapping")
    where = str(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
    name = data.get("name")
    if name != folder.name or not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{where}: name must be the folder's name {folder.name!r} (lower-case, digits, '.', '-')")
    title = _text(where, "title", data.get("title"))
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: spec must be a mapping (repository, commit, sources)")
    commit = spec.get("commit")
    if not isinstance(commit, str) or not _COMMIT_RE.match(commit):
        raise ConfigError(f"{where}: spec.commit must be a full 40-hex commit, not {commit!r}")
    repository = _text(where, "spec.repository", spec.get("repository", "margo/specification"))
    sources = spec.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) and "@" in s for s in sources):
        raise ConfigError(f"{where}: spec.sources must be a list of file@commit")
    authenticator = data.get("authenticator")
    if authenticator not in AUTHENTICATORS:
        raise ConfigError(f"{where}: authenticator must be one of {', '.join(AUTHENTICATORS)}, not {authenticator!r}")
    schema_set = _text(where, "schema_set", data.get("schema_set"))
    if not (SCHEMAS_DIR / schema_set).is_dir():
        raise ConfigError(f"{where}: schema_set {schema_set!r} has no folder under {SCHEMAS_DIR}")

    if catalog is None:
        from ..requirements import load_catalog

        catalog = load_catalog()
    own_rows = catalog.ids(profile=name) if name in {p.name for p in catalog.profiles()} else set()

    def rows(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of requirement IDs")
        stray = [v for v in value if v not in own_rows]
        if stray:
            raise ConfigError(f"{where}: {key} names {', '.join(stray)}, not a requirement row of profile {name}")
        return tuple(value)

    routes = _routes(where, data.get("routes"), rows)
    base = data.get("problem_type_base")
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{where}: problem_type_base must be a URI prefix")
    problem_types = _problem_types(where, data.get("problem_types"), base)
    aliases = data.get("problem_type_aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError(f"{where}: problem_type_aliases must be a list of URI prefixes")
    retry, retry_default = _retry(where, data.get("retry"), rows)
    rules = _rules(where, data.get("rules"), rows, problem_types, {q.id for q in catalog.questions()})
    fixtures = data.get("fixtures") or {}
    if not isinstance(fixtures, Mapping):
        raise ConfigError(f"{where}: fixtures must be a mapping")
    for group in ("client", "wfm"):
        for fixture, body in (fixtures.get(group) or {}).items():
            if not isinstance(body, Mapping) or body.get("expected") not in ("accept", "reject", "record"):
                raise ConfigError(f"{where}: fixture {fixture}: expected must be accept, reject or record")
            rows(f"fixture {fixture} requirements", body.get("requirements") or [])
    return Profile(
        name=name, title=title, spec=f"{repository}@{commit}", authenticator=authenticator,
        routes=MappingProxyType(routes), problem_types=MappingProxyType(problem_types), problem_type_base=base,
        schema_set=schema_set, retry=MappingProxyType(retry), fixtures=MappingProxyType(dict(fixtures)),
        rules=MappingProxyType(rules), spec_repository=repository, spec_commit=commit,
        spec_sources=tuple(sources), problem_type_aliases=tuple(aliases), retry_default=retry_default,
        directory=folder,
    )


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _status(where: str, key: str, value: Any, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ConfigError(f"{where}: {key} must be an HTTP status code, not {value!r}")
    return value


def _routes(where: str, raw: Any, rows: Any) -> dict[str, Route]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: routes must be a non-empty mapping of key to route")
    out: dict[str, Route] = {}
    for key, body in raw.items():
        if not isinstance(key, str) or not _ROUTE_KEY_RE.match(key):
            raise ConfigError(f"{where}: route key {key!r} is not <resource>.<verb> (e.g. capabilities.put)")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: route {key} must be a mapping")
        method = body.get("method")
        if method not in _METHODS:
            raise ConfigError(f"{where}: route {key}: method must be one of {', '.join(_METHODS)}")
        template = _text(where, f"route {key}.template", body.get("template"))
        if not template.startswith("/"):
            raise ConfigError(f"{where}: route {key}: template must start with '/'")
        codes = body.get("codes") or []
        if not isinstance(codes, list):
            raise ConfigError(f"{where}: route {key}: codes must be a list of status codes")
        out[key] = Route(key=key, method=method, template=template,
                         title=_text(where, f"route {key}.title", body.get("title")),
                         codes=tuple(_status(where, f"route {key}.codes", c) for c in codes),  # type: ignore[misc]
                         requirements=rows(f"route {key}.requirements", body.get("requirements") or []))
    titles = [r.title for r in out.values()]
    if len(set(titles)) != len(titles):
        raise ConfigError(f"{where}: two routes share a title")
    return out


def _problem_types(where: str, raw: Any, base: str | None) -> dict[str, ProblemType]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or (raw and base is None):
        raise ConfigError(f"{where}: problem_types maps a name to its status, and needs problem_type_base")
    return {str(n): ProblemType(str(n), f"{base}{n}", _status(where, f"problem type {n}", s))  # type: ignore[arg-type]
            for n, s in raw.items()}


def _retry(where: str, raw: Any, rows: Any) -> tuple[dict[int, RetryRule], RetryRule | None]:
    if raw is None:
        return {}, None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: retry must map a status (or 'default') to its row")
    out: dict[int, RetryRule] = {}
    default = None
    for key, body in raw.items():
        status = None if key == "default" else _status(where, f"retry key {key!r}", key)
        if not isinstance(body, Mapping) or not isinstance(body.get("retryable"), bool) \
                or body.get("backoff") not in _BACKOFF or body.get("retry_after") not in _RETRY_AFTER:
            raise ConfigError(f"{where}: retry {key}: needs retryable (true/false), backoff ({', '.join(_BACKOFF)}) "
                              f"and retry_after ({', '.join(_RETRY_AFTER)})")
        req = body.get("requirement")
        if req is not None:
            rows(f"retry {key}.requirement", [req])
        rule = RetryRule(status, body["retryable"], body["backoff"], body["retry_after"], req)
        if status is None:
            default = rule
        else:
            out[status] = rule
    return out, default


def _rules(where: str, raw: Any, rows: Any, problem_types: Mapping[str, ProblemType],
           questions: set[str]) -> dict[str, RuleBinding]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: rules must map a rule name to its binding")
    out: dict[str, RuleBinding] = {}
    for name, body in raw.items():
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: rule {name} must be a mapping")
        unknown = set(body) - {"requirements", "status", "problem_type", "question", "note", "status_by_question",
                               "cases"}
        if unknown:
            raise ConfigError(f"{where}: rule {name}: unknown keys {sorted(unknown)}")
        reqs = rows(f"rule {name}.requirements", body.get("requirements"))
        if not reqs:
            raise ConfigError(f"{where}: rule {name} binds no requirement")
        ptype = _rule_problem_type(where, f"rule {name}", body.get("problem_type"), problem_types)
        question = body.get("question")
        if question is not None and question not in questions:
            raise ConfigError(f"{where}: rule {name}: question {question!r} is not in the catalog")
        by_question = body.get("status_by_question", False)
        if not isinstance(by_question, bool) or (by_question and question is None):
            raise ConfigError(f"{where}: rule {name}: status_by_question must be true or false, and true needs a "
                              "question")
        binding = RuleBinding(rule=str(name), requirements=reqs,
                              status=_status(where, f"rule {name}.status", body.get("status"), optional=True),
                              problem_type=ptype, question=question, note=body.get("note"),
                              status_by_question=by_question)
        cases = _rule_cases(where, binding, body.get("cases"), rows, problem_types)
        out[str(name)] = replace(binding, cases=MappingProxyType(cases))
    return out


def _rule_problem_type(where: str, what: str, ptype: Any, problem_types: Mapping[str, ProblemType]) -> str | None:
    if ptype is not None and ptype not in problem_types:
        raise ConfigError(f"{where}: {what}: problem_type {ptype!r} is not in this profile's registry")
    return ptype


def _rule_cases(where: str, rule: RuleBinding, raw: Any, rows: Any,
                problem_types: Mapping[str, ProblemType]) -> dict[str, RuleBinding]:
    """``cases:`` of a rule: each case a subset of the rule's rows, with its own body, status or problem type."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: rule {rule.rule}.cases must map a case name to its binding")
    out: dict[str, RuleBinding] = {}
    for name, body in raw.items():
        what = f"rule {rule.rule} case {name}"
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: {what} must be a mapping")
        unknown = set(body) - {"requirements", "body", "status", "problem_type", "note"}
        if unknown:
            raise ConfigError(f"{where}: {what}: unknown keys {sorted(unknown)}")
        reqs = rows(f"{what}.requirements", body["requirements"]) if "requirements" in body else rule.requirements
        if not reqs or not set(reqs) <= set(rule.requirements):
            raise ConfigError(f"{where}: {what}: requirements must be some of the rule's ({', '.join(rule.requirements)})")
        text_body = body.get("body")
        if text_body is not None and not isinstance(text_body, str):
            raise ConfigError(f"{where}: {what}: body must be a name")
        status = _status(where, f"{what}.status", body["status"], optional=True) if "status" in body else rule.status
        ptype = (_rule_problem_type(where, what, body["problem_type"], problem_types) if "problem_type" in body
                 else rule.problem_type)
        out[str(name)] = replace(rule, requirements=reqs, status=status, problem_type=ptype, body=text_body,
                                 note=body.get("note", rule.note))
    return out
