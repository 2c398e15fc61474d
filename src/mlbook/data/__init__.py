"""``mlbook.data``: input pipelines in the style of ``tf.data``, in NumPy and Python.

- :class:`Dataset` and its transformations (``dataset.py``), :data:`AUTOTUNE` (``autotune.py``);
- parallel ``map`` on threads or processes with shared memory, and ``prefetch`` (``parallel.py``);
- TFRecord-framed record files with CRC32C checksums (``records.py``, ``crc32c.py``);
- an image-folder pipeline (``images.py``); stage tracing (``trace.py``);
- map functions of known cost for experiments (``workloads.py``).
"""

from mlbook.data.autotune import AUTOTUNE
from mlbook.data.crc32c import crc32c, masked_crc32c
from mlbook.data.dataset import INFINITE, UNKNOWN, Dataset, DatasetIterator, shuffle_order
from mlbook.data.parallel import shutdown_workers
from mlbook.data.records import (CorruptRecordError, RecordDataset, RecordWriter, TFRecordDataset, decode_element,
                                 encode_element, read_records, write_records, write_sharded_records)
from mlbook.data.trace import Span, Tracer

__all__ = [
    "AUTOTUNE", "INFINITE", "UNKNOWN", "Dataset", "DatasetIterator", "shuffle_order", "shutdown_workers",
    "crc32c", "masked_crc32c",
    "CorruptRecordError", "RecordDataset", "TFRecordDataset", "RecordWriter", "read_records", "write_records",
    "write_sharded_records", "encode_element", "decode_element",
    "Span", "Tracer",
]
