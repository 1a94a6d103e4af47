"""Options several ``trunkline`` subcommands share, and printing what they list."""
import json

LOG_LEVELS = ["debug", "info", "warning", "error"]


def add_log_level(parser, default="warning"):
    parser.add_argument("--log-level", default=default, choices=LOG_LEVELS,
                        help="log verbosity (default: %(default)s)")
    parser.add_argument("--debug", action="store_true",
                        help="the same as --log-level debug (oslo.log's debug)")
    parser.add_argument("--log-file", metavar="PATH",
                        help="log to PATH instead of stderr (oslo.log's log_file)")
    parser.add_argument("--use-json", action="store_true",
                        help="log one JSON object per line (oslo.log's use_json)")


def log_argv(args):
    """The logging options of ``args`` as a command line (for the processes `up` starts)."""
    return ["--log-level", args.log_level] + (["--debug"] if args.debug else []) + (
        ["--use-json"] if args.use_json else [])


FORMATS = ["table", "json", "yaml", "value"]


def add_format(parser):
    parser.add_argument("-f", "--format", choices=FORMATS, default="table",
                        help="table (default), json or yaml (every field), value (the table's "
                             "cells, space-separated, no header: for scripts)")


def print_records(fmt, records, header, rows):
    """Print ``records`` (dicts: every field) as json/yaml, or the table ``header`` + ``rows``
    (their cells) as an aligned table or bare values."""
    if fmt == "json":
        print(json.dumps(records, indent=2, sort_keys=True))
    elif fmt == "yaml":
        # JSON scalars and flow collections are YAML: no YAML library needed
        for rec in records:
            lines = ["%s: %s" % (k, json.dumps(v)) for k, v in sorted(rec.items())]
            print("\n".join(("- " if i == 0 else "  ") + l for i, l in enumerate(lines)))
        if not records:
            print("[]")
    elif fmt == "value":
        for row in rows:
            print(" ".join(str(c) for c in row))
    else:
        table = [tuple(header)] + [tuple(r) for r in rows]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for r in table:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
