"""The simulated Kubernetes API server of the member-cluster simulator (like KWOK).

It speaks enough of the kube-apiserver REST protocol for the official ``kubernetes``
client (sync and ``kubernetes.aio``) to run unchanged: CRUD, list with selectors, watch
with resourceVersion and 410 Gone, status subresources, patches, discovery, CRDs.

Layout: ``store`` (+ ``admission``, ``defaults``, ``services``, ``crds``) holds objects;
``http_api`` / ``http_watch`` / ``paths`` / ``discovery`` serve them; ``controllers/``
make them behave (StatefulSets, scheduling, kubelet, volumes, garbage collection,
MongoDB members); ``cluster`` wires one cluster together. It is a simulator: every
error message says so.
"""
