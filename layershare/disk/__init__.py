"""``layershare disk``: each category's bytes in the engine's measure and on disk, what a prune
reclaims (``categories``), and two saved disks compared (``saved_diff``)."""
