"""CRC32C, record files (TFRecord framing), atomic writes, sharded reads, corruption errors."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.data import (CorruptRecordError, Dataset, RecordDataset, RecordWriter, crc32c, decode_element,
                         encode_element, masked_crc32c, read_records, write_records, write_sharded_records)
from mlbook.data.crc32c import crc32c_bitwise, unmask_crc32c
from tests._data_guards import no_leaks, watchdog  # noqa: F401


@pytest.mark.parametrize("data, expected", [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),                  # the standard check value
    (bytes(32), 0x8A9136AA),                     # RFC 3720 (iSCSI) test vectors
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
])
def test_crc32c_known_vectors(data, expected):
    assert crc32c(data) == expected
    assert crc32c_bitwise(data) == expected


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300), split=st.integers(0, 300))
def test_crc32c_matches_bitwise_and_composes(data, split):
    assert crc32c(data) == crc32c_bitwise(data)
    split = min(split, len(data))
    assert crc32c(data[split:], crc32c(data[:split])) == crc32c(data)
    assert unmask_crc32c(masked_crc32c(data)) == crc32c(data)


def test_crc32c_is_not_zlib_crc32_and_accepts_arrays():
    assert crc32c(b"123456789") != zlib.crc32(b"123456789")  # different polynomial
    array = np.arange(10, dtype=np.int32)
    assert crc32c(array) == crc32c(array.tobytes())
    with pytest.raises(TypeError, match="bytes-like"):
        crc32c("text")


def test_record_framing_is_tfrecord(tmp_path):
    path = tmp_path / "one.tfrecord"
    write_records(path, [b"hello"])
    raw = path.read_bytes()
    assert len(raw) == 8 + 4 + 5 + 4
    assert struct.unpack("<Q", raw[:8])[0] == 5
    assert struct.unpack("<I", raw[8:12])[0] == masked_crc32c(raw[:8])
    assert raw[12:17] == b"hello"
    assert struct.unpack("<I", raw[17:])[0] == masked_crc32c(b"hello")


@settings(max_examples=40, deadline=None)
@given(records=st.lists(st.binary(max_size=200), max_size=20))
def test_records_round_trip(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("rec") / "r.tfrecord"
    assert write_records(path, records) == len(records)
    assert list(read_records(path)) == records


def _three_records(tmp_path):
    path = tmp_path / "data.tfrecord"
    write_records(path, [b"a" * 10, b"b" * 20, b"c" * 30])
    return path


def test_truncated_file_names_file_and_offset(tmp_path):
    path = _three_records(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-5])
    second_end = (12 + 10 + 4) + (12 + 20 + 4)
    with pytest.raises(CorruptRecordError, match=rf"data\.tfrecord: corrupt record at byte offset {second_end}: truncated record"):
        list(read_records(path))
    path.write_bytes(raw[:second_end + 7])
    with pytest.raises(CorruptRecordError, match=rf"offset {second_end}: truncated header"):
        list(read_records(path))


def test_flipped_bit_is_caught(tmp_path):
    path = _three_records(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[26 + 12 + 3] ^= 0x01  # a data byte of the second record
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptRecordError, match="offset 26: data checksum mismatch") as info:
        list(read_records(path))
    assert info.value.offset == 26 and info.value.path == str(path)
    assert len(list(read_records(path, check_crc=False))) == 3
    raw[26 + 2] ^= 0x10  # the length field of the second record
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptRecordError, match="offset 26: length checksum mismatch"):
        list(read_records(path))


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "atomic.tfrecord"
    write_records(path, [b"old"])
    with pytest.raises(RuntimeError, match="crash"):
        with RecordWriter(path) as writer:
            writer.write(b"new")
            assert list(read_records(path)) == [b"old"]  # not visible before close
            raise RuntimeError("crash while writing")
    assert list(read_records(path)) == [b"old"]
    assert sorted(os.listdir(tmp_path)) == ["atomic.tfrecord"]  # no temporary left behind
    with pytest.raises(TypeError, match="encode_element"):
        with RecordWriter(path) as writer:
            writer.write(np.zeros(3))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RecordWriter(tmp_path / "missing" / "x.tfrecord")


@pytest.mark.parametrize("element", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    (np.int64(3), np.array(["cat", "dog"])),
    {"image": np.zeros((4, 4, 3), np.uint8), "label": np.int64(2), "nested": (np.ones(2), np.float16(1.5))},
    np.zeros((0, 5)),
])
def test_encode_decode_round_trip(element):
    decoded = decode_element(encode_element(element))

    def check(a, b):
        if isinstance(a, tuple):
            assert isinstance(b, tuple) and len(a) == len(b)
            for x, y in zip(a, b):
                check(x, y)
        elif isinstance(a, dict):
            assert list(a) == list(b)
            for key in a:
                check(a[key], b[key])
        else:
            a = np.asarray(a)
            assert b.dtype == a.dtype and b.shape == a.shape
            np.testing.assert_array_equal(a, b)

    check(element, decoded)


def test_sharded_dataset_reads_everything(tmp_path, no_leaks):
    records = [encode_element((np.full(3, i, np.float32), np.int64(i))) for i in range(50)]
    paths = write_sharded_records(tmp_path, "train", records, num_shards=4)
    assert [p.name for p in paths][0] == "train-00000-of-00004.tfrecord"
    sequential = [int(label) for _, label in RecordDataset(paths).map(decode_element)]
    assert sequential == [i for shard in range(4) for i in range(shard, 50, 4)]
    parallel = RecordDataset(paths, num_parallel_reads=4).map(decode_element)
    labels = [int(label) for _, label in parallel]
    assert labels == list(range(50))  # interleaving the round-robin shards restores the order
    files = Dataset.list_files(str(tmp_path / "train-*"), shuffle=False)
    via_interleave = files.interleave(lambda p: RecordDataset(str(p)), cycle_length=2)
    assert len(list(via_interleave)) == 50


def test_corrupt_shard_error_reaches_consumer(tmp_path, no_leaks):
    paths = write_sharded_records(tmp_path, "x", [b"r" * 8] * 12, num_shards=3)
    raw = bytearray(paths[1].read_bytes())
    raw[-1] ^= 0xFF
    paths[1].write_bytes(bytes(raw))
    with pytest.raises(CorruptRecordError, match=r"x-00001-of-00003\.tfrecord: corrupt record at byte offset 72"):
        list(RecordDataset(paths, num_parallel_reads=3))
