"""The lake: its paths, atomic commits, records, manifests and derived states."""
