"""Options several ``trunkline`` subcommands share."""

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
