"""``/healthcheck`` in oslo.middleware's shape, for load balancers in front of API servers.

GET answers 200 with ``OK`` or 503 with the reasons; HEAD answers 204 or 503 without a body;
``Accept: application/json`` gets ``{"detailed": false, "reasons": [...]}``. It is public (a
load balancer has no token), so it names what is wrong without details an attacker could use.
The checks: the database answers, its schema is the one this server needs, Keystone answers (in
Keystone mode), and the operator's disable file (oslo's ``disable_by_file``) is absent.
"""
from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request
from typing import Optional

import orjson
from sqlalchemy import text

from trunkline.db import migrate

KEYSTONE_TIMEOUT = 2.0
# a load balancer polls every few seconds: one Keystone probe per interval is enough
KEYSTONE_CACHE = 5.0
OK = "OK"


class Healthcheck:
    def __init__(self, db, keystone_url: Optional[str] = None,
                 disable_file: Optional[str] = None, ssl_context=None):
        self.db = db
        self.keystone_url = keystone_url
        self.disable_file = disable_file
        self.ssl_context = ssl_context
        self.head = migrate.head()
        self._keystone = (0.0, None)   # (checked at, reason or None)

    async def reasons(self) -> list:
        """What makes this server unfit to serve, empty when nothing does."""
        if self.disable_file and os.path.exists(self.disable_file):
            return ["DISABLED BY FILE"]
        found = []
        db = self._database()
        if db:
            found.append(db)
        if self.keystone_url:
            ks = await self._keystone_reason()
            if ks:
                found.append(ks)
        return found

    def _database(self) -> Optional[str]:
        try:
            with self.db.engine.connect() as conn:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:   # unreachable, or not migrated at all: either way not serving
            return "database unreachable"
        if version != self.head:
            return "database migrations pending (schema %s, this server needs %s): run " \
                   "`trunkline db upgrade`" % (version, self.head)
        return None

    async def _keystone_reason(self) -> Optional[str]:
        checked, reason = self._keystone
        if time.monotonic() - checked < KEYSTONE_CACHE:
            return reason
        reason = await asyncio.to_thread(self._probe_keystone)
        self._keystone = (time.monotonic(), reason)
        return reason

    def _probe_keystone(self) -> Optional[str]:
        try:
            # any HTTP answer (even 401/300) means Keystone is there
            urllib.request.urlopen(self.keystone_url, timeout=KEYSTONE_TIMEOUT,
                                   context=self.ssl_context).close()
        except urllib.error.HTTPError:
            return None
        except Exception:
            return "keystone unreachable"
        return None

    async def answer(self, method: str, accept: str) -> tuple:
        """(status, headers, body) for a request to ``/healthcheck``."""
        if method not in ("GET", "HEAD"):
            return 405, [(b"allow", b"GET, HEAD")], b""
        reasons = await self.reasons()
        status = 503 if reasons else (204 if method == "HEAD" else 200)
        if method == "HEAD":
            return status, [(b"content-type", b"text/plain; charset=UTF-8")], b""
        reasons = reasons or [OK]
        if "application/json" in (accept or ""):
            return status, [(b"content-type", b"application/json")], orjson.dumps(
                {"detailed": False, "reasons": reasons})
        return status, [(b"content-type", b"text/plain; charset=UTF-8")], \
            "\n".join(reasons).encode()
