"""engine.codegen: whole-stage code generation (Spark's WholeStageCodegenExec, on numba).

* ``pipeline``      -- ``compile_pipeline(input_attrs, condition, outputs)``: a Filter + Project
                       chain as one generated numba function over Arrow buffers, or
                       ``CodegenUnsupported(reason)`` for the planner to fall back to pyarrow.compute.
* ``kernel_cache``  -- generated source -> compiled function, memoized by sha256 in the process and
                       on disk (a content-hashed module per kernel, so numba's ``cache=True`` works).
* ``hashing``       -- Spark's Murmur3 ``hash()`` / ``HashPartitioning`` over Arrow columns.
* ``jit``           -- the only module that imports numba.

Submodules are imported on demand; importing this package does not load numba.
"""
