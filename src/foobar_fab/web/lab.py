"""One lab's page on its running lab: the application with the lab's snapshots, terminals and power switch."""

from __future__ import annotations

from flask import Flask

from ..session import LabSession
from .app import Snapshots, create_app
from .terminal import NodeShell, Terminal, TerminalError


def lab_page(session: LabSession, snapshots: Snapshots, token: str, secure: bool) -> Flask:
    """The page of the session's lab; a terminal opens only on a running node of a lab whose network is there."""

    def open_terminal(node: str, columns: int, rows: int) -> Terminal:
        if not session.provider.network_present():
            raise TerminalError(f"lab {session.lab.name}'s network is gone: no shell on {node}")
        states = {row.name: row.state for row in session.provider.status()}
        if states.get(node) != "running":
            raise TerminalError(f"{node} is {states.get(node, 'missing')}: power it on first")
        return NodeShell(session.provider.ssh_params(node), columns, rows)

    return create_app(session.lab, token, snapshots, open_terminal, session.provider, secure=secure, drills=session.folder.drills)
