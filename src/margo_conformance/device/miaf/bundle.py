"""Where the device's trust anchors come from, and how they are kept current (MTB-01..06).

Three sources, one per command line: ``--bundle-file`` (PEM or JWK Set, re-read when its content changes),
``--discovery-url`` (``/.well-known/margo`` → ``{trustDomain, trustBundleUri}`` → the JWK Set) and
``--bundle-url`` (the JWK Set itself). Rules:

- the discovery document needs both members and ignores any other; its ``trustDomain`` must be the device's own;
  ``trustBundleUri`` must be an absolute ``https`` URL, else the device refuses (MTB-04);
- a bundle without an X.509 anchor is rejected: the working anchors stay, or, at start, there are none and the
  device stops (exit 3) (MTB-02, MTB-06);
- an accepted bundle REPLACES the anchors, never merges (MTB-02);
- refresh at ``spiffe_refresh_hint`` (floor 0.5 s; 300 s when the bundle gives none) with ``If-None-Match``;
  ``304`` and ``404`` (or any failure) keep the current anchors (MTB-05).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ...errors import ConfigError
from .anchors import Anchors, BadBundle, EmptyBundle, empty_anchors, parse_anchors
from .defects import Behaviour
from .mis import MisClient, MisUnavailable

log = logging.getLogger("margo_conformance.device")

MIN_REFRESH_S = 0.5
DEFAULT_REFRESH_S = 300.0


class BundleUnusable(Exception):
    """No usable trust bundle (or a refused discovery document): exit 3."""


@dataclass(frozen=True)
class BundleOrigin:
    """Exactly one of the three sources."""

    file: Path | None = None
    discovery_url: str | None = None
    bundle_url: str | None = None

    def __post_init__(self) -> None:
        given = [n for n, v in (("--bundle-file", self.file), ("--discovery-url", self.discovery_url),
                                ("--bundle-url", self.bundle_url)) if v is not None]
        if len(given) != 1:
            raise ConfigError("give exactly one of --bundle-file, --discovery-url, --bundle-url"
                              + (f" (got {', '.join(given)})" if given else ""))
        for name, url in (("--discovery-url", self.discovery_url), ("--bundle-url", self.bundle_url)):
            if url is not None and (urlsplit(url).scheme != "https" or not urlsplit(url).hostname):
                raise ConfigError(f"{name} must be an https:// URL, not {url!r}")

    @property
    def remote(self) -> bool:
        return self.file is None


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"--bundle-file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read --bundle-file {path}: {exc.strerror or exc}") from None


class BundleSource:
    """The current anchors and their refresh. ``version`` counts accepted changes."""

    def __init__(self, origin: BundleOrigin, behaviour: Behaviour, *, trust_domain: str,
                 mis: MisClient | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if origin.remote and mis is None:
            raise ConfigError("a remote bundle needs the MIS channel (--mis-ca-file or --mis-pin)")
        self.origin = origin
        self.behaviour = behaviour
        self.trust_domain = trust_domain
        self.mis = mis
        self._clock = clock
        self.anchors: Anchors | None = None
        self.version = 0
        self.bundle_url: str | None = origin.bundle_url
        self.etag: str | None = None
        self._file_content: bytes | None = None
        self._next_refresh = 0.0

    # ------------------------------------------------------------------ start
    def load(self) -> Anchors:
        """The initial anchors; BundleUnusable (exit 3) or ConfigError (exit 2: the file itself is unusable)."""
        if self.origin.file is not None:
            data = _file_bytes(self.origin.file)
            self._file_content = data
            try:
                anchors = parse_anchors(data)
            except BadBundle as exc:
                raise ConfigError(f"--bundle-file {self.origin.file}: {exc}") from None
            except EmptyBundle as exc:
                anchors = self._empty_at_start(data, exc)
            return self._install(anchors)
        if self.origin.discovery_url is not None:
            self.bundle_url = self._discover(self.origin.discovery_url)
        assert self.bundle_url is not None
        answer = self._get(self.bundle_url, etag=None)
        if answer.status != 200:
            raise BundleUnusable(f"the trust bundle {self.bundle_url} answered {answer.status}")
        try:
            anchors = parse_anchors(answer.body)
        except BadBundle as exc:
            raise BundleUnusable(f"the trust bundle {self.bundle_url} is unusable: {exc}") from None
        except EmptyBundle as exc:
            anchors = self._empty_at_start(answer.body, exc)
        self.etag = answer.etag
        return self._install(anchors)

    def _empty_at_start(self, data: bytes, exc: EmptyBundle) -> Anchors:
        if self.behaviour.accept_empty_bundle:
            return empty_anchors(data)
        raise BundleUnusable(f"rejected the trust bundle: {exc}; no other anchors to use (MTB-06)")

    def _get(self, url: str, *, etag: str | None):  # noqa: ANN202 - MisAnswer
        assert self.mis is not None
        try:
            return self.mis.get(url, etag=etag if self.behaviour.send_etag else None)
        except MisUnavailable as exc:
            raise BundleUnusable(str(exc)) from None

    def _discover(self, url: str) -> str:
        answer = self._get(url, etag=None)
        if answer.status != 200:
            raise BundleUnusable(f"the discovery document {url} answered {answer.status}")
        try:
            doc = json.loads(answer.body)
        except (ValueError, UnicodeDecodeError):
            raise BundleUnusable(f"the discovery document {url} is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("trustDomain"), str) \
                or not isinstance(doc.get("trustBundleUri"), str):
            raise BundleUnusable(f"the discovery document {url} lacks trustDomain / trustBundleUri (MTB-04)")
        if doc["trustDomain"] != self.trust_domain:
            raise BundleUnusable(f"the discovery document names trust domain {doc['trustDomain']!r}; this device's "
                                 f"SVID is of {self.trust_domain!r}")
        uri = doc["trustBundleUri"]
        parts = urlsplit(uri)
        if not parts.scheme or not parts.hostname:
            raise BundleUnusable(f"trustBundleUri {uri!r} is not an absolute URL (MTB-04)")
        if parts.scheme != "https" and not (parts.scheme == "http" and self.behaviour.allow_http_bundle_uri):
            raise BundleUnusable(f"refused trustBundleUri {uri!r}: it must be https (MTB-04)")
        return str(uri)

    # ------------------------------------------------------------------ refresh
    def _install(self, anchors: Anchors) -> Anchors:
        if self.anchors is not None and self.behaviour.merge_bundles:
            anchors = self.anchors.merged_with(anchors)
        changed = self.anchors is None or anchors.fingerprints() != self.anchors.fingerprints()
        self.anchors = anchors
        if changed:
            self.version += 1
            log.info("trust bundle: %s", anchors.describe())
        self._schedule()
        return anchors

    def _schedule(self) -> None:
        hint = self.anchors.refresh_hint_s if self.anchors is not None else None
        self._next_refresh = self._clock() + max(MIN_REFRESH_S, DEFAULT_REFRESH_S if hint is None else hint)

    def refresh(self) -> bool:
        """Re-read the file when its content changed, or refetch the bundle when its refresh is due.
        True when the anchors changed. Never raises for what the origin does: the current anchors stay."""
        if self.origin.file is not None:
            return self._refresh_file(self.origin.file)
        if self._clock() < self._next_refresh:
            return False
        before = self.version
        assert self.bundle_url is not None and self.anchors is not None
        try:
            answer = self._get(self.bundle_url, etag=self.etag)
        except BundleUnusable as exc:
            log.warning("bundle refresh failed, keeping the current anchors: %s", exc)
            self._schedule()
            return False
        if answer.status == 200:
            self.etag = answer.etag or self.etag
            self._accept(answer.body, self.bundle_url)
        else:
            if answer.status != 304:
                log.warning("bundle refresh: %s answered %d; keeping the current anchors", self.bundle_url,
                            answer.status)
            self._schedule()
        return self.version != before

    def _refresh_file(self, path: Path) -> bool:
        try:
            data = path.read_bytes()
        except OSError:
            return False
        if data == self._file_content:
            return False
        self._file_content = data
        before = self.version
        self._accept(data, str(path))
        return self.version != before

    def _accept(self, data: bytes, where: str) -> None:
        assert self.anchors is not None
        try:
            anchors = parse_anchors(data)
        except BadBundle as exc:
            log.warning("rejected the trust bundle from %s (%s); keeping the current anchors", where, exc)
            self._install(self.anchors)
            return
        except EmptyBundle as exc:
            if not self.behaviour.accept_empty_bundle:
                log.warning("rejected the trust bundle from %s (%s); keeping the current anchors (MTB-06)", where, exc)
                self._install(Anchors(self.anchors.certs, empty_anchors(data).refresh_hint_s, self.anchors.sequence))
                return
            anchors = empty_anchors(data)  # the accepts-empty-bundle defect: the working anchors are gone
        self._install(anchors)

    def close(self) -> None:
        if self.mis is not None:
            self.mis.close()
