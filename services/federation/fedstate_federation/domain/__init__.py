"""Pure decisions of the orchestrator: no I/O, no nats, kubernetes or pymongo imports."""
