"""An engine's disk: one walk of its data root, who owns what under it, and the items found."""
