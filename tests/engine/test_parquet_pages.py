"""Ember's Parquet page decoder and late materialization, checked against pyarrow's reader on
files pyarrow writes (every codec, v1 and v2 pages, nulls, many pages, dictionary fallback), and
query results with the native reader on and off checked against DuckDB."""
from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalyst.expressions import AttributeReference, Comparison, IsNotNull, Literal
from engine.catalyst.logical import PartitionedFile
from engine.codegen.jit import LazyKernel
from engine.datasources import page_decoder_compile, parquet, parquet_late, parquet_pages
from engine.datasources.parquet import read_parquet_split
from engine.datasources.parquet_late import (
    NATIVE_READER_ENABLED,
    ColumnPredicate,
    column_predicates,
    estimated_selectivity,
    kept_rows,
)
from engine.datasources.parquet_pages import (
    H_COMPRESSED,
    H_DEF_ENCODING,
    H_ENCODING,
    H_NUM_VALUES,
    H_PAYLOAD,
    CorruptPage,
    NativeUnsupported,
    _gather_dense,
    chunk_layout,
    decode_chunk,
    decode_hybrid,
    page_headers,
    read_chunk_bytes,
)
from engine.datasources.pruning import ColumnStats
from engine.datasources.splits import FileSplit
from engine.execution.filter_exec import FilterExec
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec
from engine.scheduler.task_context import TaskContext
from engine.sql import functions as F
from engine.sql.types import DateType, DoubleType, IntegerType, LongType

ROWS = 3000
NUMERIC = ("i32", "i64", "f32", "f64", "day")
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _table(nulls: str, seed: int = 0) -> pa.Table:
    """Columns of every supported type. The first half of each repeats a few values, the second
    half has many distinct ones: with a small dictionary page limit the writer falls back to
    PLAIN pages midway through a chunk."""
    rng = np.random.default_rng(seed)
    few = rng.integers(0, 40, ROWS // 2)
    many = rng.integers(0, 1_000_000, ROWS - ROWS // 2)
    base = np.concatenate([few, many])
    mask = {"none": None, "some": rng.random(ROWS) < 0.3, "all": np.ones(ROWS, bool)}[nulls]
    f64 = base / 7.0
    f64[5] = np.nan
    columns = {
        "i32": pa.array(base.astype(np.int32), mask=mask),
        "i64": pa.array(base * 1_000_003, mask=mask),
        "f32": pa.array((base / 3.0).astype(np.float32), mask=mask),
        "f64": pa.array(f64, mask=mask),
        "day": pa.array((base % 3000).astype(np.int32), mask=mask).cast(pa.date32()),
        "s": pa.array([f"v{v % 25}" for v in base], mask=mask),
    }
    return pa.table(columns)


def _write(path, table, **options) -> pq.ParquetFile:
    defaults = dict(row_group_size=1000, data_page_size=512, write_page_checksum=True)
    pq.write_table(table, path, **{**defaults, **options})
    return pq.ParquetFile(path)


def _native(path, pf: pq.ParquetFile, rg: int, name: str, rows=None, as_dictionary=False) -> pa.Array:
    leaf = pf.schema_arrow.names.index(name)
    layout = chunk_layout(pf.metadata, rg, leaf, pf.schema_arrow.field(name).type, as_dictionary)
    with open(path, "rb") as f:
        return decode_chunk(read_chunk_bytes(f, layout), layout, rows, where=f"{path}:{name}")


def _same(got: pa.Array, expected: pa.Array) -> bool:
    """Equal types and values, NaN equal to NaN (``Array.equals`` says NaN != NaN)."""
    def norm(values):
        return ["NaN" if isinstance(v, float) and math.isnan(v) else v for v in values.to_pylist()]
    return got.type == expected.type and norm(got) == norm(expected)


@pytest.mark.parametrize("nulls", ["none", "some", "all"])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("compression", ["none", "snappy", "gzip", "zstd", "lz4"])
@pytest.mark.parametrize("dictionary", ["dictionary", "fallback", "plain"])
def test_numeric_chunks_decode_as_pyarrow_reads_them(tmp_path, nulls, version, compression, dictionary):
    path = str(tmp_path / "t.parquet")
    options = {"dictionary": {}, "fallback": {"dictionary_pagesize_limit": 256},
               "plain": {"use_dictionary": False}}[dictionary]
    pf = _write(path, _table(nulls), compression=compression, data_page_version=version, **options)
    rows = np.array([0, 1, 5, 17, 400, 499, 500, 501, 998, 999], np.int64)
    for rg in range(pf.metadata.num_row_groups):
        for name in NUMERIC:
            expected = pf.read_row_group(rg, columns=[name]).column(0).combine_chunks()
            assert _same(_native(path, pf, rg, name), expected), (rg, name)
            assert _same(_native(path, pf, rg, name, rows), expected.take(rows)), (rg, name)
            assert len(_native(path, pf, rg, name, np.empty(0, np.int64))) == 0


def test_chunks_have_many_pages_and_fall_back_to_plain(tmp_path):
    """The matrix above is only worth something if its files have what it claims."""
    path = str(tmp_path / "t.parquet")
    pf = _write(path, _table("some"), dictionary_pagesize_limit=256)
    chunk = pf.metadata.row_group(1).column(pf.schema_arrow.names.index("i64"))
    assert {"PLAIN", "RLE_DICTIONARY"} <= set(chunk.encodings)
    assert chunk.total_uncompressed_size > 4 * 512   # several data pages


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_strings_decode_as_dictionary_codes(tmp_path, version):
    path = str(tmp_path / "t.parquet")
    pf = _write(path, _table("some"), data_page_version=version)
    rows = np.arange(0, 1000, 7, dtype=np.int64)
    for rg in range(pf.metadata.num_row_groups):
        expected = pf.read_row_group(rg, columns=["s"]).column(0).combine_chunks()
        full = _native(path, pf, rg, "s", as_dictionary=True)
        assert pa.types.is_dictionary(full.type)
        assert full.cast(pa.string()).equals(expected)
        assert _native(path, pf, rg, "s", rows, as_dictionary=True).cast(pa.string()).equals(expected.take(rows))


def test_what_the_decoder_does_not_handle_is_refused_before_decoding(tmp_path):
    path = str(tmp_path / "t.parquet")
    table = _table("none")
    pf = _write(path, table, use_dictionary=["s"], column_encoding={"i64": "DELTA_BINARY_PACKED"})
    with pytest.raises(NativeUnsupported):
        _native(path, pf, 0, "i64")
    with pytest.raises(NativeUnsupported):
        _native(path, pf, 0, "s")          # strings only as dictionary codes
    plain = str(tmp_path / "plain.parquet")
    pf = _write(plain, table, use_dictionary=False)
    with pytest.raises(NativeUnsupported):
        _native(plain, pf, 0, "s", as_dictionary=True)   # PLAIN string pages
    nested = str(tmp_path / "nested.parquet")
    pq.write_table(pa.table({"l": pa.array([[1, 2], [3]])}), nested)
    pf = pq.ParquetFile(nested)
    with pytest.raises(NativeUnsupported):
        chunk_layout(pf.metadata, 0, 0, pa.int64(), False)


def test_empty_row_group_and_truncated_chunk(tmp_path):
    path = str(tmp_path / "t.parquet")
    table = _table("some").slice(0, 10)
    with pq.ParquetWriter(path, table.schema) as w:
        w.write_table(table)
        w.write_table(table.slice(0, 0))
    pf = pq.ParquetFile(path)
    assert pf.metadata.row_group(1).num_rows == 0
    assert len(_native(path, pf, 1, "f64")) == 0
    layout = chunk_layout(pf.metadata, 0, pf.schema_arrow.names.index("f64"), pa.float64(), False)
    with open(path, "rb") as f:
        data = read_chunk_bytes(f, layout)[:layout.size - 5].copy()
    with pytest.raises(CorruptPage, match="t.parquet:f64"):
        decode_chunk(data, layout, where=f"{path}:f64")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(last: int, fid: int, kind: int) -> bytes:
    """A compact-protocol field header: the id as a delta when it fits, else in full."""
    delta = fid - last
    return bytes([delta << 4 | kind]) if 0 < delta <= 15 else bytes([kind]) + _varint(fid << 1)


def _i32(last: int, fid: int, value: int) -> bytes:
    return _field(last, fid, 5) + _varint((value << 1) ^ (value >> 63))


def test_page_header_parser_skips_what_it_does_not_need():
    """A PageHeader with a CRC, unknown fields far apart (a list, a map), and statistics inside
    the DataPageHeader: only the fields the decoder uses come out."""
    statistics = _field(0, 1, 8) + _varint(8) + bytes(8) + _field(1, 7, 1) + b"\x00"
    data_page = (_i32(0, 1, 2) + _i32(1, 2, 8) + _i32(2, 3, 3) + _i32(3, 4, 3)
                 + _field(4, 5, 12) + statistics + b"\x00")
    header = (_i32(0, 1, 0) + _i32(1, 2, 16) + _i32(2, 3, 16) + _i32(3, 4, 12345)
              + _field(4, 20, 9) + bytes([3 << 4 | 5]) + _varint(2) + _varint(4) + _varint(6)
              + _field(20, 21, 11) + _varint(1) + bytes([5 << 4 | 8]) + _varint(2) + _varint(1) + b"x"
              + _field(21, 5, 12) + data_page + b"\x00")
    data = np.frombuffer(header + bytes(16), np.uint8)
    table, count = page_headers(data, 2, 4)
    assert count == 1
    row = table[0]
    assert (row[H_NUM_VALUES], row[H_ENCODING], row[H_DEF_ENCODING]) == (2, 8, 3)
    assert (row[H_PAYLOAD], row[H_COMPRESSED]) == (len(header), 16)
    assert page_headers(data[:len(header) - 3], 2, 4)[1] < 0     # cut inside the header


def _hybrid_bytes(run_value: int, packed: list[int], bit_width: int) -> np.ndarray:
    """An RLE run of ten ``run_value``s, then ``packed`` bit-packed (a multiple of 8 of them)."""
    out = [10 << 1, *run_value.to_bytes((bit_width + 7) // 8, "little")]
    out.append(((len(packed) // 8) << 1) | 1)
    bits = np.array([(v >> b) & 1 for v in packed for b in range(bit_width)], np.uint8)
    out.extend(np.packbits(bits, bitorder="little").tolist())
    return np.array(out, np.uint8)


@pytest.mark.parametrize("bit_width", [1, 3, 12, 17, 32])
def test_hybrid_decoding_all_values_and_selected_ones(bit_width):
    packed = np.random.default_rng(bit_width).integers(0, 1 << bit_width, 64).tolist()
    data = _hybrid_bytes(1, packed, bit_width)
    expected = [1] * 10 + packed
    words = data[:len(data) // 8 * 8].view(np.uint64)
    every = np.empty(0, np.int64)
    out = np.empty(len(expected), np.uint32)
    assert decode_hybrid(data, words, 0, len(data), bit_width, every, len(expected), out) == len(expected)
    assert out.tolist() == expected
    positions = np.array([0, 9, 10, 11, 40, 40, len(expected) - 1], np.int64)
    picked = np.empty(len(positions), np.uint32)
    assert decode_hybrid(data, words, 0, len(data), bit_width, positions, len(positions), picked) == len(positions)
    assert picked.tolist() == [expected[p] for p in positions]
    truncated = len(data) - bit_width   # the last group of 8 values is cut off
    assert decode_hybrid(data, words, 0, truncated, bit_width, every, len(expected), out) == len(expected) - 8
    assert decode_hybrid(data, words, 0, truncated, bit_width, positions, len(positions), picked) == len(positions) - 1
    # bytes after the run (the next page's, in a chunk) let every value be one 8-byte load; they are masked off
    padded = np.concatenate([data, np.full(8, 0xFF, np.uint8)])
    out[:] = 0
    padded_words = padded[:len(padded) // 8 * 8].view(np.uint64)
    assert decode_hybrid(padded, padded_words, 0, len(data), bit_width, every, len(expected), out) == len(expected)
    assert out.tolist() == expected


def test_dense_gathers_look_codes_up_and_report_codes_out_of_range():
    dictionary = np.array([10, 11, 20, 21, 30, 31], np.uint32)   # three 8-byte values as word pairs
    codes = np.array([2, 0, 1, 2], np.uint32)
    out = np.zeros(10, np.uint32)
    assert _gather_dense(codes, np.uint64(3), np.uint64(1), dictionary, np.uint32(3), 2, False, out)
    assert out.tolist() == [0, 0, 30, 31, 10, 11, 20, 21, 0, 0]
    assert _gather_dense(codes, np.uint64(4), np.uint64(0), dictionary, np.uint32(6), 1, False, out)
    assert out[:4].tolist() == [20, 10, 11, 20]
    assert _gather_dense(codes, np.uint64(4), np.uint64(0), dictionary, np.uint32(3), 1, True, out)
    assert out[:4].tolist() == [2, 0, 1, 2]
    assert not _gather_dense(codes, np.uint64(4), np.uint64(0), dictionary, np.uint32(2), 2, False, out)
    assert not _gather_dense(codes, np.uint64(1), np.uint64(0), dictionary, np.uint32(0), 1, True, out)
    assert _gather_dense(codes, np.uint64(0), np.uint64(0), dictionary, np.uint32(0), 1, False, out)


def _compiled_numba_functions():
    """Every numba function of the decoder compiled so far in this process, by name."""
    lazy = {f"_rows_in_range{types}": k for types, k in parquet_late._ROWS_IN_RANGE.items()}
    found = {}
    for name, value in {**vars(parquet_pages), **lazy}.items():
        if isinstance(value, LazyKernel):
            value = value._dispatcher
        if hasattr(value, "signatures"):
            found[name] = value
    return found


def test_each_numba_function_compiles_once_whatever_the_column_types(tmp_path):
    """Every type, nulls or not, selected rows or all, strings as codes: one signature each, and
    numba refuses to compile another (explicit signatures), rather than compiling a variant."""
    path = str(tmp_path / "t.parquet")
    for nulls in ("none", "some"):
        pf = _write(path, _table(nulls), dictionary_pagesize_limit=256)
        for name in NUMERIC:
            array = _native(path, pf, 0, name)
            _native(path, pf, 0, name, np.array([3, 700], np.int64))
            kept_rows([ColumnPredicate(">", 1), ColumnPredicate("<", 2.5)], array)
            kept_rows([ColumnPredicate(None)], array)
        _native(path, pf, 0, "s", as_dictionary=True)
    compiled = _compiled_numba_functions()
    assert {"_read_page_headers", "_decode_pages", "decode_hybrid", "_copy_byte_arrays"} <= compiled.keys()
    assert {name: len(d.signatures) for name, d in compiled.items()} == dict.fromkeys(compiled, 1)
    with pytest.raises(TypeError):
        compiled["decode_hybrid"](np.zeros(8, np.uint8), np.zeros(1, np.uint64), 0, 8, 1,
                                  np.empty(0, np.int64), 1, np.empty(1, np.int64))   # int64 output


_READ_WITHOUT_THE_DECODER = """
import os, sys
from engine.catalyst.logical import PartitionedFile
from engine.codegen.jit import LazyKernel
from engine.datasources import parquet_late, parquet_pages
from engine.datasources.parquet import read_parquet_split
from engine.datasources.splits import FileSplit
import pyarrow as pa
path = sys.argv[1]
split = FileSplit(PartitionedFile(path, os.path.getsize(path), ()), 0, os.path.getsize(path))
table, _ = read_parquet_split([split], [("i64", pa.int64(), "i64")], (), (), frozenset())
assert table.num_rows > 0
kernels = [v for v in vars(parquet_pages).values() if isinstance(v, LazyKernel)]
kernels += list(parquet_late._ROWS_IN_RANGE.values())
print(len(kernels), sum(k._dispatcher is not None for k in kernels))
"""


def test_a_process_that_does_not_decode_pages_compiles_none_of_the_decoder(tmp_path):
    """Importing the reader and scanning Parquet through pyarrow leaves every numba function of
    the decoder uncompiled and numba's (empty) cache without a trace of them: they compile on
    first use, not at import."""
    path = str(tmp_path / "t.parquet")
    pq.write_table(_table("some"), path)
    cache = tmp_path / "numba-cache"
    done = subprocess.run([sys.executable, "-c", _READ_WITHOUT_THE_DECODER, path], capture_output=True,
                          text=True, cwd=_ROOT, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    kernels, compiled = map(int, done.stdout.split())
    assert kernels > 10 and compiled == 0
    assert not [p.name for p in cache.rglob("*") if "parquet_" in p.name]


_READ_WHILE_THE_DECODER_COMPILES = """
import os, sys, time
from engine.catalyst.logical import PartitionedFile
from engine.datasources import page_decoder_compile, parquet, parquet_late
from engine.datasources.parquet import read_parquet_split
from engine.datasources.splits import FileSplit
import pyarrow as pa
parquet.NATIVE_MIN_ROWS = 0
decoded = []
real = parquet_late._decode
parquet_late._decode = lambda *args: decoded.append(args[2]) or real(*args)
path = sys.argv[1]
split = FileSplit(PartitionedFile(path, os.path.getsize(path), ()), 0, os.path.getsize(path))
read = lambda: read_parquet_split([split], [("i64", pa.int64(), "i64")], (), (), frozenset())[0]
first = read()
print(len(decoded), page_decoder_compile._compiler is not None)
marker = page_decoder_compile._marker()
deadline = time.monotonic() + 600
while not marker.exists() and time.monotonic() < deadline and page_decoder_compile._compiler.poll() is None:
    time.sleep(0.2)
print(marker.exists(), page_decoder_compile._compiler.wait())
second = read()
print(len(decoded), second.equals(first))
"""


def test_a_scan_reads_with_pyarrow_while_the_decoder_compiles_in_the_background(tmp_path):
    """On a machine that never compiled the decoder, a scan does not wait ~7 s for it: pyarrow reads,
    a background process compiles it into numba's cache and marks it done, and later scans decode."""
    path = str(tmp_path / "t.parquet")
    pq.write_table(_table("some"), path, row_group_size=1000)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "EMBER_KERNEL_CACHE": str(tmp_path / "kernels")}
    done = subprocess.run([sys.executable, "-c", _READ_WHILE_THE_DECODER_COMPILES, path], capture_output=True,
                          text=True, cwd=_ROOT, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True", "True", "0", "3", "True"]   # 3 row groups decoded


def test_the_decoder_compiles_in_the_caller_when_there_is_no_marker_to_wait_for(monkeypatch):
    monkeypatch.setattr(page_decoder_compile, "_ready", False)
    monkeypatch.setattr(page_decoder_compile, "_compiler", None)
    monkeypatch.setattr(page_decoder_compile, "_writable", lambda directory: False)
    assert page_decoder_compile.decoder_ready()
    assert page_decoder_compile._compiler is None   # nothing started in the background


def test_column_predicates_and_kept_rows_are_conservative():
    x = AttributeReference("x", DoubleType())
    d = AttributeReference("d", DateType())
    preds = column_predicates([Comparison("<", Literal(2.0, DoubleType()), x),
                               Comparison("<=", d, Literal(dt.date(1970, 1, 3), DateType())),
                               IsNotNull(d), Comparison("<", x, Literal(None, DoubleType()))])
    assert preds == {"x": [ColumnPredicate(">", 2.0)], "d": [ColumnPredicate("<=", dt.date(1970, 1, 3)),
                                                              ColumnPredicate(None)]}
    values = pa.array([1.0, 3.0, math.nan, None, 2.0])
    assert kept_rows(preds["x"], values).tolist() == [1, 2]   # NaN is the largest; 2.0 > 2.0 fails
    days = pa.array([0, 2, 3, None], pa.int32()).cast(pa.date32())
    assert kept_rows(preds["d"], days).tolist() == [0, 1]
    assert kept_rows([ColumnPredicate(None)], days).tolist() == [0, 1, 2]
    assert kept_rows([ColumnPredicate("<", "text")], values) is None    # not understood: keep all
    big = pa.array([2**62, 2**62 + 1], pa.int64())                      # exact, not through floats
    assert kept_rows([ColumnPredicate("=", 2**62 + 1)], big).tolist() == [1]
    assert kept_rows([ColumnPredicate(">=", 0), ColumnPredicate("<", 2**63 - 1)], big) is None


def test_estimated_selectivity_from_statistics():
    preds = {"x": [ColumnPredicate(">=", 10), ColumnPredicate("<", 20)]}
    assert estimated_selectivity(preds, lambda _: ColumnStats(0, 100, 0, 1000)) == pytest.approx(0.1)
    assert estimated_selectivity(preds, lambda _: None) == 1.0


def _split(path: str) -> FileSplit:
    size = os.path.getsize(path)
    return FileSplit(PartitionedFile(path, size, ()), 0, size)


@pytest.fixture(autouse=True)
def compiled_decoder():
    """Scans here decode with the page decoder from the first one, rather than while it compiles
    in the background (``page_decoder_compile``)."""
    page_decoder_compile.compile_decoder()


@pytest.fixture(autouse=True)
def late_reads_of_small_row_groups(monkeypatch):
    """The files here have row groups of hundreds of rows: below NATIVE_MIN_ROWS the scan reads them
    whole with pyarrow, so the tests of the late path lower the bar to reach it."""
    monkeypatch.setattr(parquet, "NATIVE_MIN_ROWS", 0)


def test_small_row_groups_are_read_whole_by_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet, "NATIVE_MIN_ROWS", 1001)
    path = str(tmp_path / "t.parquet")
    table = _table("some")
    pq.write_table(table, path, row_group_size=1000)
    x = AttributeReference("i64", LongType())
    cols = [(n, table.schema.field(n).type, n) for n in ("i32", "i64")]
    few = (Comparison("<", x, Literal(5 * 1_000_003, LongType())),)
    whole, _ = read_parquet_split([_split(path)], cols, (), few, frozenset())   # row groups skipped by stats only
    small, _ = read_parquet_split([_split(path)], cols, (), few, frozenset(), few)
    assert small.num_rows == whole.num_rows
    monkeypatch.setattr(parquet, "NATIVE_MIN_ROWS", 1000)
    late, _ = read_parquet_split([_split(path)], cols, (), few, frozenset(), few)
    assert late.num_rows < whole.num_rows / 4


def test_unfiltered_reads_decode_large_row_groups_natively_unless_turned_off(tmp_path, monkeypatch):
    path = str(tmp_path / "t.parquet")
    table = _table("some")
    pq.write_table(table, path, row_group_size=1000, data_page_size=512)
    cols = [(n, table.schema.field(n).type, n) for n in (*NUMERIC, "s")]
    decoded = []
    real = parquet_late._decode
    monkeypatch.setattr(parquet_late, "_decode", lambda *args: decoded.append(args[2]) or real(*args))
    native, _ = read_parquet_split([_split(path)], cols, (), (), frozenset({"s"}))
    assert set(decoded) == {*NUMERIC, "s"}
    decoded.clear()
    by_pyarrow, _ = read_parquet_split([_split(path)], cols, (), (), frozenset({"s"}), native_reader=False)
    assert decoded == []
    assert native.schema == by_pyarrow.schema
    assert all(_same(a.combine_chunks(), b.combine_chunks())
               for a, b in zip(native.columns[:-1], by_pyarrow.columns[:-1]))
    assert native["s"].to_pylist() == by_pyarrow["s"].to_pylist() == table["s"].to_pylist()


def test_late_read_returns_every_row_that_passes_and_counts_all_rows(tmp_path):
    path = str(tmp_path / "t.parquet")
    table = _table("some")
    pq.write_table(table, path, row_group_size=1000, data_page_size=512)
    x = AttributeReference("i64", LongType())
    cols = [(n, table.schema.field(n).type, n) for n in ("i32", "i64", "f64", "day")]

    def both(*filters):
        late, m_late = read_parquet_split([_split(path)], cols, (), filters, frozenset(), filters)
        full, m_full = read_parquet_split([_split(path)], cols, (), filters, frozenset())
        assert m_late == m_full
        return late, full

    few = Comparison("<", x, Literal(5 * 1_000_003, LongType()))
    late, full = both(few)
    assert late.num_rows < full.num_rows / 4
    keep = lambda t: t.filter(pa.compute.less(t["i64"], 5 * 1_000_003))  # noqa: E731
    assert all(_same(a.combine_chunks(), b.combine_chunks()) for a, b in zip(keep(late).columns, keep(full).columns))
    late, full = both(Comparison(">", x, Literal(-1, LongType())))   # every row: read whole
    assert late.num_rows == full.num_rows
    late, full = both(Comparison("<", x, Literal(-1, LongType())), IsNotNull(x))   # none
    assert late.num_rows == 0


def test_late_read_falls_back_to_pyarrow_for_chunks_it_cannot_decode(tmp_path):
    path = str(tmp_path / "t.parquet")
    table = _table("none")
    pq.write_table(table, path, row_group_size=1000, use_dictionary=False,
                   column_encoding={"i64": "DELTA_BINARY_PACKED", "i32": "BYTE_STREAM_SPLIT"})
    i32 = AttributeReference("i32", IntegerType())
    cols = [(n, table.schema.field(n).type, n) for n in ("i32", "i64", "s")]
    filters = (Comparison("<", i32, Literal(3, IntegerType())),)
    late, _ = read_parquet_split([_split(path)], cols, (), filters, frozenset(), filters)
    expected = table.select(["i32", "i64", "s"]).filter(pa.compute.less(table["i32"], 3))
    got = late.filter(pa.compute.less(late["i32"], 3))
    assert all(_same(a.combine_chunks(), b.combine_chunks()) for a, b in zip(got.columns, expected.columns))


@pytest.fixture(scope="module")
def lineitem_like(tmp_path_factory):
    """Several files of several row groups with nulls and NaN, and DuckDB over the same files."""
    root = tmp_path_factory.mktemp("late")
    for i in range(3):
        pq.write_table(_table("some", seed=i), str(root / f"part-{i}.parquet"), row_group_size=700,
                       data_page_size=2048, dictionary_pagesize_limit=512)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{root}/*.parquet')")
    return str(root), con


QUERIES = [
    # (Ember, DuckDB SQL)
    (lambda t: t.filter((F.col("i64") < 30_000_000) & (F.col("f64") >= 1.0)).select("i32", "f32", "day", "s"),
     "SELECT i32, f32, day, s FROM t WHERE i64 < 30000000 AND f64 >= 1.0"),
    (lambda t: t.filter((F.col("day") >= dt.date(1970, 1, 10)) & (F.col("day") < dt.date(1970, 2, 1)))
     .groupBy("s").agg(F.sum("f64").alias("x"), F.count("*").alias("n")),
     "SELECT s, sum(f64), count(*) FROM t WHERE day >= DATE '1970-01-10' AND day < DATE '1970-02-01' GROUP BY s"),
    (lambda t: t.filter(F.col("i32") > 10_000_000).agg(F.count("*").alias("n")),
     "SELECT count(*) FROM t WHERE i32 > 10000000"),
    (lambda t: t.filter(F.col("f64").isNotNull() & (F.col("i32") <= 3)).select("f64", "i64"),
     "SELECT f64, i64 FROM t WHERE f64 IS NOT NULL AND i32 <= 3"),
]


def _sorted_rows(rows):
    def norm(v):
        return None if isinstance(v, float) and math.isnan(v) else (round(v, 6) if isinstance(v, float) else v)
    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


@pytest.mark.parametrize("native", ["true", "false"])
@pytest.mark.parametrize("case", range(len(QUERIES)))
def test_query_results_match_duckdb_with_and_without_the_native_reader(spark, conf, lineitem_like, native, case):
    root, con = lineitem_like
    conf(NATIVE_READER_ENABLED, native)
    query, sql = QUERIES[case]
    got = query(spark.read.parquet(root)).collect()
    assert _sorted_rows(tuple(r) for r in got) == _sorted_rows(con.execute(sql).fetchall())


def _run_stage(df) -> dict[str, int]:
    """Run the compiled stage over the scan of ``df`` task by task; what it output and counted."""
    stage = next(n for n in df._qe.executed_plan.walk() if isinstance(n, WholeStageCodegenExec))
    scan = stage.source
    [filter_exec] = [op for op in stage._fused.chain if isinstance(op, FilterExec)]
    ctx = TaskContext(0, 0, 0, 0, 0, env=None)
    out = [stage.execute_partition(i, ctx) for i in range(len(scan.file_partitions))]
    return {"rows": sum(t.num_rows for t in out), "scan": scan.metrics["numOutputRows"].value,
            "filter": filter_exec.metrics["numOutputRows"].value, "records": ctx.metrics.input_records_read,
            "bytes": ctx.metrics.input_bytes_read, "late": int(scan.filters_rows)}


def test_scan_metrics_count_every_row_read_while_the_filter_counts_rows_kept(spark, conf, lineitem_like):
    root, con = lineitem_like

    def query():
        return spark.read.parquet(root).filter(F.col("i64") < 2_000_000).select("i32", "f64")

    native = _run_stage(query())
    conf(NATIVE_READER_ENABLED, "false")
    pyarrow_read = _run_stage(query())
    [kept] = con.execute("SELECT count(*) FROM t WHERE i64 < 2000000").fetchone()
    assert native.pop("late") == 1 and pyarrow_read.pop("late") == 0
    assert native == pyarrow_read == {**native, "rows": kept, "filter": kept}
    assert native["scan"] == native["records"] > kept
