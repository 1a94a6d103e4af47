"""The trunk service: the trunk API (plugin), validation (rules), status, and what it does
when the core changes ports (callbacks)."""
