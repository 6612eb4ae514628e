"""Finding the files of a ``spark.read``: Spark's ``InMemoryFileIndex``.

A path may be a file, a directory (listed recursively) or a Hadoop-style glob (``*``, ``?``,
``[ab]``, ``{x,y}``). As in Spark:

* names starting with ``_`` or ``.`` are skipped, files and directories alike, except ``_``-names
  holding ``=`` (a partition directory such as ``_col=1``); so are ``*._COPYING_`` files, and the
  Parquet summary files ``_metadata`` / ``_common_metadata`` are not data files either;
* empty files are dropped (they hold no rows);
* a missing path raises ``[PATH_NOT_FOUND] Path does not exist: file:/...``;
* Hive-style partition directories below each base path become partition columns (see
  ``partitioning``). The base path of a directory is the directory itself, of a file its parent
  directory, unless the ``basePath`` option names one; ``recursiveFileLookup=true`` turns
  partition discovery off. ``pathGlobFilter`` keeps only file names matching a glob.

Files come back in a stable order: roots in the order given, each directory's entries by name.
"""
from __future__ import annotations

import fnmatch
import glob as _glob
import os
import re
from typing import Iterable, Sequence

from engine.catalyst.logical import PartitionedFile
from engine.datasources.options import OptionsLike, normalize_options
from engine.datasources.partitioning import infer_partitioning
from engine.sql.errors import AnalysisException
from engine.sql.types import DataType, StructType

_GLOB_CHARS = re.compile(r"[*?\[{]")
_NOT_DATA = ("_metadata", "_common_metadata")


def qualified(path: str) -> str:
    """A local path as Spark prints it in messages: ``file:/abs/path``."""
    return "file:" + os.path.abspath(path)


def strip_scheme(path: str) -> str:
    """``file:///a/b`` and ``file:/a/b`` -> ``/a/b``; other paths are made absolute."""
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif path.startswith("file:"):
        path = path[len("file:"):]
    return os.path.abspath(os.path.expanduser(path))


def should_filter_out(name: str) -> bool:
    """Spark's ``shouldFilterOutPathName``: hidden and ``_``-prefixed names are not data."""
    exclude = (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")
    include = name.startswith("_common_metadata") or name.startswith("_metadata")
    return exclude and not include


def is_data_file(name: str) -> bool:
    return not should_filter_out(name) and not name.startswith(_NOT_DATA)


def _expand_braces(pattern: str) -> list[str]:
    """Hadoop globs allow ``{a,b}`` alternatives; Python's ``glob`` does not."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out: list[str] = []
    for alt in m[1].split(","):
        out.extend(_expand_braces(pattern[:m.start()] + alt + pattern[m.end():]))
    return out


def _resolve_roots(paths: Iterable[str]) -> list[str]:
    roots: list[str] = []
    for given in paths:
        path = strip_scheme(given)
        if _GLOB_CHARS.search(path):
            matches = sorted({m for p in _expand_braces(path) for m in _glob.glob(p)})
            if not matches:
                raise AnalysisException(f"[PATH_NOT_FOUND] Path does not exist: {qualified(path)}. SQLSTATE: 42K03")
            roots.extend(os.path.abspath(m) for m in matches)
        elif not os.path.exists(path):
            raise AnalysisException(f"[PATH_NOT_FOUND] Path does not exist: {qualified(path)}. SQLSTATE: 42K03")
        else:
            roots.append(path)
    return roots


def _walk(directory: str, out: dict[str, int]) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:  # removed while listing, as Spark tolerates
        return
    for entry in entries:
        if should_filter_out(entry.name):
            continue
        if entry.is_dir():
            _walk(entry.path, out)
        elif entry.is_file():
            out.setdefault(entry.path, entry.stat().st_size)


def list_files(paths: Sequence[str] | str, format: str = "parquet",
               options: OptionsLike = None, *,
               schema: StructType | None = None, type_inference: bool = True,
               ) -> tuple[tuple[PartitionedFile, ...], list[tuple[str, DataType]]]:
    """The data files under ``paths`` and the partition schema their directories imply.

    ``schema`` is a user-given schema: a partition column it names takes its type from it
    instead of being inferred. ``type_inference=False`` is Spark's
    ``spark.sql.sources.partitionColumnTypeInference.enabled=false`` (all partition columns are
    strings).

    >>> files, partition_schema = list_files(["/data/sales"], "parquet")   # doctest: +SKIP
    >>> partition_schema                                                     # doctest: +SKIP
    [('year', IntegerType()), ('region', StringType())]
    >>> files[0].partition_values                                            # doctest: +SKIP
    (2024, 'emea')
    """
    if isinstance(paths, str):
        paths = [paths]
    opts = normalize_options(options)
    roots = _resolve_roots(paths)

    leaf: dict[str, int] = {}
    root_files: list[str] = []
    for root in roots:
        if os.path.isdir(root):
            _walk(root, leaf)
        elif not should_filter_out(os.path.basename(root)):
            leaf.setdefault(root, os.path.getsize(root))
            root_files.append(root)
    if roots and not leaf and not any(os.path.isdir(r) for r in roots):
        raise AnalysisException("All paths were ignored:\n  " + "\n  ".join(qualified(r) for r in roots))

    data_files = {p: size for p, size in leaf.items() if is_data_file(os.path.basename(p))}
    glob_filter = opts.get("pathglobfilter")
    if glob_filter:
        data_files = {p: s for p, s in data_files.items() if fnmatch.fnmatchcase(os.path.basename(p), glob_filter)}

    recursive = opts.get("recursivefilelookup", "false").lower() == "true"
    if recursive:
        partition_schema: list[tuple[str, DataType]] = []
        dir_values: dict[str, tuple] = {}
    else:
        base_paths = _base_paths(roots, set(root_files), opts.get("basepath"))
        leaf_dirs = list(dict.fromkeys(os.path.dirname(p) for p in data_files))
        user_types = {f.name: f.dataType for f in schema.fields} if schema is not None else None
        partition_schema, dir_values = infer_partitioning(leaf_dirs, base_paths, type_inference, user_types)

    files = []
    for path, size in data_files.items():
        if size <= 0:
            continue
        if partition_schema:
            values = dir_values.get(os.path.dirname(path))
            if values is None:  # not inside the partition layout: not part of the table
                continue
            files.append(PartitionedFile(path, size, values))
        else:
            files.append(PartitionedFile(path, size))
    return tuple(files), partition_schema


def _base_paths(roots: list[str], root_files: set[str], user_base: str | None) -> set[str]:
    if user_base is not None:
        base = strip_scheme(user_base)
        for r in roots:
            if not (r == base or r.startswith(base.rstrip(os.sep) + os.sep)):
                raise AnalysisException(f"Wrong basePath {qualified(base)} for the root path: {qualified(r)}")
        return {base}
    return {os.path.dirname(r) if r in root_files else r for r in roots}

