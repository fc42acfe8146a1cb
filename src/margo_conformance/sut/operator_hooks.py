"""Operator decisions at a WFM under test: approve, reject, revoke a client, trust an issuer.

The spec leaves these to a human (CERT-12, ONB-09, ONB-10, SIG-13), so a vendor WFM is driven through
commands from its SUT file (``[wfm.operator]``); the built-in reference WFM is driven in-process.
A scenario that needs a decision the SUT offers no hook for is NOT TESTED, never passed.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from typing import Protocol

from ..errors import HarnessError
from . import OperatorHooks, fill_command, redact_command
from ..verdict import NotTested

ACTIONS = ("approve", "reject", "revoke", "trust_issuer", "approve_pending", "reject_pending",
           # mutual-TLS profiles (MIAF): the harness as MIS installs its bundle, the WFM's SVID and its clients
           "trust_bundle", "add_client", "retire_client", "install_wfm_svid")


class Operator(Protocol):
    def can(self, action: str) -> bool: ...

    def perform(self, action: str, *, client_id: str = "", cert_file: str = "", fingerprint: str = "",
                ca_file: str = "", **more: str) -> str: ...


def require(operator: Operator, action: str) -> None:
    """Make the scenario NOT TESTED when the SUT offers no hook for ``action``."""
    if not operator.can(action):
        raise NotTested(f"needs the operator hook wfm.operator.{action}, which the SUT file does not configure")


class CommandOperator:
    """Runs the SUT file's hook commands (no shell; placeholders substituted word by word)."""

    def __init__(self, hooks: OperatorHooks) -> None:
        self.hooks = hooks

    def can(self, action: str) -> bool:
        return self.hooks.has(action)

    def perform(self, action: str, *, client_id: str = "", cert_file: str = "", fingerprint: str = "",
                ca_file: str = "", **more: str) -> str:
        template = getattr(self.hooks, action, None)
        if template is None:
            raise NotTested(f"needs the operator hook wfm.operator.{action}")
        values = {"client_id": client_id, "cert_file": cert_file, "fingerprint": fingerprint, "ca_file": ca_file,
                  "spiffe_id": "", "bundle_file": "", "svid_cert": "", "svid_key": "", "svid_chain": "", **more}
        argv = fill_command(template, values)
        shown = redact_command(shlex.join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.hooks.timeout_s, check=False)
        except FileNotFoundError:
            raise HarnessError(f"operator hook {action}: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise HarnessError(f"operator hook {action}: no result within {self.hooks.timeout_s:g} s ({shown})") from None
        if done.returncode != 0:
            raise HarnessError(
                f"operator hook {action} failed with exit code {done.returncode} ({shown}): "
                f"{(done.stderr or done.stdout).strip()[:300]}"
            )
        return done.stdout


class CallableOperator:
    """Operator decisions made by functions (the built-in reference WFM, in-process)."""

    def __init__(self, actions: dict[str, Callable[..., str]]) -> None:
        self.actions = actions

    def can(self, action: str) -> bool:
        return action in self.actions

    def perform(self, action: str, **values: str) -> str:
        if action not in self.actions:
            raise NotTested(f"the built-in WFM offers no operator action {action!r}")
        return self.actions[action](**values)
