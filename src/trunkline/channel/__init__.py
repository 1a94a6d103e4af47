"""The server side of the agent channel (/agent/v1): registration, host state, watches,
status reports, and which agents each change concerns."""
