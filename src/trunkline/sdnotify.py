"""systemd's readiness protocol (``Type=notify``): one datagram to ``$NOTIFY_SOCKET``, so a unit
starts its dependants only once the service is really serving. A no-op outside systemd."""
import os
import socket

ENV = "NOTIFY_SOCKET"


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``STATUS=...``, ``STOPPING=1``); False when no manager
    listens."""
    path = os.environ.get(ENV)
    if not path:
        return False
    if path.startswith("@"):        # an abstract socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(path)
            s.sendall(state.encode())
    except OSError:
        return False
    return True
