"""The core: networks, subnets, ports (with IPAM, segments, binding, extra DHCP options),
agents and tags, and the events services subscribe to (events.py). ``Plugins`` holds the plugin
of every collection the API serves, core or service (server.py builds them from the
definitions); plugins find each other through it, never by importing a service."""
from typing import Any, Optional

from trunkline.plugins.config import PluginConfig


class Plugins:
    """The plugins by collection, and the settings they share (``cfg``)."""

    def __init__(self, cfg: Optional[PluginConfig] = None):
        self.cfg = cfg or PluginConfig()
        self._by_collection = {}

    def add(self, collection: str, plugin: Any) -> None:
        self._by_collection[collection] = plugin

    def __getitem__(self, collection: str) -> Any:
        return self._by_collection[collection]

    def get(self, collection: str) -> Any:
        return self._by_collection.get(collection)

    def items(self):
        return self._by_collection.items()
