"""Explicit SIMD vectors inside Numba functions: one vector type and seven intrinsics.

LLVM vectorises simple loops on its own, but it will not turn a grid of scalar accumulators into a
grid of vector registers, which is what a fast matrix-multiply micro-kernel needs. These intrinsics
let a ``@njit`` function hold such vectors as ordinary local variables:

* ``vzeros(arr)``: a vector of zeros of ``arr``'s dtype;
* ``vload(arr, i)``: ``arr[i : i + lanes]`` as one vector (an unaligned vector load);
* ``vbroadcast(arr, i)``: ``arr[i]`` copied into every lane;
* ``vfma(a, b, c)``: ``a * b + c`` lane by lane, fused (one rounding), ``llvm.fma``;
* ``vstore(arr, i, v)`` and ``vadd_store(arr, i, v)``: write ``v`` to, or add it into,
  ``arr[i : i + lanes]``;
* ``prefetch(arr, i)``: ask the CPU to bring the cache line holding ``arr[i]`` into L1 (a hint with
  no effect on any value).

A vector is ``VECTOR_BYTES`` = 32 bytes (one AVX2 register): 8 float32 or 4 float64 lanes. The arrays
must be 1-D, C-contiguous and float32 or float64, and the indices are element offsets. Like the rest of
compiled Numba code the loads and stores are **not bounds-checked**: the caller guarantees
``0 <= i`` and ``i + lanes <= arr.size``. On a CPU without 32-byte vectors LLVM splits each vector into
smaller ones, so the code stays correct everywhere.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, models, register_model

__all__ = ["VECTOR_BYTES", "SimdVector", "lanes", "vzeros", "vload", "vbroadcast", "vfma", "vstore",
           "vadd_store", "prefetch"]

#: Bytes per vector: one 256-bit AVX2 register.
VECTOR_BYTES = 32


def lanes(dtype: np.dtype | type) -> int:
    """Numbers per vector for ``dtype``: 8 for float32, 4 for float64."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


class SimdVector(types.Type):
    """The Numba type of a vector of ``lanes`` numbers of a float ``dtype`` (an LLVM ``<lanes x dtype>``)."""

    def __init__(self, dtype: types.Float, lanes: int):
        self.dtype = dtype
        self.lanes = lanes
        super().__init__(name=f"SimdVector({dtype} x {lanes})")


@register_model(SimdVector)
class _SimdVectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _vector_type(name: str, arr) -> SimdVector:
    """The vector type that ``arr`` holds, or a TypingError that says what ``name`` needs."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and isinstance(arr.dtype, types.Float) and arr.dtype.bitwidth in (32, 64)):
        raise TypingError(f"{name} needs a 1-D C-contiguous float32 or float64 array, got {arr}")
    return SimdVector(arr.dtype, VECTOR_BYTES * 8 // arr.dtype.bitwidth)


def _check_index(name: str, index) -> None:
    if not isinstance(index, types.Integer):
        raise TypingError(f"{name} needs an integer element index, got {index}")


def _element_pointer(context, builder, array_type, array, index_type, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [context.cast(builder, index, index_type, types.intp)])


def _vector_pointer(context, builder, sig, args, vector: SimdVector):
    pointer = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
    return builder.bitcast(pointer, context.get_value_type(vector).as_pointer())


def _alignment(vector: SimdVector) -> int:
    return vector.dtype.bitwidth // 8  # element alignment: the loads and stores may be unaligned


@intrinsic
def vzeros(typingctx, arr):
    """A vector of zeros with ``arr``'s dtype."""
    vector = _vector_type("vzeros", arr)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vector), None)  # zeroinitializer

    return vector(arr), codegen


@intrinsic
def vload(typingctx, arr, index):
    """``arr[index : index + lanes]`` as one vector."""
    vector = _vector_type("vload", arr)
    _check_index("vload", index)

    def codegen(context, builder, sig, args):
        return builder.load(_vector_pointer(context, builder, sig, args, vector), align=_alignment(vector))

    return vector(arr, index), codegen


@intrinsic
def vbroadcast(typingctx, arr, index):
    """``arr[index]`` in every lane of a vector."""
    vector = _vector_type("vbroadcast", arr)
    _check_index("vbroadcast", index)

    def codegen(context, builder, sig, args):
        value = builder.load(_element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1]))
        vt = context.get_value_type(vector)
        single = builder.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
        lane_zero = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
        return builder.shuffle_vector(single, ir.Constant(vt, ir.Undefined), lane_zero)

    return vector(arr, index), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane with one rounding (a fused multiply-add instruction where there is one)."""
    if not (isinstance(a, SimdVector) and a == b == c):
        raise TypingError(f"vfma needs three vectors of one type, got {a}, {b}, {c}")

    def codegen(context, builder, sig, args):
        vt = context.get_value_type(a)
        name = f"llvm.fma.v{a.lanes}f{a.dtype.bitwidth}"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), name)
        return builder.call(fma, args)

    return a(a, b, c), codegen


def _store_intrinsic(name: str, accumulate: bool):
    def typer(typingctx, arr, index, value):
        vector = _vector_type(name, arr)
        _check_index(name, index)
        if value != vector:
            raise TypingError(f"{name} into an array of {arr.dtype} needs a {vector}, got {value}")

        def codegen(context, builder, sig, args):
            pointer = _vector_pointer(context, builder, sig, args, vector)
            new = args[2]
            if accumulate:
                new = builder.fadd(builder.load(pointer, align=_alignment(vector)), new)
            builder.store(new, pointer, align=_alignment(vector))
            return context.get_dummy_value()

        return types.none(arr, index, value), codegen

    typer.__name__ = name
    return intrinsic(typer)


vstore = _store_intrinsic("vstore", accumulate=False)
vstore.__doc__ = "Write the vector ``value`` to ``arr[index : index + lanes]``."
vadd_store = _store_intrinsic("vadd_store", accumulate=True)
vadd_store.__doc__ = "Add the vector ``value`` into ``arr[index : index + lanes]``."


@intrinsic
def prefetch(typingctx, arr, index):
    """Hint the CPU to load the cache line holding ``arr[index]`` into L1, for writing soon."""
    _vector_type("prefetch", arr)
    _check_index("prefetch", index)

    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte_pointer.type, i32, i32, i32])
        hint = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # rw = 1 (write), locality = 3 (keep in all cache levels), cache type = 1 (data)
        builder.call(hint, [byte_pointer, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(arr, index), codegen
