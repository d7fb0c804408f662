#!/usr/bin/env python3
"""Writes tests/data/dequantize_vectors.bin: blocks of every quantized GGUF
tensor type ringlm reads, with their values as decoded by gguf-py (the
`gguf` package on PyPI, ggml's own Python reader), the reference that
dequantize_test checks kernels/cpu/dequantize against.

    python3 -m pip install gguf numpy
    python3 tools/testdata/gen_dequantize_vectors.py tests/data/dequantize_vectors.bin

Blocks are random bytes whose f16 scale fields are set to finite values of
either sign and varied magnitude (a zero and a subnormal among them), so
every bit of the packed quants and scales is exercised.

Record layout (little endian), repeated to the end of the file:
  char type[8] (NUL-padded name) | u32 ggml type id | u32 blocks
  | u32 block bytes | u32 block elements | bytes | f32 values
"""
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES, quants

# Byte offsets of each type's f16 scale fields within a block.
SCALE_FIELDS = {
    "Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
    "IQ4_NL": [0], "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2],
    "Q6_K": [208], "IQ4_XS": [0],
}
BLOCKS = 8


def main(path):
    rng = np.random.default_rng(20261127)
    scales = [0.0, 6e-8, 1e-3, -2.5e-2, 0.125, -1.0, 3.0, 7.5e-5]
    with open(path, "wb") as out:
        for name, fields in SCALE_FIELDS.items():
            qtype = T[name]
            elems, nbytes = GGML_QUANT_SIZES[qtype]
            raw = bytearray(rng.integers(0, 256, size=BLOCKS * nbytes, dtype=np.uint8).tobytes())
            for b in range(BLOCKS):
                for k, off in enumerate(fields):
                    v = scales[(b + 3 * k) % len(scales)]
                    raw[b * nbytes + off: b * nbytes + off + 2] = np.float16(v).tobytes()
            values = quants.dequantize(np.frombuffer(bytes(raw), dtype=np.uint8), qtype)
            values = np.asarray(values, dtype=np.float32).reshape(-1)
            assert values.size == BLOCKS * elems, (name, values.size)
            out.write(name.encode().ljust(8, b"\0"))
            out.write(struct.pack("<4I", int(qtype), BLOCKS, nbytes, elems))
            out.write(bytes(raw))
            out.write(values.astype("<f4").tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
