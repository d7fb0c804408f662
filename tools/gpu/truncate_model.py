#!/usr/bin/env python3
"""Writes a copy of a Llama-family GGUF keeping only its first K layers.

The device machine takes at most 64 MiB of files per call, so the GPU check of
"GPU greedy tokens equal CPU greedy tokens" runs on the default model's first
layers (its real weights, tokenizer and chat template) rather than all 30.

usage: truncate_model.py IN.gguf OUT.gguf K
"""
import sys

import numpy as np
from gguf import GGUFReader, GGUFWriter, GGUFValueType


def main():
    src, dst, keep = sys.argv[1], sys.argv[2], int(sys.argv[3])
    r = GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(dst, arch)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vt = f.types[0]
        value = f.contents()
        if name == f"{arch}.block_count":
            value = keep
        if vt == GGUFValueType.ARRAY:
            w.add_key_value(name, value, vt, sub_type=f.types[-1])
        else:
            w.add_key_value(name, value, vt)
    for t in r.tensors:
        if t.name.startswith("blk.") and int(t.name.split(".")[1]) >= keep:
            continue
        data = np.asarray(t.data)  # quantized types: bytes, shaped [rows, row bytes]
        w.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
