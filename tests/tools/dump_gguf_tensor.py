#!/usr/bin/env python3
"""Reference GGUF decoding/encoding with gguf-py, for the C++ tests.

  dump_gguf_tensor.py FILE.gguf OUT_DIR NAME [NAME ...]
      Dequantizes each named tensor with gguf.quants.dequantize and writes it
      as raw little-endian float32 (ggml order, ne[0] innermost) to
      OUT_DIR/<i>.f32, i being the name's position in the list.

  dump_gguf_tensor.py --quantize TYPE IN.f32 OUT.bin
      Encodes raw float32 values as ggml type TYPE (Q8_0, Q4_0, Q4_1, Q5_0,
      Q5_1, F16, BF16) with gguf.quants.quantize and writes the bytes.

Exit status: 0 on success, 2 on a usage error or a missing tensor.
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize, quantize


def dump(path: str, out_dir: str, names: list[str]) -> int:
    reader = GGUFReader(path)
    by_name = {t.name: t for t in reader.tensors}
    for i, name in enumerate(names):
        t = by_name.get(name)
        if t is None:
            print(f"no tensor named {name!r} in {path}", file=sys.stderr)
            return 2
        x = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        np.ascontiguousarray(x).reshape(-1).astype("<f4").tofile(os.path.join(out_dir, f"{i}.f32"))
    return 0


def encode(type_name: str, src: str, dst: str) -> int:
    qtype = GGMLQuantizationType[type_name]
    x = np.fromfile(src, dtype="<f4")
    if qtype == GGMLQuantizationType.F16:
        y = x.astype("<f2").view(np.uint8)
    else:
        y = quantize(x.reshape(1, -1), qtype)
    np.ascontiguousarray(y).tofile(dst)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[1] == "--quantize":
        return encode(argv[2], argv[3], argv[4])
    if len(argv) >= 4 and not argv[1].startswith("-"):
        return dump(argv[1], argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
