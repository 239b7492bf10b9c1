"""``layershare dupes``: files stored more than once across stored layers, and what would share them."""
