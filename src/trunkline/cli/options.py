"""Options several ``trunkline`` subcommands share."""

LOG_LEVELS = ["debug", "info", "warning", "error"]


def add_log_level(parser):
    parser.add_argument("--log-level", default="warning", choices=LOG_LEVELS,
                        help="log verbosity (default: %(default)s)")
