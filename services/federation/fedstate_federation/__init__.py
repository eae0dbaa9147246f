"""Federation orchestrator: intake of user objects, fan-out to member clusters, status aggregation."""
