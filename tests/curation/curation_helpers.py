"""Helpers for the curation suites: staff actors and entries to edit."""

from __future__ import annotations

import copy
from typing import Any

from knowledge_base.curation import Actor, Curation
from knowledge_base.kb import KnowledgeBase

EDITOR = Actor("小编", "editor")
EDITOR_2 = Actor("小李", "editor")
REVIEWER = Actor("审核甲", "reviewer")
REVIEWER_2 = Actor("审核乙", "reviewer")
ADMIN = Actor("管理员", "admin")
HELPER = Actor("帮办", "helper")

GUIDE_ID = "guide.id-card-first-application"  # fee 工本费20元/证 in the curated data
QA_ID = "qa.business.company-name-check"


def published(kb: KnowledgeBase, entry_id: str) -> tuple[dict[str, Any], int]:
    found = kb.store.get_with_version(entry_id)
    assert found is not None
    entry, version = found
    return copy.deepcopy(entry.dict(exclude_none=True)), version


def with_fee(data: dict[str, Any], standard: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["fee"]["standard"] = standard
    return changed


def open_curation(kb: KnowledgeBase, allow_self_approval: bool = False) -> Curation:
    curation = Curation(kb)
    curation.allow_self_approval = allow_self_approval
    return curation


# -- the bot service with staff accounts --------------------------------------------------------------

PASSWORD = "correct horse battery"
ACCOUNTS = {  # name -> role, one of each (two editors and two reviewers for the four-eyes cases)
    "小编": "editor",
    "小李": "editor",
    "审核甲": "reviewer",
    "审核乙": "reviewer",
    "管理员": "admin",
    "帮办": "helper",
}


def add_accounts(db: Any) -> None:
    from bot import accounts

    for name, role in ACCOUNTS.items():
        accounts.create(db, name, role, PASSWORD)


class StaffClient:
    """A logged-in staff member's HTTP client (cookie jar + CSRF token), or an anonymous one."""

    def __init__(self, base_url: str, http: Any, csrf: str | None = None) -> None:
        self.base_url = base_url
        self.http = http
        self.csrf = csrf

    @classmethod
    async def login(cls, base_url: str, name: str | None) -> StaffClient:
        import aiohttp

        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        client = cls(base_url, http)
        if name is not None:
            async with http.post(f"{base_url}/api/helpdesk/login", json={"name": name, "password": PASSWORD}) as r:
                body = await r.json()
                assert r.status == 200, body
            client.csrf = body["csrf"]
        return client

    async def request(self, method: str, path: str, body: Any = None, *, csrf: bool = True) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.base_url + path, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> tuple[int, Any]:
        return await self.request("POST", path, {} if body is None else body, csrf=csrf)

    async def close(self) -> None:
        await self.http.close()
