"""engine/execution."""
