"""Prometheus metrics at ``/metrics``: requests and their latency per API operation, and, read
from the database at scrape time, the agents (alive or dead, their last pass), the change log
and this process's connection pool.

The request metrics are kept per process; with several API workers the processes share them
through prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, which the server
sets before its workers start), so a scrape answered by any worker counts all of them. Only
clients in the allowed networks (the loopback by default) may scrape: the agents' host names are
an admin's information in Neutron.
"""
from __future__ import annotations

import ipaddress
import os
import re
from typing import Iterable, Optional

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from trunkline.db import changelog, schema
from trunkline.plugins import agents as agents_mod

ENV_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
# API latency: Neutron-sized calls take from under a millisecond to seconds (bulk creates)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
           10.0, 30.0)
_API_PATH = re.compile(r"^/v2\.0/([a-z_-]+)(?:/([^/]+)(?:/([a-z_]+))?)?")
_MEMBER = {"GET": "show", "PUT": "update", "DELETE": "delete"}
_COLLECTION = {"GET": "list", "POST": "create"}


def allowed_networks(cidrs: Optional[Iterable[str]]) -> list:
    """The networks whose clients may scrape (ValueError for a bad CIDR)."""
    return [ipaddress.ip_network(c.strip(), strict=False)
            for c in (cidrs if cidrs is not None else DEFAULT_ALLOW) if c.strip()]


class Metrics:
    def __init__(self, db, routes: dict, allow: Optional[Iterable[str]] = None,
                 controllers: Iterable[str] = ()):
        self.db = db
        self.routes = routes     # URL segment -> plugin, as the API routes them
        self.controllers = frozenset(controllers)   # collections that are not rows: quotas
        self.allow = allowed_networks(allow)
        self.multiprocess = bool(os.environ.get(ENV_MULTIPROC))
        # the request metrics live in their own registry: in multiprocess mode a scrape reads
        # them from the shared files instead
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("trunkline_api_requests", "API requests answered",
                                ["method", "operation", "code"], registry=self.registry)
        self.latency = Histogram("trunkline_api_request_duration_seconds",
                                 "time from the request's arrival to its answer",
                                 ["method", "operation"], buckets=BUCKETS,
                                 registry=self.registry)

    def operation(self, method: str, path: str) -> str:
        """A bounded label for the request: ``ports:create``, ``trunks:add_subports``..."""
        if path.startswith("/agent/v1/"):
            return "agent:" + path[len("/agent/v1/"):].split("/", 1)[0][:32]
        m = _API_PATH.match(path)
        if m is None:
            return "versions" if path.rstrip("/") in ("", "/v2.0") else "other"
        collection, item, sub = m.groups()
        if collection.endswith(".json"):
            collection = collection[:-5]
        if collection == "extensions":
            return "extensions"
        plugin = self.routes.get(collection)
        if plugin is None:
            if collection in self.controllers and method in _MEMBER.keys() | _COLLECTION.keys():
                return "%s:%s" % (collection, method.lower())
            return "other"
        if item is None:
            return "%s:%s" % (collection, _COLLECTION.get(method, "other"))
        if sub is None:
            return "%s:%s" % (collection, _MEMBER.get(method, "other"))
        if sub in ("tags", "bindings") or plugin.resource.action(sub) is not None:
            return "%s:%s" % (collection, sub)
        return "%s:other" % collection

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        op = self.operation(method, path)
        method = method if method in ("GET", "POST", "PUT", "DELETE", "HEAD") else "other"
        self.requests.labels(method, op, str(status)).inc()
        self.latency.labels(method, op).observe(seconds)

    def may_scrape(self, client: Optional[tuple]) -> bool:
        if not client:
            return False
        try:
            addr = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(addr in net for net in self.allow)

    def render(self) -> tuple:
        """(content type, body) of a scrape."""
        registry = CollectorRegistry()
        if self.multiprocess:
            from prometheus_client import multiprocess
            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(_Registry(self.registry))
        registry.register(_State(self.db))
        return CONTENT_TYPE_LATEST, generate_latest(registry)


class _Registry:
    """Another registry's metrics, collected as one collector."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


class _State:
    """What the database says at scrape time."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        G = schema.agents
        agents = GaugeMetricFamily("trunkline_agents", "registered agents",
                                   labels=["agent_type", "alive"])
        passes = GaugeMetricFamily("trunkline_agent_last_pass_seconds",
                                   "how long each alive agent's last reconcile pass took, "
                                   "as its heartbeats report it",
                                   labels=["agent_type", "host"])
        failing = GaugeMetricFamily("trunkline_agent_pass_failing",
                                    "1 while an alive agent's passes fail",
                                    labels=["agent_type", "host"])
        revision = GaugeMetricFamily("trunkline_changelog_revision",
                                     "the newest revision of the change log")
        horizon = GaugeMetricFamily("trunkline_changelog_horizon",
                                    "the revision up to which the change log was pruned")
        rows = GaugeMetricFamily("trunkline_changelog_rows", "change log rows kept")
        counts = {}
        with self.db.read() as conn:
            cutoff = agents_mod.alive_cutoff()
            for row in conn.execute(select(G.c.agent_type, G.c.host, G.c.heartbeat_at,
                                           G.c.configurations, G.c.pass_seconds)):
                alive = row.heartbeat_at >= cutoff
                key = (row.agent_type, "true" if alive else "false")
                counts[key] = counts.get(key, 0) + 1
                if alive and row.pass_seconds is not None:
                    passes.add_metric([row.agent_type, row.host], row.pass_seconds)
                last = (row.configurations or {}).get("last_pass")
                if alive and isinstance(last, dict):
                    failing.add_metric([row.agent_type, row.host],
                                       0 if last.get("ok", True) else 1)
            revision.add_metric([], conn.execute(
                select(schema.revision.c.value).where(schema.revision.c.id == 1)
            ).scalar() or 0)
            horizon.add_metric([], changelog.horizon(conn))
            rows.add_metric([], conn.execute(
                select(func.count()).select_from(schema.changes)).scalar() or 0)
        for (agent_type, alive), n in sorted(counts.items()):
            agents.add_metric([agent_type, alive], n)
        yield from (agents, passes, failing, revision, horizon, rows)
        pool = self.db.engine.pool
        if hasattr(pool, "checkedout"):
            used = GaugeMetricFamily("trunkline_db_pool_connections",
                                     "this process's pooled database connections",
                                     labels=["state"])
            used.add_metric(["checked_out"], pool.checkedout())
            used.add_metric(["idle"], pool.checkedin())
            used.add_metric(["overflow"], max(pool.overflow(), 0))
            yield used
