"""Member-cluster simulator: a Kubernetes API subset and MongoDB wire-protocol members.

It is a simulator, not Kubernetes and not MongoDB. It exists so that the real
collector and data-plane agent code (the official ``kubernetes`` client and
``pymongo``) can run end to end on one machine. No service imports it.
"""
