#!/usr/bin/env python3
"""torch.nn.functional.scaled_dot_product_attention at the shapes of
bench_attention: causal, bf16, head dim 128, hq=32 with hkv=8 and hkv=32,
T = 8K..128K, once per SDPA backend (flash, efficient, cudnn) and once through
torch's cuDNN op with the statistics (cudnn+lse, below). Prints ms and
TFLOP/s with causal FLOPs = 4 * T^2 * hq * d / 2.

GQA (hkv < hq) runs with enable_gqa=True where the backend takes it; where it
does not, K and V are expanded to hq heads first (outside the timing) and the
line says "kv expanded".

SDPA without gradients does not ask the cuDNN backend for the softmax
statistics (log-sum-exp), which ringlm's attention always returns (CP merges
partial results by them); flash computes them anyway. A fourth line,
"cudnn+lse", times torch's cuDNN op with compute_log_sumexp=True, the same
work as ringlm's cuDNN path (K/V expanded for GQA, outside the timing).

usage: bench_torch_sdpa.py [--sizes 8192,16384,...] [--d 128] [--budget-s 200]
"""
import argparse
import sys
import time
import warnings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8192,16384,32768,65536,131072")
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--budget-s", type=float, default=200.0)
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # noqa: BLE001 - report any import failure and stop cleanly
        print(f"bench_torch_sdpa: torch unavailable ({e})")
        return 0
    if not torch.cuda.is_available():
        print("bench_torch_sdpa: no CUDA device")
        return 0
    # SDPA warns at length about every backend it passes over.
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0)}")
    backends = [("flash", SDPBackend.FLASH_ATTENTION),
                ("efficient", SDPBackend.EFFICIENT_ATTENTION),
                ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    d = args.d
    start = time.time()

    def timed(fn):
        fn()  # warm-up (and kernel selection)
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        one = a.elapsed_time(b)
        reps = max(1, min(20, int(1500.0 / max(one, 1e-3))))
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        b.synchronize()
        return a.elapsed_time(b) / reps

    for hq, hkv in [(32, 8), (32, 32)]:
        last_cost = 0.0
        for T in sizes:
            if last_cost * 4.5 > args.budget_s - (time.time() - start):
                print(f"sdpa causal d={d} hq={hq} hkv={hkv} T={T}: skipped (time budget)", flush=True)
                continue
            t0 = time.time()
            torch.manual_seed(0)
            q = torch.rand(1, hq, T, d, device="cuda", dtype=torch.bfloat16) * 2 - 1
            k = torch.rand(1, hkv, T, d, device="cuda", dtype=torch.bfloat16) * 2 - 1
            v = torch.rand(1, hkv, T, d, device="cuda", dtype=torch.bfloat16) * 2 - 1
            flops = 4.0 * T * T * hq * d / 2.0
            for name, be in backends:
                note = ""
                try:
                    with sdpa_kernel(be):
                        if hkv == hq:
                            ms = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
                        else:
                            try:
                                ms = timed(lambda: F.scaled_dot_product_attention(
                                    q, k, v, is_causal=True, enable_gqa=True))
                            except Exception:  # noqa: BLE001 - backend refused GQA
                                ke = k.repeat_interleave(hq // hkv, dim=1)
                                ve = v.repeat_interleave(hq // hkv, dim=1)
                                ms = timed(lambda: F.scaled_dot_product_attention(q, ke, ve, is_causal=True))
                                note = " (kv expanded)"
                                del ke, ve
                    print(f"sdpa causal d={d} hq={hq} hkv={hkv} T={T} {name}: {ms:.3f} ms "
                          f"{flops / ms * 1e-9:.1f} TFLOP/s{note}", flush=True)
                except Exception as e:  # noqa: BLE001 - an unavailable backend is a result, not a failure
                    msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
                    print(f"sdpa causal d={d} hq={hq} hkv={hkv} T={T} {name}: unavailable ({msg})", flush=True)
                torch.cuda.empty_cache()
            try:
                ke = k if hkv == hq else k.repeat_interleave(hq // hkv, dim=1)
                ve = v if hkv == hq else v.repeat_interleave(hq // hkv, dim=1)
                op = torch.ops.aten._scaled_dot_product_cudnn_attention
                ms = timed(lambda: op(q, ke, ve, None, True, 0.0, True, False))
                note = "" if hkv == hq else " (kv expanded)"
                print(f"sdpa causal d={d} hq={hq} hkv={hkv} T={T} cudnn+lse: {ms:.3f} ms "
                      f"{flops / ms * 1e-9:.1f} TFLOP/s{note}", flush=True)
                del ke, ve
            except Exception as e:  # noqa: BLE001 - an unavailable op is a result, not a failure
                msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
                print(f"sdpa causal d={d} hq={hq} hkv={hkv} T={T} cudnn+lse: unavailable ({msg})", flush=True)
            torch.cuda.empty_cache()
            del q, k, v
            torch.cuda.empty_cache()
            last_cost = time.time() - t0
    return 0


if __name__ == "__main__":
    sys.exit(main())
