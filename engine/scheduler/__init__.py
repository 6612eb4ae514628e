"""engine/scheduler."""
