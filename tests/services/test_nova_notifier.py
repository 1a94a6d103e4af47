"""The Nova notifier's own decisions, without Keystone or Nova (tests/api/test_nova_events.py
runs it against both): which transitions give which event, what each answer of Nova does to a
batch, the bounded queue, and that the sending thread batches and retries."""
import logging
import threading
import time
import uuid

from keystoneauth1 import exceptions as ks_exc

from trunkline.services.nova import events, notifier

SERVER = str(uuid.uuid4())


def test_status_transitions_as_neutron():
    ev = events.status_event
    assert ev("p", SERVER, "DOWN", "ACTIVE") == {
        "name": "network-vif-plugged", "server_uuid": SERVER, "status": "completed", "tag": "p"}
    assert ev("p", SERVER, "BUILD", "ACTIVE")["status"] == "completed"
    assert ev("p", SERVER, "BUILD", "ERROR") == {
        "name": "network-vif-plugged", "server_uuid": SERVER, "status": "failed", "tag": "p"}
    assert ev("p", SERVER, "ACTIVE", "DOWN") == {
        "name": "network-vif-unplugged", "server_uuid": SERVER, "status": "completed",
        "tag": "p"}
    for old, new in (("ACTIVE", "ERROR"), ("ACTIVE", "BUILD"), ("DOWN", "BUILD"),
                     ("ERROR", "DOWN"), ("DOWN", "DOWN"), ("ACTIVE", "ACTIVE")):
        assert ev("p", SERVER, old, new) is None, (old, new)


def test_only_instance_ports_count():
    assert events.is_compute_port(SERVER, "compute:nova")
    assert events.is_compute_port(SERVER.upper(), "compute:az-2")
    assert events.is_compute_port("{%s}" % SERVER, "compute:nova")    # as oslo's is_uuid_like
    assert events.is_compute_port(SERVER.replace("-", ""), "compute:nova")
    assert not events.is_compute_port("vm-1", "compute:nova")
    assert not events.is_compute_port(SERVER + "0", "compute:nova")
    assert not events.is_compute_port(SERVER, "trunk:subport")
    assert not events.is_compute_port(SERVER, "network:dhcp")
    assert not events.is_compute_port("", "compute:nova")
    assert not events.is_compute_port(SERVER, "")


class Answer:
    def __init__(self, status, body=None):
        self.status_code = status
        self.body = body
        self.text = str(body)

    def json(self):
        if self.body is None:
            raise ValueError("no JSON")
        return self.body


class Session:
    """keystoneauth's Session as the notifier uses it: scripted answers or exceptions."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.posts = []
        self.invalidated = 0

    def post(self, path, json, endpoint_filter, headers, raise_exc, connect_retries):
        self.posts.append((path, json, endpoint_filter, headers))
        answer = self.answers.pop(0) if self.answers else Answer(200, {"events": []})
        if isinstance(answer, Exception):
            raise answer
        return answer

    def invalidate(self):
        self.invalidated += 1

    def get_endpoint(self, **_):
        return "http://nova.example/v2.1"


def _notifier(session, **kw):
    n = notifier.Notifier("http://keystone.example/v3", "nova", "pw", "service", **kw)
    n.session = session
    return n


def _batch(n):
    return [{"name": "network-vif-plugged", "server_uuid": SERVER, "status": "completed",
             "tag": "port-%d" % i} for i in range(n)]


def test_each_answer_of_nova():
    batch = _batch(3)
    s = Session(Answer(200, {"events": []}))
    n = _notifier(s, region="R2", endpoint_type="internal")
    assert n.send(batch) == []
    path, body, where, headers = s.posts[0]
    assert path == "/os-server-external-events" and body == {"events": batch}
    assert where == {"service_type": "compute", "interface": "internal", "region_name": "R2"}
    assert headers == {"X-OpenStack-Nova-API-Version": "2.1"}
    # 207: 404 and 422 are final, a 500 is retried
    codes = [404, 422, 500]
    s = Session(Answer(207, {"events": [dict(e, code=c) for e, c in zip(batch, codes)]}))
    assert _notifier(s).send(batch) == [batch[2]]
    for final in (404, 400):
        assert _notifier(Session(Answer(final, {}))).send(batch) == []
    for again in (500, 503, 403, 429):
        assert _notifier(Session(Answer(again, {}))).send(batch) == batch
    for error in (ks_exc.ConnectFailure("refused"), ks_exc.ConnectTimeout("slow"),
                  ks_exc.Unauthorized("keystone says no"), ks_exc.EndpointNotFound("none")):
        assert _notifier(Session(error)).send(batch) == batch
    # 401: a new token, sent again at once
    s = Session(Answer(401, {}), Answer(200, {"events": []}))
    assert _notifier(s).send(batch) == [] and s.invalidated == 1 and len(s.posts) == 2
    s = Session(Answer(401, {}), Answer(401, {}))
    assert _notifier(s).send(batch) == batch and len(s.posts) == 2


def test_queue_is_bounded_and_says_what_it_dropped(caplog):
    n = _notifier(Session(), max_queue=5)
    with caplog.at_level(logging.WARNING, logger=notifier.__name__):
        n.queue(_batch(8))
    assert [e["tag"] for _, e in n._pending] == ["port-%d" % i for i in range(3, 8)]
    assert n.dropped == 3
    assert "dropped the 3 oldest" in caplog.text and "port-0" in caplog.text


def test_thread_batches_and_retries_without_losing_events():
    s = Session(ks_exc.ConnectFailure("Nova down"), Answer(500, {}), Answer(200, {}))
    n = _notifier(s, interval=0.2)
    n.start()
    try:
        n.queue(_batch(1))
        time.sleep(0.05)
        n.queue(_batch(2)[1:])          # the same interval: the same request
        deadline = time.monotonic() + 10
        while n.sent < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert n.sent == 2
        assert len(s.posts) == 3 and all(p[1] == {"events": _batch(2)} for p in s.posts)
        assert not n._pending
    finally:
        n.stop()


def test_queueing_never_waits_for_a_slow_nova():
    release = threading.Event()

    class Slow(Session):
        def post(self, *a, **kw):
            release.wait(10)
            return super().post(*a, **kw)

    n = _notifier(Slow(), interval=0.01)
    n.start()
    try:
        n.queue(_batch(1))
        time.sleep(0.1)                 # the thread is now inside post()
        started = time.monotonic()
        for _ in range(1000):
            n.queue(_batch(1))
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        n.stop()
