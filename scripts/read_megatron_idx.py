#!/usr/bin/env python3
"""Independent reader of a Megatron-LM indexed dataset (PREFIX.idx + PREFIX.bin), written from the layout of
`_IndexReader` / `IndexedDataset` in megatron/core/datasets/indexed_dataset.py (NVIDIA/Megatron-LM) with numpy only.

Prints one JSON object: dtype, sequence_lengths, sequence_pointers, document_indices and the token ids of every
sequence. Used by moekit's tests to check the files moekit writes.

usage: read_megatron_idx.py PREFIX
"""
import json
import struct
import sys

import numpy

_INDEX_HEADER = b"MMIDIDX\x00\x00"
# megatron/core/datasets/indexed_dataset.py DType
DTYPES = {1: numpy.uint8, 2: numpy.int8, 3: numpy.int16, 4: numpy.int32, 5: numpy.int64, 6: numpy.float64,
          7: numpy.float32, 8: numpy.uint16}


def read(prefix):
    with open(prefix + ".idx", "rb") as stream:
        header = stream.read(9)
        assert header == _INDEX_HEADER, f"bad magic {header!r}"
        (version,) = struct.unpack("<Q", stream.read(8))
        assert version == 1, f"bad version {version}"
        (code,) = struct.unpack("<B", stream.read(1))
        dtype = DTYPES[code]
        (sequence_count,) = struct.unpack("<Q", stream.read(8))
        (document_count,) = struct.unpack("<Q", stream.read(8))
        offset = stream.tell()
    buffer = memoryview(numpy.memmap(prefix + ".idx", mode="r", order="C"))
    sequence_lengths = numpy.frombuffer(buffer, dtype=numpy.int32, count=sequence_count, offset=offset)
    sequence_pointers = numpy.frombuffer(buffer, dtype=numpy.int64, count=sequence_count,
                                         offset=offset + sequence_lengths.nbytes)
    document_indices = numpy.frombuffer(buffer, dtype=numpy.int64, count=document_count,
                                        offset=offset + sequence_lengths.nbytes + sequence_pointers.nbytes)
    assert offset + sequence_lengths.nbytes + sequence_pointers.nbytes + document_indices.nbytes == len(buffer)
    bin_size = numpy.dtype(dtype).itemsize * int(sequence_lengths.sum())
    bin_buffer = memoryview(numpy.memmap(prefix + ".bin", mode="r", order="C")) if bin_size else b""
    assert len(bin_buffer) == bin_size, f".bin holds {len(bin_buffer)} bytes, index describes {bin_size}"
    sequences = [numpy.frombuffer(bin_buffer, dtype=dtype, count=int(n), offset=int(p)).astype(numpy.int64).tolist()
                 for n, p in zip(sequence_lengths, sequence_pointers)]
    return {
        "dtype": numpy.dtype(dtype).name,
        "sequence_lengths": sequence_lengths.tolist(),
        "sequence_pointers": sequence_pointers.tolist(),
        "document_indices": document_indices.tolist(),
        "sequences": sequences,
    }


if __name__ == "__main__":
    json.dump(read(sys.argv[1]), sys.stdout)
    sys.stdout.write("\n")
