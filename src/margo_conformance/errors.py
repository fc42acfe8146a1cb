"""The exception hierarchy: 'the SUT failed' is kept apart from 'we could not judge'.

- ``HarnessError`` and its subclasses mean the harness could not reach a verdict
  (scenario outcome *broken*, never *failed*).
- ``ConfigError`` is a usage or configuration problem (exit code 2).
- ``SutUnreachable`` / ``SutTimeout`` mean the system under test did not answer (exit code 3
  when nothing could be reached at all).

Library errors (httpx, ssl, cryptography) are translated into these at one boundary each,
so steps and reports never see a raw traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """We could not judge (SUT unreachable or silent, bad config, our bug): 'broken', never 'failed'."""


class ConfigError(HarnessError):
    """The SUT file, a command-line option or an input file is unusable (exit code 2)."""


class SutUnreachable(HarnessError):
    """The SUT refused or dropped the connection, or its TLS handshake failed before any HTTP."""

    #: True when the SUT gave no answer at all (refused, reset, silent); False when it answered at the TLS
    #: layer (a certificate that does not verify, a handshake alert): it is alive, and each scenario still
    #: says what it did. Only silence counts towards stopping a run early.
    silent: bool = True


class SutTimeout(HarnessError):
    """The SUT accepted the connection but gave no answer before the timeout."""
