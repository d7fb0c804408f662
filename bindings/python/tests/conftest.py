"""Shared fixtures: the real default model, one engine per world size."""

import os

import pytest

import ringlm

DEFAULT_MODEL = os.path.expanduser("~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf")

# A three-turn chat whose third turn refers to the first one.
TURNS = ["My cat is called Tom.", "What is 2+2?", "What is my cat called?"]
MAX_TOKENS = 8


def model_path() -> str:
    return os.environ.get("RINGLM_MODEL") or DEFAULT_MODEL


@pytest.fixture(scope="session")
def model():
    path = model_path()
    if not os.path.exists(path):
        pytest.skip(f"model {path} not found (scripts/fetch_model.sh, or set RINGLM_MODEL)")
    return path


def _engine(model, world_size):
    # Two threads per rank keeps several engines from oversubscribing small machines.
    return ringlm.Engine(model, world_size=world_size, threads_per_rank=2)


@pytest.fixture(scope="session")
def engine(model):
    with _engine(model, 1) as e:
        yield e


@pytest.fixture(scope="session")
def engine2(model):
    with _engine(model, 2) as e:
        yield e


def run_chat(engine, turns=TURNS, max_tokens=MAX_TOKENS):
    """Runs `turns` in one new session: [(response, history tokens before the turn)]."""
    out = []
    with engine.session() as s:
        for text in turns:
            before = s.transcript().token_count
            out.append((s.chat(text, max_tokens=max_tokens).result(), before))
    return out
