"""The ``fedstate`` command line: kubectl-like access to the gateway, and the local stack (``up``/``down``)."""
