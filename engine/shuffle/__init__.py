"""engine/shuffle."""
