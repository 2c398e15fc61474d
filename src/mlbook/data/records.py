"""Record files in the TFRecord framing, written atomically and read back with every byte checked.

A record file is a sequence of records, each framed as::

    uint64 length            (little-endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

The length has its own checksum so that a corrupted length is caught *before* the reader trusts it
to skip ahead (or to allocate gigabytes). This is the exact format of TensorFlow's ``TFRecord``
files, so files written here can be read by ``tf.data.TFRecordDataset`` and the other way round
(the payload encoding, :func:`encode_element`, is this package's own, not ``tf.train.Example``).
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from mlbook.data.crc32c import masked_crc32c
from mlbook.data.structure import as_element

__all__ = ["RecordWriter", "CorruptRecordError", "write_records", "read_records", "RecordDataset",
           "TFRecordDataset", "write_sharded_records", "encode_element", "decode_element", "HEADER_BYTES",
           "FOOTER_BYTES"]

HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_BYTES = 4   # uint32 masked CRC of the data
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class CorruptRecordError(ValueError):
    """A record file is truncated or fails a checksum. ``path`` and ``offset`` say where."""

    def __init__(self, path: str | os.PathLike, offset: int, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: corrupt record at byte offset {offset}: {problem}")
        self.path = os.fspath(path)
        self.offset = offset


def _frame(data: bytes | memoryview) -> bytes:
    length = _LENGTH.pack(len(data))
    return b"".join((length, _CRC.pack(masked_crc32c(length)), data, _CRC.pack(masked_crc32c(data))))


class RecordWriter:
    """Writes records to ``path`` atomically: readers see the old file or the complete new one, never half.

    Records go to a temporary file in the same directory; :meth:`close` flushes it, ``fsync``s it
    and renames it over ``path`` (``os.replace`` is atomic on POSIX and Windows within one file
    system). Leaving the ``with`` block with an exception, or :meth:`discard`, deletes the
    temporary file and leaves ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {self.path}: directory {self.path.parent} does not exist")
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self._temporary = Path(temporary)
        self._file: io.BufferedWriter | None = os.fdopen(handle, "wb")
        self.records = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._file is None:
            raise ValueError(f"RecordWriter for {self.path} is closed")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a record is bytes, got {type(data).__name__}; encode elements with encode_element")
        self._file.write(_frame(bytes(data)))
        self.records += 1

    def close(self) -> None:
        """Finish: flush, fsync, rename into place. Closing twice is harmless."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self._temporary, self.path)

    def discard(self) -> None:
        """Abandon the file: ``path`` keeps whatever it held before."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __del__(self) -> None:
        try:
            self.discard()
        except Exception:  # noqa: BLE001
            pass


def write_records(path: str | os.PathLike, records: Iterable[bytes]) -> int:
    """Write ``records`` (bytes) to ``path`` atomically; returns how many."""
    with RecordWriter(path) as writer:
        for record in records:
            writer.write(record)
        return writer.records


def read_records(path: str | os.PathLike, *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the records of one file, checking both checksums of every record.

    Raises :class:`CorruptRecordError` (a ``ValueError``) naming the file and the byte offset of
    the bad record when a record is cut short or a checksum does not match.
    """
    with open(path, "rb") as handle:
        offset = 0
        while True:
            header = handle.read(HEADER_BYTES)
            if not header:
                return
            if len(header) < HEADER_BYTES:
                raise CorruptRecordError(path, offset, f"truncated header ({len(header)} of {HEADER_BYTES} bytes)")
            length_bytes = header[:8]
            (length,) = _LENGTH.unpack(length_bytes)
            (length_crc,) = _CRC.unpack(header[8:])
            if check_crc and masked_crc32c(length_bytes) != length_crc:
                raise CorruptRecordError(path, offset, "length checksum mismatch (the length field is damaged)")
            body = handle.read(length + FOOTER_BYTES)
            if len(body) < length + FOOTER_BYTES:
                raise CorruptRecordError(path, offset, f"truncated record: expected {length} data bytes and a "
                                                       f"checksum, found {len(body)} bytes")
            data = body[:length]
            if check_crc:
                (data_crc,) = _CRC.unpack(body[length:])
                if masked_crc32c(data) != data_crc:
                    raise CorruptRecordError(path, offset, "data checksum mismatch")
            yield data
            offset += HEADER_BYTES + length + FOOTER_BYTES


def write_sharded_records(directory: str | os.PathLike, name: str, records: Iterable[bytes],
                          num_shards: int) -> list[Path]:
    """Deal ``records`` round-robin into ``num_shards`` files ``name-00000-of-0000N.tfrecord``."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be positive, got {num_shards}")
    paths = [Path(directory) / f"{name}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    writers = [RecordWriter(path) for path in paths]
    try:
        for index, record in enumerate(records):
            writers[index % num_shards].write(record)
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    for writer in writers:
        writer.close()
    return paths


def RecordDataset(filenames: str | os.PathLike | Iterable[str | os.PathLike], *, num_parallel_reads: int | None = None,
                  check_crc: bool = True):
    """A :class:`~mlbook.data.Dataset` of the raw records (``bytes``) in one or more files.

    Several files are read one after another, or with ``num_parallel_reads=k`` interleaved ``k`` at
    a time, each read ahead by its own thread (file reads release the GIL), record by record.
    """
    from mlbook.data.dataset import UNKNOWN, Dataset

    if isinstance(filenames, (str, os.PathLike)):
        filenames = [filenames]
    paths = [os.fspath(f) for f in filenames]
    if not paths:
        raise ValueError("RecordDataset needs at least one file name")

    def one_file(path: str) -> Dataset:
        return Dataset(lambda: read_records(path, check_crc=check_crc), UNKNOWN, name=f"records({Path(path).name})")

    files = Dataset.from_tensor_slices(np.array(paths))
    if num_parallel_reads is None or len(paths) == 1:
        dataset = files.interleave(lambda p: one_file(str(p)), cycle_length=1)
    else:
        dataset = files.interleave(lambda p: one_file(str(p)), cycle_length=num_parallel_reads,
                                   num_parallel_calls=num_parallel_reads)
    dataset.name = "RecordDataset"
    return dataset


TFRecordDataset = RecordDataset


def encode_element(element: Any) -> bytes:
    """Serialise a dataset element (an array, or a tuple/dict of arrays) into bytes.

    A JSON header describes the structure, dtypes and shapes; the arrays' raw bytes follow. No
    pickle, so decoding a file from elsewhere cannot run code.
    """
    element = as_element(element)
    chunks: list[bytes] = []
    offset = [0]

    def describe(value: Any) -> Any:
        if isinstance(value, tuple):
            return {"tuple": [describe(v) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                raise TypeError(f"dict elements need string keys to be encoded, got {list(value)}")
            return {"dict": {k: describe(v) for k, v in value.items()}}
        array = np.asarray(value)
        raw = array.tobytes()  # C order, whatever the strides
        chunks.append(raw)
        spec = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset[0], "nbytes": len(raw)}
        offset[0] += len(raw)
        return spec

    header = json.dumps(describe(element), separators=(",", ":")).encode()
    return _LENGTH.pack(len(header)) + header + b"".join(chunks)


def decode_element(data: bytes) -> Any:
    """Inverse of :func:`encode_element`."""
    (header_length,) = _LENGTH.unpack_from(data)
    header = json.loads(data[8:8 + header_length])
    body = memoryview(data)[8 + header_length:]

    def build(spec: Any) -> Any:
        if "tuple" in spec:
            return tuple(build(v) for v in spec["tuple"])
        if "dict" in spec:
            return {k: build(v) for k, v in spec["dict"].items()}
        raw = body[spec["offset"]:spec["offset"] + spec["nbytes"]]
        return np.frombuffer(raw, dtype=np.dtype(spec["dtype"])).reshape(tuple(spec["shape"])).copy()

    return build(header)
