"""Flatten one field of a nested light-curve column, in either of the two nested layouts.

HATS catalogs store a light curve per row either as a *struct of lists* (ZTF DR24's
``lightcurve``: ``struct<hmjd: list<double>, mag: list<float>, ...>``) or as a *list of structs*
(``list<struct<time, flux, ...>>``, nested-pandas' other layout). Both give, per row, the same
epochs; these helpers read a field's values and each row's epoch count from either, on the Arrow
buffers (no pandas object per epoch).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def field_values(column: pa.Array | pa.ChunkedArray, name: str) -> tuple[np.ndarray, pa.Array]:
    """Each row's number of values of field ``name``, and all its values flattened in row order.

    Null rows (or a null list) count as zero values.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if _is_list(column.type):  # list of structs
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy()
        return lengths, pc.struct_field(pc.list_flatten(column), name)
    lists = pc.struct_field(column, name)  # struct of lists
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    return lengths, pc.list_flatten(lists)


def float_values(column: pa.Array | pa.ChunkedArray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`field_values` with the values as float64 (nulls -> NaN)."""
    lengths, values = field_values(column, name)
    return lengths, values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def row_of_value(lengths: np.ndarray) -> np.ndarray:
    """Index of the row each flattened value belongs to."""
    return np.repeat(np.arange(len(lengths)), lengths)


def field_names(kind: pa.DataType) -> frozenset[str]:
    """Field names of a nested column's type (struct of lists, or list of structs)."""
    if _is_list(kind):
        kind = kind.value_type
    if not pa.types.is_struct(kind):
        return frozenset()
    return frozenset(kind.field(i).name for i in range(kind.num_fields))
