"""Per-member-cluster data-plane agent: Kubernetes objects and replica-set admin for the members here."""
