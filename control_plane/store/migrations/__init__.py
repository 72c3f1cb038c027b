"""Versioned schema migrations; see `control_plane.store.database`."""
