"""Ember's own Parquet column-chunk decoder: pages decoded with numba, only the selected rows materialized.

pyarrow decodes every row of a column chunk. When a filter keeps a few percent of the rows (TPC-H
Q6 keeps 2%), most of that work is wasted. This reader decodes the page structure itself and
unpacks dictionary codes and gathers values only at the rows asked for (``rows``), which is what
late materialization needs (see ``parquet_late``). Every page is still decompressed.

What it decodes: flat (non-repeated) columns with at most one definition level, data pages v1
and v2, PLAIN and RLE_DICTIONARY / PLAIN_DICTIONARY encodings (a chunk may fall back from
dictionary to PLAIN pages midway), codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD and LZ4_RAW (through
cramjam; little-endian machines), physical types INT32 (int32, date32), INT64 (int64), FLOAT
and DOUBLE, and BYTE_ARRAY strings whose pages are all dictionary-encoded, as dictionary codes. Everything else raises
``NativeUnsupported`` before any value is produced, and the caller reads that chunk with pyarrow.

Page headers are Thrift compact-protocol structs; ``page_headers`` parses the few fields needed
and skips the rest. The RLE / bit-packed hybrid decoder and the gathers are ``nogil`` numba
functions: scan tasks run on executor threads.

Every numba function here has one explicit signature (``lazy_njit``): whatever the column's type,
it is compiled once into numba's disk cache, and only when a query first decodes a page, so a
process that never uses this reader compiles nothing. Values travel as bytes and 32-bit words of
the physical width rather than as numpy types, for the same reason.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

import cramjam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.codegen.jit import lazy_njit
from engine.memory import native

# numba signature types (parsed by numba from these strings: only ``engine.codegen.jit`` imports it).
# Inputs are declared read-only, which numba also accepts writable arrays for: one compile serves
# both, where a signature inferred from the arguments would compile each function twice.
_BYTES = "Array(uint8, 1, 'C', readonly=True)"
_WORDS64 = "Array(uint64, 1, 'C', readonly=True)"
_WORDS32 = "Array(uint32, 1, 'C', readonly=True)"
_INDICES = "Array(int64, 1, 'C', readonly=True)"


class NativeUnsupported(Exception):
    """The column chunk uses something this reader does not decode; read it with pyarrow."""


class CorruptPage(ValueError):
    """A page's bytes do not decode to what its header announces."""


# parquet.thrift enums
DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 2, 3
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8
_DICTIONARY_ENCODINGS = (PLAIN_DICTIONARY, RLE_DICTIONARY)

# physical type -> (numpy dtype of its PLAIN values, Arrow types it can be read as)
_FIXED_WIDTH = {
    "INT32": (np.dtype("<i4"), (pa.int32(), pa.date32())),
    "INT64": (np.dtype("<i8"), (pa.int64(),)),
    "FLOAT": (np.dtype("<f4"), (pa.float32(),)),
    "DOUBLE": (np.dtype("<f8"), (pa.float64(),)),
}


# ---- Thrift compact protocol -------------------------------------------------------------------
# A chunk has a page per 20k rows or 1 MiB (pyarrow's defaults): ~100 headers per column chunk of
# lineitem, each carrying min / max statistics to skip. Parsed in Python they cost as much as
# decoding the values, so the whole chunk's headers are parsed in one numba call.

_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# columns of the header table ``page_headers`` returns, one row per page
(H_TYPE, H_UNCOMPRESSED, H_COMPRESSED, H_NUM_VALUES, H_ENCODING, H_DEF_ENCODING, H_NUM_NULLS,
 H_DEF_LENGTH, H_REP_LENGTH, H_IS_COMPRESSED, H_PAYLOAD) = range(11)
_HEADER_FIELDS = 11
_TRUNCATED, _UNSUPPORTED, _TABLE_FULL = -1, -2, -3   # what the parsers return instead of a position


@lazy_njit(f"({_BYTES}, int64)")
def _varint(data, pos):
    """``(value, position after it)``; position ``_TRUNCATED`` when the bytes run out."""
    result = np.int64(0)
    shift = 0
    while pos < data.shape[0]:
        b = np.int64(data[pos])
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    return result, _TRUNCATED


@lazy_njit(f"({_BYTES}, int64)")
def _zigzag(data, pos):
    v, pos = _varint(data, pos)
    return (v >> 1) ^ -(v & 1), pos


@lazy_njit(f"({_BYTES}, int64, int64, boolean)")
def _skip_primitive(data, pos, kind, in_collection):
    """The position after a value of a non-container type."""
    if kind == _BOOL_TRUE or kind == _BOOL_FALSE:
        return pos + 1 if in_collection else pos   # a boolean field's value is its type
    if kind == _BYTE:
        return pos + 1
    if kind == _I16 or kind == _I32 or kind == _I64:
        return _varint(data, pos)[1]
    if kind == _DOUBLE:
        return pos + 8
    if kind == _BINARY:
        length, pos = _varint(data, pos)
        return pos + length if pos >= 0 else pos
    return _UNSUPPORTED


@lazy_njit(f"({_BYTES}, int64, int64)")
def _skip_collection(data, pos, kind):
    """The position after a list, set or map whose elements are primitives (nothing a page
    header holds has others; ``_UNSUPPORTED`` otherwise)."""
    if pos < 0 or pos >= data.shape[0]:
        return _TRUNCATED
    if kind == _MAP:
        size, pos = _varint(data, pos)
        if size == 0 or pos < 0:
            return pos
        if pos >= data.shape[0]:
            return _TRUNCATED
        key_kind, value_kind = np.int64(data[pos]) >> 4, np.int64(data[pos]) & 0x0F
        pos += 1
    else:
        header = np.int64(data[pos])
        pos += 1
        size = header >> 4
        if size == 15:
            size, pos = _varint(data, pos)
        key_kind = value_kind = header & 0x0F
    for i in range(size * (2 if kind == _MAP else 1)):
        if pos < 0 or pos >= data.shape[0]:
            return _TRUNCATED
        pos = _skip_primitive(data, pos, value_kind if i % 2 else key_kind, True)
    return pos


@lazy_njit(f"({_BYTES}, int64, int64)")
def _skip(data, pos, kind):
    """The position after a field's value of type ``kind``; structs nest to any depth."""
    if kind == _LIST or kind == _SET or kind == _MAP:
        return _skip_collection(data, pos, kind)
    if kind != _STRUCT:
        return _skip_primitive(data, pos, kind, False)
    depth = 1
    while depth > 0:
        if pos < 0 or pos >= data.shape[0]:
            return _TRUNCATED
        header = np.int64(data[pos])
        pos += 1
        if header == 0:
            depth -= 1
            continue
        if header >> 4 == 0:
            pos = _zigzag(data, pos)[1]   # no delta: the field id follows
            if pos < 0:
                return pos
        field_kind = header & 0x0F
        if field_kind == _STRUCT:
            depth += 1
        elif field_kind == _LIST or field_kind == _SET or field_kind == _MAP:
            pos = _skip_collection(data, pos, field_kind)
        else:
            pos = _skip_primitive(data, pos, field_kind, False)
    return pos


@lazy_njit(f"({_BYTES}, int64, int64)")
def _field_header(data, pos, last):
    """``(field id, type, position)`` of the next field of a struct; type 0 at its end."""
    if pos < 0 or pos >= data.shape[0]:
        return 0, 0, _TRUNCATED
    header = np.int64(data[pos])
    pos += 1
    if header == 0:
        return 0, 0, pos
    delta = header >> 4
    if delta:
        return last + delta, header & 0x0F, pos
    fid, pos = _zigzag(data, pos)
    return fid, header & 0x0F, pos


@lazy_njit("(int64, int64, int64)")
def _nested_slot(which, fid, kind):
    """Which header-table column field ``fid`` of a nested page header fills, or -1.
    ``which`` is the PageHeader field holding it: 5 DataPageHeader, 7 DictionaryPageHeader,
    8 DataPageHeaderV2."""
    if kind != _I32:
        return H_IS_COMPRESSED if which == 8 and fid == 7 and (kind == _BOOL_TRUE or kind == _BOOL_FALSE) else -1
    if fid == 1:
        return H_NUM_VALUES
    if which == 8:
        return (H_NUM_NULLS, -1, H_ENCODING, H_DEF_LENGTH, H_REP_LENGTH)[fid - 2] if 2 <= fid <= 6 else -1
    if fid == 2:
        return H_ENCODING
    return H_DEF_ENCODING if which == 5 and fid == 3 else -1


@lazy_njit(f"({_BYTES}, int64, int64[::1])")
def _parse_page_header(data, pos, row):
    """Parse the PageHeader at ``pos`` into ``row``; returns the payload's position or an error."""
    row[H_DEF_ENCODING] = RLE
    row[H_IS_COMPRESSED] = 1
    last = 0
    while True:
        fid, kind, pos = _field_header(data, pos, last)
        if pos < 0 or kind == 0:
            return pos
        last = fid
        if kind == _I32 and 1 <= fid <= 3:
            value, pos = _zigzag(data, pos)
            row[(H_TYPE, H_UNCOMPRESSED, H_COMPRESSED)[fid - 1]] = value
        elif kind == _STRUCT and (fid == 5 or fid == 7 or fid == 8):
            inner = 0
            while True:
                nid, nkind, pos = _field_header(data, pos, inner)
                if pos < 0 or nkind == 0:
                    break
                inner = nid
                slot = _nested_slot(fid, nid, nkind)
                if slot == H_IS_COMPRESSED:
                    row[slot] = 1 if nkind == _BOOL_TRUE else 0
                elif slot >= 0:
                    value, pos = _zigzag(data, pos)
                    row[slot] = value
                else:
                    pos = _skip(data, pos, nkind)
            if pos < 0:
                return pos
        else:
            pos = _skip(data, pos, kind)
        if pos < 0:
            return pos


def page_headers(data: np.ndarray, num_values: int, max_pages: int) -> tuple[np.ndarray, int]:
    """The header table of a column chunk's pages (``H_*`` columns; ``H_PAYLOAD`` is where a
    page's bytes start), up to the page that completes ``num_values`` values, and how many
    pages there are: negative (``_TRUNCATED``, ``_UNSUPPORTED``) when the headers cannot be read,
    ``_TABLE_FULL`` when there are more than ``max_pages``."""
    table = np.zeros((max_pages, _HEADER_FIELDS), np.int64)
    return table, _read_page_headers(data, num_values, table)


@lazy_njit(f"({_BYTES}, int64, int64[:, ::1])")
def _read_page_headers(data, num_values, table):
    """``page_headers`` into a zeroed ``table``, allocated by the caller (numba's ``np.zeros``
    would add to the compile)."""
    pos = 0
    count = 0
    values = 0
    while values < num_values and pos < data.shape[0]:
        if count == table.shape[0]:
            return _TABLE_FULL
        row = table[count]
        payload = _parse_page_header(data, pos, row)
        if payload < 0:
            return payload
        row[H_PAYLOAD] = payload
        pos = payload + row[H_COMPRESSED]
        if row[H_COMPRESSED] < 0 or pos > data.shape[0]:
            return _TRUNCATED
        if row[H_TYPE] == DATA_PAGE or row[H_TYPE] == DATA_PAGE_V2:
            values += row[H_NUM_VALUES]
        count += 1
    return count


# ---- numba kernels -----------------------------------------------------------------------------

_NO_POSITIONS = np.empty(0, np.int64)   # "every value, in order", for _unpack and decode_hybrid


@lazy_njit(f"({_BYTES}, {_WORDS64}, int64, int64, int64, {_INDICES}, int64, uint32[::1], int64)")
def _unpack(data, words, start_bit, bit_width, first, positions, count, out, out_start):
    """``out[out_start + i]`` = the bit-packed value number ``positions[i]`` - ``first`` (or
    number ``i`` when ``positions`` is empty) of the values packed from bit ``start_bit`` on,
    for ``i < count``. Parquet packs least significant bit first; ``words`` is ``data``'s whole
    64-bit words, so a value costs two loads and shifts instead of a load per byte, except for
    the last values of a buffer, read byte by byte where 64-bit loads would run past its end. The
    loops are written out here because numba neither inlines a helper called per value nor keeps
    mixed signed / unsigned arithmetic in integers (both measured several times slower)."""
    mask = (np.uint64(1) << np.uint64(bit_width)) - np.uint64(1)
    width = np.uint64(bit_width)
    sequential = positions.shape[0] == 0
    last = start_bit + ((count if sequential else positions[count - 1] - first + 1) if count else 0) * bit_width
    if sequential and (last >> 3) + 8 <= data.shape[0]:
        _unpack_sequential(data, np.uint64(start_bit), width, mask, np.uint64(count), out, np.uint64(out_start))
    elif (last >> 6) + 1 < words.shape[0]:
        for i in range(count):
            bit = start_bit + (i if sequential else positions[i] - first) * bit_width
            k = bit >> 6
            shift = np.uint64(bit & 63)
            w = words[k] >> shift
            if shift + width > np.uint64(64):
                w |= words[k + 1] << (np.uint64(64) - shift)
            out[out_start + i] = np.uint32(w & mask)
    else:
        for i in range(count):
            bit = start_bit + (i if sequential else positions[i] - first) * bit_width
            byte = bit >> 3
            w = np.uint64(0)
            for j in range(((bit & 7) + bit_width + 7) >> 3):
                if byte + j < data.shape[0]:
                    w |= np.uint64(data[byte + j]) << np.uint64(8 * j)
            out[out_start + i] = np.uint32((w >> np.uint64(bit & 7)) & mask)


@lazy_njit(f"({_BYTES}, uint64, uint64, uint64, uint64, uint32[::1], uint64)")
def _unpack_sequential(data, start_bit, bit_width, mask, count, out, out_start):
    """``_unpack`` of ``count`` consecutive values when ``data`` holds 8 bytes from the byte of the
    last one on: each value is one 8-byte little-endian load (the byte-wise OR below compiles to
    one), a shift and a mask. Indices are unsigned so that numba adds no negative-index checks,
    which made this loop three times slower."""
    for i in range(count):
        bit = start_bit + i * bit_width
        b = bit >> np.uint64(3)
        w = (np.uint64(data[b]) | (np.uint64(data[b + np.uint64(1)]) << np.uint64(8))
             | (np.uint64(data[b + np.uint64(2)]) << np.uint64(16)) | (np.uint64(data[b + np.uint64(3)]) << np.uint64(24))
             | (np.uint64(data[b + np.uint64(4)]) << np.uint64(32)) | (np.uint64(data[b + np.uint64(5)]) << np.uint64(40))
             | (np.uint64(data[b + np.uint64(6)]) << np.uint64(48)) | (np.uint64(data[b + np.uint64(7)]) << np.uint64(56)))
        out[out_start + i] = np.uint32((w >> (bit & np.uint64(7))) & mask)


@lazy_njit(f"({_BYTES}, int64, int64)")
def _run_header(data, pos, end):
    """A hybrid run's header varint and the position after it."""
    header = np.int64(0)
    shift = 0
    while pos < end:
        b = np.int64(data[pos])
        pos += 1
        header |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    return header, pos


@lazy_njit(f"({_BYTES}, {_WORDS64}, int64, int64, int64, {_INDICES}, int64, uint32[::1])")
def decode_hybrid(data, words, pos, end, bit_width, positions, count, out):
    """``out[i]`` = value number ``positions[i]`` (``positions`` non-decreasing; when empty,
    value number ``i``) of the RLE / bit-packed hybrid encoding in ``data[pos:end]``, for
    ``i < count``; returns how many were found (fewer when the bytes run out or are malformed).
    ``words`` is ``data`` viewed as uint64 (its whole words). Only the values asked for are
    unpacked: this is what makes decoding the codes of a 2%-selected column cheap."""
    sequential = positions.shape[0] == 0
    first = 0      # number of the first value of the current run
    r = 0
    byte_width = (bit_width + 7) // 8
    while r < count and pos < end:
        header, pos = _run_header(data, pos, end)
        if header & 1:  # bit-packed: groups of 8 values
            groups = header >> 1
            run_end = first + groups * 8
            if bit_width and pos + groups * bit_width > end:   # cut short: the values wholly inside
                run_end = first + (end - pos) * 8 // bit_width
            stop = r
            if sequential:
                stop = count if count < run_end else run_end
            else:
                while stop < count and positions[stop] < run_end:
                    stop += 1
            if stop > r:
                start_bit = pos * 8 + ((r - first) * bit_width if sequential else 0)
                _unpack(data, words, start_bit, bit_width, first, positions[r:stop], stop - r, out, r)
                r = stop
            if run_end < first + groups * 8:
                return r
            pos += groups * bit_width
        else:  # a run of one value, stored in the fewest whole bytes
            if pos + byte_width > end:
                return r
            value = np.uint32(0)
            for k in range(byte_width):
                value |= np.uint32(data[pos + k]) << np.uint32(8 * k)
            pos += byte_width
            run_end = first + (header >> 1)
            while r < count and (r if sequential else positions[r]) < run_end:
                out[r] = value
                r += 1
        first = run_end
    return r


@lazy_njit(f"({_BYTES}, int64, int64, int64)")
def _all_valid(data, pos, end, n):
    """Whether a page's definition levels (bit width 1) are one run of n 1s: no nulls, the
    common case, found without decoding them."""
    header, pos = _run_header(data, pos, end)
    return header & 1 == 0 and (header >> 1) >= n and pos < end and data[pos] == 1


@lazy_njit(f"({_BYTES}, int64, int32[::1])")
def _byte_array_offsets(data, count, offsets):
    """Offsets of ``count`` PLAIN byte arrays (4-byte length, then the bytes) into ``offsets``;
    returns the position after the last one, or -1 when they run past the data."""
    pos = 0
    offsets[0] = 0
    for i in range(count):
        if pos + 4 > data.shape[0]:
            return -1
        length = (np.int64(data[pos]) | (np.int64(data[pos + 1]) << 8) | (np.int64(data[pos + 2]) << 16)
                  | (np.int64(data[pos + 3]) << 24))
        pos += 4 + length
        if pos > data.shape[0]:
            return -1
        offsets[i + 1] = offsets[i] + length
    return pos


@lazy_njit(f"({_BYTES}, int64, uint8[::1], int64, int64)")
def _copy_bytes(source, source_start, target, target_start, count):
    """``target[target_start:][:count] = source[source_start:][:count]``, written as a loop: numba's
    slice assignment checks that the shapes match, and the code formatting its error message
    (shapes to strings) took seconds of the first compile. Unsigned indices spare numba's
    negative-index checks, which kept the loop from becoming a plain copy."""
    s = np.uint64(source_start)
    t = np.uint64(target_start)
    for i in range(np.uint64(count)):
        target[t + i] = source[s + i]


@lazy_njit(f"({_BYTES}, Array(int32, 1, 'C', readonly=True), uint8[::1])")
def _copy_byte_arrays(data, offsets, out):
    """The bytes of the PLAIN byte arrays whose offsets were found, without their length prefixes."""
    pos = 0
    for i in range(offsets.shape[0] - 1):
        pos += 4
        length = offsets[i + 1] - offsets[i]
        _copy_bytes(data, pos, out, offsets[i], length)
        pos += length


@lazy_njit(f"(uint32[::1], uint64, uint64, {_WORDS32}, uint32, int64, boolean, uint32[::1])")
def _gather_dense(codes, count, filled, dictionary, dictionary_size, per, codes_only, out_words):
    """Values ``filled`` on of ``out_words`` (``per`` words each) from the first ``count``
    dictionary ``codes`` (or the codes themselves); False when a code is out of range. One loop
    per case, with unsigned indices and out-of-range codes clamped and reported after the loop,
    so that each loop is straight-line code."""
    if count == 0:
        return True
    if dictionary_size == 0:
        return False
    bad = False
    top = dictionary_size - np.uint32(1)
    if codes_only:
        for j in range(count):
            bad |= codes[j] > top
            out_words[filled + j] = codes[j]
    elif per == 1:
        for j in range(count):
            code = codes[j]
            bad |= code > top
            out_words[filled + j] = dictionary[min(code, top)]
    else:
        for j in range(count):
            code = codes[j]
            bad |= code > top
            at = np.uint64(2) * np.uint64(min(code, top))
            slot = np.uint64(2) * (filled + j)
            out_words[slot] = dictionary[at]
            out_words[slot + np.uint64(1)] = dictionary[at + np.uint64(1)]
    return not bad


# what _decode_pages returns instead of the number of rows it wrote
(_BAD_LEVELS, _BAD_VALUES, _BAD_INDEX, _NO_DICTIONARY, _BAD_ENCODING, _BAD_ROWS) = range(-1, -7, -1)
_PAGE_ERRORS = {
    _BAD_LEVELS: "definition levels run past the end of a page or hold fewer values than it",
    _BAD_VALUES: "values run past the end of a page",
    _BAD_INDEX: "dictionary index out of range",
    _NO_DICTIONARY: "dictionary-encoded page without a dictionary page",
    _BAD_ENCODING: "unexpected value encoding",
    _BAD_ROWS: "fewer rows in the pages than selected",
}


@lazy_njit(f"({_BYTES}, int64, int64, boolean, boolean, int64, int64)")
def _page_layout(buf, start, end, is_v2, nullable, rep_length, def_length):
    """``(definition levels start, end, values start)`` of a decompressed page; -1s if malformed.
    A v1 page prefixes its levels with their byte length; a v2 page's header gives it."""
    if is_v2:
        levels = start + rep_length
        return levels, levels + def_length, levels + def_length
    if not nullable:
        return start, start, start
    if start + 4 > end:
        return -1, -1, -1
    length = (np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8) | (np.int64(buf[start + 2]) << 16)
              | (np.int64(buf[start + 3]) << 24))
    if start + 4 + length > end:
        return -1, -1, -1
    return start + 4, start + 4 + length, start + 4 + length


@lazy_njit(f"({_BYTES}, {_WORDS64}, {_INDICES}, Array(int64, 2, 'C', readonly=True), boolean, int64, "
           f"{_WORDS32}, int64, {_INDICES}, boolean, uint8[::1], uint32[::1], uint8[::1], boolean, "
           f"uint32[::1], int64[::1], int64[::1], uint32[::1])")
def _decode_pages(buf, words, starts, pages, nullable, width, dictionary, dictionary_size, rows, all_rows,
                  out, out_words, valid, codes_only, levels, wanted, slots, codes):
    """Decode the data pages of a column chunk (``pages``: header-table rows; ``starts``: where
    each page's decompressed bytes are in ``buf``) at ``rows`` (every row if ``all_rows``) into
    ``out`` and ``valid``; returns the rows written or an error.

    Values are ``width`` bytes (4 or 8), whatever their type: ``out`` is the output's bytes and
    ``out_words`` the same bytes as 32-bit words, ``dictionary`` the dictionary page's values as
    words. So one compiled function serves every column type, and a value is copied as one or two
    words.

    Only the selected non-null rows' values are decoded: their index among the page's non-null
    values is counted from the definition levels, and dictionary codes are unpacked at those
    indices only (``decode_hybrid``). String columns (``codes_only``) keep the codes.

    ``levels``, ``wanted``, ``slots`` and ``codes`` are scratch space for a page's values (allocated
    by the caller: numba's allocation functions would add to the compile): its definition
    levels; per selected non-null row, its index among the page's non-null values, its output
    slot within the page's output and its dictionary code."""
    per = width >> 2                    # 32-bit words per value
    done = 0
    filled = 0
    r = 0
    for p in range(pages.shape[0]):
        n = pages[p, H_NUM_VALUES]
        start = starts[p]
        end = start + pages[p, H_UNCOMPRESSED]
        d0, d1, v0 = _page_layout(buf, start, end, pages[p, H_TYPE] == DATA_PAGE_V2, nullable,
                                  pages[p, H_REP_LENGTH], pages[p, H_DEF_LENGTH])
        if d0 < 0 or d1 > end:
            return _BAD_LEVELS
        non_null = n
        if nullable and not _all_valid(buf, d0, d1, n):
            if decode_hybrid(buf, words, d0, d1, 1, _NO_POSITIONS, n, levels) != n:
                return _BAD_LEVELS
            non_null = 0
            for i in range(n):
                non_null += levels[i]
        if all_rows:
            m = n
        else:
            m = 0
            while r + m < rows.shape[0] and rows[r + m] < done + n:
                m += 1
        # the selected rows: their output slots and, for the non-null ones, their value index
        q = 0
        dense = all_rows and non_null == n   # every row, in order: no index lists needed
        if dense:
            q = n
        elif non_null == n:
            for k in range(m):
                wanted[k] = k if all_rows else rows[r + k] - done
                slots[k] = k
            q = m
        else:
            count = 0
            k = 0
            for i in range(n):
                if k < m and (all_rows or rows[r + k] - done == i):
                    if nullable:
                        valid[filled + k] = levels[i]
                    if levels[i]:
                        wanted[q] = count
                        slots[q] = k
                        q += 1
                    else:
                        for w in range(per):
                            out_words[(filled + k) * per + w] = 0
                    k += 1
                count += levels[i]
        encoding = pages[p, H_ENCODING]
        if encoding == PLAIN_DICTIONARY or encoding == RLE_DICTIONARY:
            if dictionary_size < 0:
                return _NO_DICTIONARY
            if q:
                if v0 >= end or buf[v0] > 32:
                    return _BAD_VALUES
                bit_width = np.int64(buf[v0])
                if dense:
                    got = decode_hybrid(buf, words, v0 + 1, end, bit_width, _NO_POSITIONS, n, codes)
                else:
                    got = decode_hybrid(buf, words, v0 + 1, end, bit_width, wanted[:q], q, codes)
                if got != q:
                    return _BAD_VALUES
                if dense:
                    if not _gather_dense(codes, np.uint64(q), np.uint64(filled), dictionary, np.uint32(dictionary_size),
                                         per, codes_only, out_words):
                        return _BAD_INDEX
                else:
                    for j in range(q):
                        if codes[j] >= dictionary_size:
                            return _BAD_INDEX
                    for j in range(q):
                        slot = filled + slots[j]
                        if codes_only:
                            out_words[slot] = codes[j]
                        elif per == 1:
                            out_words[slot] = dictionary[codes[j]]
                        else:
                            code = 2 * np.int64(codes[j])
                            out_words[2 * slot] = dictionary[code]
                            out_words[2 * slot + 1] = dictionary[code + 1]
        elif encoding == PLAIN and not codes_only:
            if v0 + non_null * width > end:
                return _BAD_VALUES
            if dense:
                _copy_bytes(buf, v0, out, filled * width, n * width)
            else:
                for j in range(q):
                    _copy_bytes(buf, v0 + wanted[j] * width, out, (filled + slots[j]) * width, width)
        else:
            return _BAD_ENCODING
        filled += m
        done += n
        if not all_rows:
            r += m
    if not all_rows and r != rows.shape[0]:
        return _BAD_ROWS
    return filled


# ---- column chunks -----------------------------------------------------------------------------

# decompress(payload, out) -> bytes written
_CODECS = {
    "UNCOMPRESSED": None,
    "SNAPPY": cramjam.snappy.decompress_raw_into,
    "GZIP": cramjam.gzip.decompress_into,
    "ZSTD": cramjam.zstd.decompress_into,
    "LZ4_RAW": cramjam.lz4.decompress_block_into,
    # pyarrow names the LZ4_RAW codec "LZ4" (it reads Hadoop's framed LZ4 as another codec)
    "LZ4": cramjam.lz4.decompress_block_into,
}


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """Where a column chunk's bytes are and how to decode them."""

    offset: int
    size: int
    codec: str
    physical_type: str
    num_values: int
    nullable: bool          # max definition level 1 (optional) rather than 0 (required)
    arrow_type: pa.DataType  # the type of the array decoded (dictionary<int32, string> for codes)


def chunk_layout(metadata: pq.FileMetaData, rg_index: int, leaf: int, arrow_type: pa.DataType,
                 as_dictionary: bool) -> ChunkLayout:
    """The layout of leaf column ``leaf`` of row group ``rg_index``, read as ``arrow_type`` (the
    file's Arrow type for the column); raises ``NativeUnsupported`` for what this reader cannot
    decode. A string column decodes to dictionary codes only when ``as_dictionary``."""
    column = metadata.schema.column(leaf)
    if sys.byteorder != "little":
        raise NativeUnsupported("the decoder reads little-endian values as native numbers")
    if column.max_repetition_level != 0 or column.max_definition_level > 1:
        raise NativeUnsupported(f"{column.path}: nested or repeated column")
    chunk = metadata.row_group(rg_index).column(leaf)
    if chunk.compression not in _CODECS:
        raise NativeUnsupported(f"{column.path}: codec {chunk.compression}")
    physical = chunk.physical_type
    if physical == "BYTE_ARRAY":
        if not (as_dictionary and pa.types.is_string(arrow_type)):
            raise NativeUnsupported(f"{column.path}: strings are decoded only as dictionary codes")
        read_type = pa.dictionary(pa.int32(), pa.string())
    elif physical in _FIXED_WIDTH and arrow_type in _FIXED_WIDTH[physical][1]:
        read_type = arrow_type
    else:
        raise NativeUnsupported(f"{column.path}: {physical} read as {arrow_type}")
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset is not None \
            and 0 <= chunk.dictionary_page_offset < start:
        start = chunk.dictionary_page_offset
    return ChunkLayout(start, chunk.total_compressed_size, chunk.compression, physical, chunk.num_values,
                       column.max_definition_level == 1, read_type)


def read_chunk_bytes(file, layout: ChunkLayout) -> np.ndarray:
    """The chunk's bytes, from a file opened in binary mode, in a buffer this thread reuses: valid
    until its next call (``decode_chunk`` copies out everything it keeps)."""
    file.seek(layout.offset)
    data = _scratch("chunk", layout.size)
    got = file.readinto(data)
    if got != layout.size:
        raise CorruptPage(f"column chunk at byte {layout.offset} is cut short: "
                          f"{got} of {layout.size} bytes")
    return data


def decode_chunk(data: bytes | np.ndarray, layout: ChunkLayout, rows: np.ndarray | None = None,
                 where: str = "") -> pa.Array:
    """The chunk's values at ``rows`` (sorted row numbers within the row group; None: every row).

    ``where`` names the chunk (file, row group, column) in errors.
    """
    try:
        return _ChunkDecoder(data, layout, rows).decode()
    except CorruptPage as e:
        raise CorruptPage(f"{where}: {e}") from None


class _ChunkDecoder:
    """Decodes one column chunk: headers and the dictionary page here, decompression page by
    page into one buffer, then every data page in one ``_decode_pages`` call."""

    def __init__(self, data: bytes | np.ndarray, layout: ChunkLayout, rows: np.ndarray | None):
        self.data = np.frombuffer(data, np.uint8)
        self.layout = layout
        self.rows = rows
        self.strings = layout.physical_type == "BYTE_ARRAY"
        self.dtype = np.dtype("<i4") if self.strings else _FIXED_WIDTH[layout.physical_type][0]
        self.dictionary: np.ndarray | pa.Array | None = None

    def decode(self) -> pa.Array:
        headers = self._headers()
        kinds = headers[:, H_TYPE]
        for h in headers[kinds == DICTIONARY_PAGE].tolist():
            self._dictionary_page(h)
        pages = headers[(kinds == DATA_PAGE) | (kinds == DATA_PAGE_V2)]
        self._check_encodings(pages)
        buf, starts = self._decompress_pages(pages)
        size = self.layout.num_values if self.rows is None else len(self.rows)
        out = native.empty(size * self.dtype.itemsize, np.uint8)
        valid = native.full(size, 1, np.uint8) if self.layout.nullable else np.empty(0, np.uint8)
        dictionary_size = -1 if self.dictionary is None else len(self.dictionary)
        if self.strings or self.dictionary is None:
            dictionary = np.empty(0, np.uint32)
        else:
            dictionary = self.dictionary.view(np.uint32)
        rows = np.empty(0, np.int64) if self.rows is None else np.ascontiguousarray(self.rows, np.int64)
        words = buf[:len(buf) // 8 * 8].view(np.uint64)
        most = int(pages[:, H_NUM_VALUES].max(initial=1))   # values in the largest page
        written = _decode_pages(buf, words, starts, pages, self.layout.nullable, self.dtype.itemsize, dictionary,
                                dictionary_size, rows, self.rows is None, out, out.view(np.uint32), valid,
                                self.strings, native.empty(most, np.uint32), native.empty(most, np.int64),
                                native.empty(most, np.int64), native.empty(most, np.uint32))
        if written < 0:
            raise CorruptPage(_PAGE_ERRORS[written])
        return self._array(size, out, valid.view(np.bool_) if self.layout.nullable else None)

    def _headers(self) -> np.ndarray:
        max_pages = 128
        headers, count = page_headers(self.data, self.layout.num_values, max_pages)
        while count == _TABLE_FULL:
            max_pages *= 4
            headers, count = page_headers(self.data, self.layout.num_values, max_pages)
        if count == _UNSUPPORTED:
            raise NativeUnsupported("page header with an unexpected structure")
        if count < 0:
            raise CorruptPage("page headers run past the end of the column chunk")
        headers = headers[:count]
        unknown = set(headers[:, H_TYPE].tolist()) - {DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE, 1}
        if unknown:  # 1: index pages, which carry nothing to decode
            raise NativeUnsupported(f"page type {min(unknown)}")
        data_pages = (headers[:, H_TYPE] == DATA_PAGE) | (headers[:, H_TYPE] == DATA_PAGE_V2)
        values = int(headers[data_pages][:, H_NUM_VALUES].sum())
        if values != self.layout.num_values:
            raise CorruptPage(f"{values} of {self.layout.num_values} values found in the column chunk")
        return headers

    def _check_encodings(self, pages: np.ndarray) -> None:
        encodings = set(pages[:, H_ENCODING].tolist())
        allowed = set(_DICTIONARY_ENCODINGS) | (set() if self.strings else {PLAIN})
        if encodings - allowed:
            raise NativeUnsupported(f"data page encoding {min(encodings - allowed)}")
        v1 = pages[pages[:, H_TYPE] == DATA_PAGE]
        if self.layout.nullable and (v1[:, H_DEF_ENCODING] != RLE).any():
            raise NativeUnsupported("definition levels not RLE-encoded")

    def _decompress_pages(self, pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every data page's bytes, decompressed, in one buffer; and where each page starts."""
        sizes = pages[:, H_UNCOMPRESSED]
        starts = np.zeros(len(pages), np.int64)
        np.cumsum(sizes[:-1], out=starts[1:])
        buf = _scratch("pages", int(sizes.sum()))
        codec = _CODECS[self.layout.codec]
        for h, start in zip(pages.tolist(), starts.tolist()):
            payload = self.data[h[H_PAYLOAD]:h[H_PAYLOAD] + h[H_COMPRESSED]]
            target = buf[start:start + h[H_UNCOMPRESSED]]
            if h[H_TYPE] == DATA_PAGE_V2:  # the levels are never compressed
                levels = h[H_REP_LENGTH] + h[H_DEF_LENGTH]
                target[:levels] = payload[:levels]
                payload, target = payload[levels:], target[levels:]
                self._decompress_into(payload, target, codec if h[H_IS_COMPRESSED] else None)
            else:
                self._decompress_into(payload, target, codec)
        return buf, starts

    def _decompress_into(self, payload: np.ndarray, target: np.ndarray, codec) -> None:
        if codec is None:
            if len(payload) != len(target):
                raise CorruptPage(f"page holds {len(payload)} bytes, its header says {len(target)}")
            target[:] = payload
            return
        try:
            written = codec(payload, target)
        except Exception as e:  # cramjam raises its own DecompressionError
            raise CorruptPage(f"page does not decompress with {self.layout.codec}: {e}") from None
        if written != len(target):
            raise CorruptPage(f"page decompressed to {written} bytes, its header says {len(target)}")

    def _dictionary_page(self, h: list[int]) -> None:
        if h[H_ENCODING] not in (PLAIN, PLAIN_DICTIONARY):
            raise NativeUnsupported(f"dictionary page encoding {h[H_ENCODING]}")
        raw = native.empty(h[H_UNCOMPRESSED], np.uint8)
        self._decompress_into(self.data[h[H_PAYLOAD]:h[H_PAYLOAD] + h[H_COMPRESSED]], raw,
                              _CODECS[self.layout.codec])
        n = h[H_NUM_VALUES]
        if self.strings:
            offsets = native.empty(n + 1, np.int32)
            if _byte_array_offsets(raw, n, offsets) < 0:
                raise CorruptPage("dictionary page holds fewer strings than its header says")
            chars = native.empty(offsets[-1], np.uint8)
            _copy_byte_arrays(raw, offsets, chars)
            self.dictionary = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))
        else:
            if len(raw) < n * self.dtype.itemsize:
                raise CorruptPage("dictionary page holds fewer values than its header says")
            self.dictionary = np.frombuffer(raw, self.dtype, n)

    def _array(self, n: int, out: np.ndarray, valid: np.ndarray | None) -> pa.Array:
        """The Arrow array of ``n`` values whose bytes are ``out``."""
        bitmap, nulls = None, 0
        if valid is not None and not valid.all():
            nulls = n - int(np.count_nonzero(valid))
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        if self.strings:
            codes = pa.Array.from_buffers(pa.int32(), n, [bitmap, pa.py_buffer(out)], null_count=nulls)
            dictionary = self.dictionary if self.dictionary is not None else pa.array([], pa.string())
            return pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)   # codes checked in range
        return pa.Array.from_buffers(self.layout.arrow_type, n, [bitmap, pa.py_buffer(out)], null_count=nulls)


_scratch_buffers = threading.local()


def _scratch(purpose: str, size: int) -> np.ndarray:
    """A buffer of ``size`` bytes this thread reuses for ``purpose`` from chunk to chunk (chunk
    bytes, decompressed pages: both consumed before the next chunk). A fresh multi-MiB buffer per
    chunk costs page faults comparable to the decompression."""
    buf = getattr(_scratch_buffers, purpose, None)
    if buf is None or len(buf) < size:
        buf = np.empty(max(size, 1 << 20), np.uint8)
        setattr(_scratch_buffers, purpose, buf)
    return buf[:size]
