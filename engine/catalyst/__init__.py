"""engine/catalyst."""
