"""The crd-bridge: a control-plane cluster's MultiCloudMongoDB and MongoDB custom resources, submitted through the
bus intake, with their status written back (docs/crd-bridge.md)."""
