"""Logging the way OpenStack services do it: text lines shaped as oslo.log's or one JSON object
per line (``--use-json``), to stderr or a file (``--log-file``); ``--debug`` is
``--log-level debug``. The API's access log (api/access.py) logs through it."""
import json
import logging
import os
import socket

TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ENV = "TRUNKLINE_LOG"   # the logging options (JSON) for the server's worker processes
structured = False      # --use-json: records carry their fields for the JSON formatter


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with oslo.log's JSONFormatter's main keys; a record's
    ``context`` (the access log's request ids, user and project) and ``extra`` are kept."""

    hostname = socket.gethostname()

    def format(self, record):
        out = {"asctime": self.formatTime(record, DATE_FORMAT), "created": record.created,
               "name": record.name, "levelname": record.levelname,
               "message": record.getMessage(), "process": record.process,
               "hostname": self.hostname}
        for key in ("context", "extra"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(out, default=str)


def options(args):
    """The logging options of parsed arguments, as a dict (what workers get through ENV)."""
    return {"level": "debug" if getattr(args, "debug", False) else
            getattr(args, "log_level", "warning"),
            "file": getattr(args, "log_file", None), "json": getattr(args, "use_json", False)}


def setup(opts):
    """Configure the root logger from ``options()``; replaces earlier handlers."""
    if opts.get("file"):
        os.makedirs(os.path.dirname(os.path.abspath(opts["file"])), exist_ok=True)
        handler = logging.FileHandler(opts["file"])
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if opts.get("json") else
                         logging.Formatter(TEXT_FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(opts.get("level", "warning").upper())
    global structured
    structured = bool(opts.get("json"))
    # the logging HOWTO's optimisations: no caller lookup, thread or multiprocessing names
    # (none of them is in a line) make each record cheaper
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    # alembic tells every migration step at INFO: only a debug log wants that
    logging.getLogger("alembic").setLevel(
        logging.DEBUG if opts.get("level") == "debug" else logging.WARNING)
    os.environ[ENV] = json.dumps(opts)


def setup_from_env():
    """In a worker process: the parent's logging options, once."""
    if os.environ.get(ENV) and not logging.getLogger().handlers:
        setup(json.loads(os.environ[ENV]))
