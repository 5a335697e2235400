"""Who is making a change: the OS user, the sudo user behind it and the SSH client address."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The identity written into every audit entry.

    ``source`` says which program made the change ("cli", or "console:<id>" for one running
    console), so "undo the last change made in this console" can be answered exactly.
    """

    os_user: str
    sudo_user: str | None = None
    client_addr: str | None = None
    source: str = "cli"

    @property
    def label(self) -> str:
        """One line for the audit log, e.g. ``root (sudo: alice) from 10.0.0.7``."""
        text = self.os_user
        if self.sudo_user and self.sudo_user != self.os_user:
            text += f" (sudo: {self.sudo_user})"
        if self.client_addr:
            text += f" from {self.client_addr}"
        return text

    @classmethod
    def from_environment(
        cls, *, source: str = "cli", environ: Mapping[str, str] | None = None
    ) -> Actor:
        """Read the actor from the process environment (``SUDO_USER``, ``SSH_CONNECTION``)."""
        env = os.environ if environ is None else environ
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = f"uid:{os.getuid()}"
        ssh = env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or ""
        client_addr = ssh.split()[0] if ssh.split() else None
        return cls(
            os_user=os_user[:64],
            sudo_user=(env.get("SUDO_USER") or None),
            client_addr=client_addr[:64] if client_addr else None,
            source=source[:64],
        )
