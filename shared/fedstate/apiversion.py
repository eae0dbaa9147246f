"""The API group and version of fedstate's kinds, in a module that imports nothing (the CLI starts light)."""

API_GROUP = "middleware.fedstate.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
