"""The REST gateway: Kubernetes-style paths over the bus.

Reads come from in-memory caches of the KV buckets (fs-spec, fs-status, fs-clusters and the
collectors' leases, fs-placements, fs-dataplane, fs-observed, fs-local-objects), one watch each
(``caches.py``), and from the events stream; every write goes through the intake request/reply
protocol, whose single writer owns fs-spec. Watches (``?watch=true``, ``GET /watch``) are fed by the same caches
(``feed.py``): a queue per watch, no consumer.
"""
