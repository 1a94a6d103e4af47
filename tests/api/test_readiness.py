"""systemd's readiness protocol: ``trunkline server`` (one worker or several) sends ``READY=1`` to
``$NOTIFY_SOCKET`` once it accepts connections, and not before."""
import os
import socket
import subprocess

import pytest
import requests

from helpers.server import TRUNKLINE, free_port, stop_group


@pytest.mark.parametrize("workers", [1, 2])
def test_server_notifies_systemd_when_it_listens(tmp_path, workers):
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(60)
    port = free_port()
    proc = subprocess.Popen(
        [TRUNKLINE, "server", "--bind", "127.0.0.1:%d" % port,
         "--db", "sqlite:///%s/t.db" % tmp_path, "--workers", str(workers)],
        env=dict(os.environ, NOTIFY_SOCKET=path), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        message = listener.recv(4096)
        assert message == b"READY=1"
        # ready means the port takes connections now (the workers answer as they start)
        r = requests.get("http://127.0.0.1:%d/" % port, timeout=30)
        assert r.status_code == 200
    finally:
        stop_group(proc)
        listener.close()


def test_no_notify_socket_no_message(tmp_path):
    from trunkline import sdnotify
    env = os.environ.pop(sdnotify.ENV, None)
    try:
        assert sdnotify.notify("READY=1") is False
        os.environ[sdnotify.ENV] = str(tmp_path / "nobody-listens")
        assert sdnotify.notify("READY=1") is False
    finally:
        os.environ.pop(sdnotify.ENV, None)
        if env is not None:
            os.environ[sdnotify.ENV] = env
