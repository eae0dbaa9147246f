"""The simulated Kubernetes API server of the member-cluster simulator (like KWOK).

It speaks enough of the kube-apiserver REST protocol for the official ``kubernetes``
client (sync and ``kubernetes.aio``) to run unchanged: CRUD, list with selectors, watch
with resourceVersion and 410 Gone, status subresources, patches, discovery, CRDs.

Layout: ``store`` (+ ``admission`` and the kind rules it runs: ``defaults``, ``pods``, ``claims``,
``services``, ``configdata``, ``crds``/``crschema``, ``validation``) holds objects; ``http_api`` /
``http_watch`` / ``paths`` / ``discovery`` serve them, with ``label_syntax``, ``selectors``,
``managedfields``/``fieldpaths`` (server-side apply) and ``patch``; ``controllers/`` make them behave
(StatefulSets, scheduling, kubelet, volumes, garbage collection, CRD cleanup, namespace seeds, MongoDB
members); ``cluster`` wires one cluster together. It refuses what kube-apiserver refuses (see
docs/simulator.md, "Fidelity: Kubernetes"). It is a simulator: every error message says so.
"""
