"""The site as a client sees it: requests to the design's entry address, with the site's name.

Every request first asks whether the lab's network still exists: with the lab gone, its addresses
would be tried through the host's default route, where they belong to someone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests

from ..constants import HEALTH_PATH, SERVED_BY
from ..topology import Lab

MESSAGES_PATH = "/api/messages"


class LabGone(RuntimeError):
    """The lab's network disappeared while traffic was being sent; nothing more is sent."""


@dataclass(frozen=True)
class Site:
    """www.foobar.com at the design's entry address (the load balancer, or the floating address)."""

    address: str
    domain: str
    network_present: Callable[[], bool]

    @classmethod
    def of(cls, lab: Lab, network_present: Callable[[], bool]) -> Site:
        return cls(str(lab.entry_address), lab.domain, network_present)

    def url(self, path: str = "/") -> str:
        return f"http://{self.address}{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.domain, "Connection": "close"}

    def _guard(self) -> None:
        if not self.network_present():
            raise LabGone(f"the lab's network is gone: no more requests to {self.address}")

    def get(self, path: str = HEALTH_PATH, timeout: float = 3.0) -> requests.Response:
        self._guard()
        return requests.get(self.url(path), headers=self.headers, timeout=timeout)

    def post_message(self, body: str, timeout: float = 3.0) -> requests.Response:
        self._guard()
        return requests.post(self.url(MESSAGES_PATH), json={"body": body}, headers=self.headers, timeout=timeout)


def served_by(answer: requests.Response) -> str | None:
    """Which web server answered (the header each one adds)."""
    return answer.headers.get(SERVED_BY)
