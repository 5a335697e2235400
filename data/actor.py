"""Who is making a change: the OS user, the sudo user behind it and the SSH client address.

The OS user is the name the password database gives the process's real uid: ``USER`` and
``LOGNAME`` are whatever the caller put in the environment. ``SUDO_USER`` is believed only
under real sudo: the process runs as root (no one else can become root without sudo or
su, and root can claim anything anyway) and ``SUDO_UID`` is that user's uid in the password
database. The SSH client address comes from ``SSH_CONNECTION`` / ``SSH_CLIENT``, which the
SSH server sets but the user can change: it says where a session claims to come from.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from typing import NamedTuple


class Actor(NamedTuple):
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
        """The actor of this process: its uid's name, a real sudo's user, the SSH address."""
        env = os.environ if environ is None else environ
        os_user = _user_name(os.getuid())
        ssh = env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or ""
        client_addr = ssh.split()[0] if ssh.split() else None
        return cls(
            os_user=os_user[:64],
            sudo_user=sudo_user_of(env, euid=os.geteuid()),
            client_addr=client_addr[:64] if client_addr else None,
            source=source[:64],
        )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no entry (containers): the number is still the truth
        return f"uid:{uid}"


def sudo_user_of(env: Mapping[str, str], *, euid: int) -> str | None:
    """``SUDO_USER`` if this process runs under real sudo, else None (see the module)."""
    name = env.get("SUDO_USER") or ""
    claimed_uid = env.get("SUDO_UID") or ""
    if euid != 0 or not name or not claimed_uid.isdigit():
        return None
    try:
        known = pwd.getpwnam(name)
    except KeyError:
        return None
    return name[:64] if known.pw_uid == int(claimed_uid) else None
