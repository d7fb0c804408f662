#!/usr/bin/env python3
"""Independent float64 reference forward of a Llama-family GGUF model.

Dequantizes with gguf-py (the `gguf` package) and runs a plain numpy decoder
over the given token ids; writes the float32 logits of the requested rows.
Used by the forward tests to check the engine's logits.

usage: reference_forward.py MODEL.gguf OUT.f32 ID [ID ...] [--all-rows]
"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    all_rows = "--all-rows" in sys.argv
    path, out_path, ids = args[0], args[1], [int(x) for x in args[2:]]
    r = GGUFReader(path)
    arch = field(r, "general.architecture")
    p = arch + "."
    n_layers = field(r, p + "block_count")
    dim = field(r, p + "embedding_length")
    n_heads = field(r, p + "attention.head_count")
    n_kv = field(r, p + "attention.head_count_kv", n_heads)
    eps = field(r, p + "attention.layer_norm_rms_epsilon", 1e-5)
    theta = field(r, p + "rope.freq_base", 10000.0)
    hd = dim // n_heads
    rot = field(r, p + "rope.dimension_count", hd)
    neox = arch == "qwen2"

    tensors = {t.name: t for t in r.tensors}

    def W(name):
        t = tensors[name]
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        return a.reshape([int(x) for x in reversed(t.shape)]) if len(t.shape) > 1 else a.reshape(-1)

    def rmsnorm(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    inv = theta ** (-np.arange(0, rot, 2, dtype=np.float64) / rot)
    if "rope_freqs.weight" in tensors:
        inv = inv / W("rope_freqs.weight")
    ang = pos[:, None] * inv[None, :]  # [T, rot/2]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x):  # x [T, H, hd]
        x = x.copy()
        if neox:
            half = rot // 2
            a, b = x[..., :half].copy(), x[..., half:rot].copy()
            x[..., :half] = a * cos[:, None, :] - b * sin[:, None, :]
            x[..., half:rot] = a * sin[:, None, :] + b * cos[:, None, :]
        else:
            a, b = x[..., 0:rot:2].copy(), x[..., 1:rot:2].copy()
            x[..., 0:rot:2] = a * cos[:, None, :] - b * sin[:, None, :]
            x[..., 1:rot:2] = a * sin[:, None, :] + b * cos[:, None, :]
        return x

    emb = W("token_embd.weight")  # [vocab, dim]
    x = emb[ids]
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    group = n_heads // n_kv
    for l in range(n_layers):
        b = f"blk.{l}."
        h = rmsnorm(x, W(b + "attn_norm.weight"))
        q = h @ W(b + "attn_q.weight").T
        k = h @ W(b + "attn_k.weight").T
        v = h @ W(b + "attn_v.weight").T
        if b + "attn_q.bias" in tensors:
            q += W(b + "attn_q.bias"); k += W(b + "attn_k.bias"); v += W(b + "attn_v.bias")
        q = rope(q.reshape(T, n_heads, hd))
        k = rope(k.reshape(T, n_kv, hd))
        v = v.reshape(T, n_kv, hd)
        att = np.empty((T, n_heads, hd))
        for hh in range(n_heads):
            g = hh // group
            s = q[:, hh, :] @ k[:, g, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, hh, :] = s @ v[:, g, :]
        x = x + att.reshape(T, dim) @ W(b + "attn_output.weight").T
        h = rmsnorm(x, W(b + "ffn_norm.weight"))
        gt = h @ W(b + "ffn_gate.weight").T
        up = h @ W(b + "ffn_up.weight").T
        x = x + (gt / (1 + np.exp(-gt)) * up) @ W(b + "ffn_down.weight").T
    x = rmsnorm(x, W("output_norm.weight"))
    head = W("output.weight") if "output.weight" in tensors else emb
    rows = x if all_rows else x[-1:]
    (rows @ head.T).astype(np.float32).tofile(out_path)


if __name__ == "__main__":
    main()
