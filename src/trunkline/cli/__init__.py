"""The `trunkline` command line: server, up, demo and db (main), agent and lab (their own light parsers)."""
