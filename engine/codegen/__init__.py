"""engine/codegen."""
