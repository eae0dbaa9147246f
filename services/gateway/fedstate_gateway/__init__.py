"""The REST gateway: Kubernetes-style paths over the bus.

Reads come straight from the KV buckets (fs-spec, fs-status, fs-clusters, fs-placements,
fs-dataplane, fs-observed) and the events stream; every write goes through the intake
request/reply protocol, whose single writer owns fs-spec.
"""
