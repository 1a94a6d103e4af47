"""The quota API (``/v2.0/quotas``): limits per project, their defaults and usage."""
