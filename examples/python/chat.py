#!/usr/bin/env python3
"""A multi-turn chat with ringlm from Python.

    pip install ./bindings/python        # once (CMAKE_PREFIX_PATH=<ringlm prefix>)
    python3 examples/python/chat.py [--model PATH] [--cp N] [--max-tokens N] [--system TEXT]

One user message per line on stdin; each reply streams to stdout as it is
generated, followed by a line of statistics on stderr. Every turn after the
first prefills only its new message: the earlier turns stay in the session's
KV cache (P tokens reused, T new ones prefilled).
"""

import argparse
import os
import sys

import ringlm

DEFAULT_MODEL = os.path.expanduser("~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.environ.get("RINGLM_MODEL") or DEFAULT_MODEL)
    ap.add_argument("--cp", type=int, default=1, help="context-parallel ranks")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--system", default=None, help="system prompt")
    args = ap.parse_args()

    try:
        with ringlm.Engine(args.model, world_size=args.cp) as engine, \
                engine.session(system_prompt=args.system) as session:
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                stream = session.chat(line, max_tokens=args.max_tokens)
                try:
                    for event in stream:
                        if isinstance(event, ringlm.TextEvent):
                            print(event.text, end="", flush=True)
                except KeyboardInterrupt:  # the request is cancelled; keep chatting
                    print(" [cancelled]", end="")
                print()
                resp = stream.response
                if resp is not None:
                    st = resp.stats
                    print(f"[{st.new_tokens} new tokens prefilled, {st.cached_tokens} reused, "
                          f"{st.generated_tokens} generated at {st.decode_tok_s:.1f} tok/s, "
                          f"{st.world_size} rank(s), {resp.finish_reason.value}]", file=sys.stderr)
    except ringlm.Error as e:
        print(f"chat: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
