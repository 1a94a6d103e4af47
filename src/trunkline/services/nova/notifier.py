"""Sending the events to Nova: queued by committed writes, posted by one thread per server
process every ``send_events_interval`` seconds (Neutron's batch notifier: the first event of a
batch waits that long after it was queued, for the others), as ``POST /os-server-external-events`` of the
``compute`` endpoint in Keystone's catalog, authenticated as the ``[nova]`` service user
through keystoneauth1, at the microversion Neutron's novaclient asks for (2.1).

Nova's answers:

- 200: delivered;
- 207: per-event codes; 404 (no such instance) and 422 (instance not on a host) are final and
  logged, any other failed event is logged and dropped, a 5xx one is retried;
- 404: none of the instances exists: final;
- 401: the token is invalidated and the batch sent again at once with a new one;
- 400: a request Nova refuses will never pass: logged and dropped;
- a connection error, a timeout, 403, 429, 5xx, no compute endpoint in the catalog or Keystone
  failing: the batch goes back to the front of the queue and is retried with a growing delay
  (up to ``MAX_BACKOFF``).

The queue is bounded (``max_queue``): when Nova stays away, the oldest events are dropped and
the count logged; an API request only ever appends to it, never waits for Nova.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import Optional

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic

LOG = logging.getLogger(__name__)
API_VERSION = "2.1"                 # what Neutron's novaclient sends
PATH = "/os-server-external-events"
BATCH = 200                         # events per POST: Nova refuses bodies over ~112 KiB
MAX_QUEUE = 10000
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
TIMEOUT = 10.0
ENV_PASSWORD = "TRUNKLINE_NOVA_PASSWORD"


class Notifier:
    """The queue and its sending thread for one server process."""

    def __init__(self, auth_url: str, username: str, password: str, project: str,
                 user_domain: str = "Default", project_domain: str = "Default",
                 region: Optional[str] = None, endpoint_type: str = "public",
                 interval: float = 2.0, max_queue: int = MAX_QUEUE, timeout: float = TIMEOUT):
        self.auth = generic.Password(auth_url=auth_url, username=username, password=password,
                                     project_name=project, user_domain_name=user_domain,
                                     project_domain_name=project_domain)
        self.session = ks_session.Session(auth=self.auth, timeout=timeout)
        self.endpoint = {"service_type": "compute", "interface": endpoint_type,
                         "region_name": region}
        self.interval = interval
        self.max_queue = max_queue
        self._pending = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None
        self.sent = 0       # events Nova accepted or answered finally (for the log and tests)
        self.dropped = 0    # events dropped from a full queue

    # -- the producers' side (any thread; never blocks on Nova)

    def queue(self, events: list) -> None:
        now = time.monotonic()
        with self._cond:
            self._pending.extend((now, e) for e in events)
            self._trim()
            self._cond.notify()

    def _trim(self):
        over = len(self._pending) - self.max_queue
        if over > 0:
            lost = [self._pending.popleft()[1] for _ in range(over)]
            self.dropped += over
            LOG.warning("Nova notifier queue full (%d): dropped the %d oldest events, e.g. %s",
                        self.max_queue, over, lost[0])

    # -- the sender

    def start(self) -> "Notifier":
        self._thread = threading.Thread(target=self._run, name="trunkline-nova", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def _warm_up(self):
        """A token and the endpoint before the first event, so that it waits for neither (and
        a wrong setting shows in the log at start)."""
        try:
            LOG.info("Nova notifier: compute endpoint %s",
                     self.session.get_endpoint(**self.endpoint))
        except ks_exc.ClientException as e:
            LOG.warning("Nova notifier: no compute endpoint yet (%s): %s",
                        _filter(self.endpoint), e)

    def _run(self):
        self._warm_up()
        retry_at, backoff = 0.0, FIRST_BACKOFF
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                # the batch goes when its oldest event has waited an interval (later ones
                # join it), or when the back-off after a failure is over
                due = max(self._pending[0][0] + self.interval, retry_at) \
                    if self._pending else 0.0
                while not self._stopping and time.monotonic() < due:
                    self._cond.wait(due - time.monotonic())
                if self._stopping:
                    return
                queued = [self._pending.popleft()
                          for _ in range(min(BATCH, len(self._pending)))]
            batch = [e for _, e in queued]
            try:
                retry = self.send(batch)
            except Exception:   # a bug must not end the thread: log, keep the events
                LOG.exception("Nova notifier failed sending %s", batch)
                retry = batch
            if retry:
                again = [q for q in queued if any(q[1] is e for e in retry)]
                with self._cond:
                    self._pending.extendleft(reversed(again))
                    self._trim()
                retry_at, backoff = time.monotonic() + backoff, min(backoff * 2, MAX_BACKOFF)
            else:
                retry_at, backoff = 0.0, FIRST_BACKOFF

    def send(self, batch: list) -> list:
        """POST ``batch``; the events to send again later ([] when none)."""
        for attempt in (1, 2):
            try:
                resp = self.session.post(
                    PATH, json={"events": batch}, endpoint_filter=self.endpoint,
                    headers={"X-OpenStack-Nova-API-Version": API_VERSION},
                    raise_exc=False, connect_retries=0)
            except ks_exc.EndpointNotFound:
                LOG.error("no compute endpoint (%s) in Keystone's catalog: %d events wait",
                          _filter(self.endpoint), len(batch))
                self.session.invalidate()
                return batch
            except ks_exc.ClientException as e:
                # Nova or Keystone unreachable, timed out, or Keystone refusing the credentials
                LOG.warning("cannot send %d events to Nova (%s); retrying", len(batch), e)
                return batch
            if resp.status_code == 401 and attempt == 1:
                self.session.invalidate()    # an expired or revoked token: a new one, once
                continue
            return self._answer(batch, resp)
        return batch

    def _answer(self, batch, resp):
        code = resp.status_code
        if code == 200:
            self.sent += len(batch)
            LOG.info("Nova accepted %d events", len(batch))
            return []
        if code == 207:
            return self._partial(batch, resp)
        if code == 404:
            self.sent += len(batch)
            LOG.info("Nova knows none of the instances of %d events: %s", len(batch), batch)
            return []
        if code == 400:
            LOG.error("Nova refused %d events (400 %s): %s", len(batch), resp.text[:500], batch)
            return []
        if code in (401, 403, 429) or code >= 500:
            LOG.warning("Nova answered %d to %d events; retrying: %s", code, len(batch),
                        resp.text[:300])
            return batch
        LOG.error("Nova answered %d to %d events; dropped: %s", code, len(batch), batch)
        return []

    def _partial(self, batch, resp):
        try:
            answers = resp.json()["events"]
        except (ValueError, KeyError, TypeError):
            LOG.error("Nova's 207 answer has no events: %s", resp.text[:500])
            return []
        retry = []
        for event, answer in zip(batch, answers):
            code = answer.get("code") if isinstance(answer, dict) else None
            if code == 200:
                self.sent += 1
            elif isinstance(code, int) and code >= 500:
                LOG.warning("Nova event %s failed (%s); retrying", event, answer)
                retry.append(event)
            else:
                self.sent += 1
                LOG.warning("Nova event %s failed: %s", event, answer)
        return retry


def _filter(endpoint):
    return ", ".join("%s=%s" % (k, v) for k, v in endpoint.items() if v)


def from_settings(opts: dict) -> Optional[Notifier]:
    """The notifier the ``nova`` settings ask for (None without ``auth_url``), started."""
    if not opts or not opts.get("auth_url"):
        return None
    password = opts.get("password") or os.environ.get(ENV_PASSWORD, "")
    return Notifier(opts["auth_url"], opts["username"], password, opts["project"],
                    user_domain=opts.get("user_domain") or "Default",
                    project_domain=opts.get("project_domain") or "Default",
                    region=opts.get("region") or None,
                    endpoint_type=opts.get("endpoint_type") or "public",
                    interval=float(opts.get("send_events_interval", 2.0))).start()

