"""Routers, one module per resource; each exposes ``router(store, settings)``."""
