"""CRC32C (Castagnoli), the checksum TFRecord files use, and the "mask" TFRecord applies to it.

A CRC is the remainder of dividing the message, read as a polynomial over GF(2), by a fixed
generator polynomial. CRC32C's generator is 0x1EDC6F41 (0x82F63B78 bit-reversed, the form a
least-significant-bit-first implementation uses). The table-driven algorithm processes one byte
per step: the low byte of the running CRC, xor the next message byte, indexes a 256-entry table
of precomputed remainders. The inner loop is compiled with Numba, because a Python loop over
bytes would run at a few MB/s.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["crc32c", "crc32c_bitwise", "masked_crc32c", "unmask_crc32c", "CRC32C_POLY"]

CRC32C_POLY = 0x82F63B78  # 0x1EDC6F41 with its bits reversed
_MASK_DELTA = 0xA282EAD8


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ CRC32C_POLY if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_TABLE = _make_table()


@numba.njit(cache=True, nogil=True)
def _crc_update(crc: np.uint32, data: np.ndarray, table: np.ndarray) -> np.uint32:
    crc = np.uint32(crc)
    for byte in data:
        crc = table[(crc ^ byte) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC32C of ``data`` (any bytes-like object), continuing from ``crc`` for data split in pieces.

    ``crc32c(b"123456789") == 0xE3069283``, the check value of the standard.
    """
    if isinstance(data, np.ndarray):
        buffer = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    else:
        try:
            buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        except TypeError as err:
            raise TypeError(f"crc32c needs a bytes-like object or a NumPy array, got {type(data).__name__}") from err
    if not 0 <= crc <= 0xFFFFFFFF:
        raise ValueError(f"crc must be a 32-bit unsigned value, got {crc}")
    start = np.uint32(crc ^ 0xFFFFFFFF)
    return int(_crc_update(start, buffer, _TABLE)) ^ 0xFFFFFFFF


def crc32c_bitwise(data: bytes) -> int:
    """CRC32C one bit at a time, straight from the definition: the slow reference the tests check against."""
    crc = 0xFFFFFFFF
    for byte in bytes(data):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ CRC32C_POLY if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant.

    A CRC of data that itself contains CRCs is weak (a CRC over a message and its own CRC is a
    constant), and records do hold checksummed payloads; the mask breaks that structure.
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc32c(masked: int) -> int:
    """Undo :func:`masked_crc32c`'s mask, giving back the plain CRC32C."""
    rotated = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF
