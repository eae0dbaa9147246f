"""Per-member-cluster resource collector: nodes, pods and storage classes → ``fs-clusters``."""
