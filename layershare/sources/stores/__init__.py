"""The engine's image stores read from disk: graphdriver, containerd (content, snapshots, metadata)."""
