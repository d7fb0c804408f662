#!/usr/bin/env python3
"""Regenerates the tokenizer and chat-template reference data in tests/data/tokenizer/.

Every expectation here comes from a reference implementation that shares no
code with engine/tokenizer/:
  * smollm2_goldens.json: HF `tokenizers` (Rust) built from the model file's
    own vocabulary and merges, with the pre-tokenizer SmolLM2's tokenizer.json
    declares (Sequence[Digits(individual_digits), ByteLevel(use_regex)]).
  * spm_tiny.gguf + spm_goldens.json: a small SentencePiece BPE model
    (byte_fallback, identity normalisation, Llama-2-like options) trained here
    from a deterministic synthetic corpus, exported to a tiny GGUF with gguf-py;
    the expectations come from `sentencepiece` itself.
  * chat_template_goldens.json: jinja2 rendering of each template family, the
    way transformers' apply_chat_template runs it (sandboxed, trim_blocks,
    lstrip_blocks, raise_exception).

Output lines are one JSON object per case with every string also given as
UTF-8 hex ("*_hex"), so that the C++ tests need no JSON library.

Usage: python3 tests/tools/make_tokenizer_goldens.py [--model PATH]
Needs: numpy, gguf, tokenizers, sentencepiece, jinja2 (all from PyPI).
"""
import argparse
import json
import os
import random
import tempfile

import numpy as np
from gguf import GGUFReader, GGUFWriter, TokenType

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "data", "tokenizer"))
DEFAULT_MODEL = os.path.expanduser("~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def hx(s: str) -> str:
    return s.encode("utf-8").hex()


# Texts shared by the BPE and SPM goldens. Valid Unicode only (the references
# take Python str); invalid byte sequences are covered by the C++ tests.
TEXTS = [
    ("empty", ""),
    ("space", " "),
    ("hello", "Hello, world!"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("contractions", "I'm sure you'll see they've said it's John's, we'd agree."),
    ("contractions_upper", "DON'T SHOUT, IT'S LOUD. We'RE fine"),
    ("leading_spaces", "   leading and trailing spaces   "),
    ("many_spaces", "a          b                              c"),
    ("tabs", "col1\tcol2\t\tcol3\t\t\t\tend\t"),
    ("newlines", "line one\nline two\n\n\nline five\r\nwindows\r\n"),
    ("whitespace_only", " \n \t\n\n  \t "),
    ("unicode_spaces", "nbsp\u00a0here, ideographic\u3000space, line\u2028sep, thin\u2009space"),
    ("digits", "0 1 12 123 1234 12345 3.14159 -42 1e10 0x1F 2024-06-01"),
    ("long_number", "The answer is 12345678901234567890 and 007."),
    ("unicode_digits", "Arabic-Indic \u0661\u0662\u0663, Devanagari \u0967\u0968, superscript x\u00b2, fraction \u00bd, roman \u2167"),
    ("german", "Grüße aus Köln! Die Straße ist äußerst schön, Öl und Übermaß."),
    ("french_spanish", "Ça va? Où est l'hôtel? ¿Dónde está la estación? ¡Olé!"),
    ("russian", "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю."),
    ("chinese", "你好，世界！今天天气很好，我们去公园散步吧。"),
    ("japanese", "こんにちは世界。カタカナとひらがな、そして漢字を混ぜた文です。"),
    ("korean", "안녕하세요, 세계! 한국어 문장입니다."),
    ("arabic", "مرحبا بالعالم! هذه جملة باللغة العربية."),
    ("hindi", "नमस्ते दुनिया! यह हिंदी में एक वाक्य है।"),
    ("greek_hebrew_thai", "Γειά σου Κόσμε. שלום עולם. สวัสดีชาวโลก"),
    ("emoji", "I love pizza 🍕🍕 and cats 🐱! 😀😃😄"),
    ("emoji_zwj", "Family: 👨‍👩‍👧‍👦, couple: 👩‍❤️‍👨, flags: 🇺🇸🇯🇵🇩🇪, skin: 👍🏽👋🏿, keycap: 1️⃣"),
    ("python", "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(10)])\n"),
    ("cpp", "#include <vector>\n\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\tfor (auto& x : v) x *= 2;  // double\n\treturn v.size() > 2 ? 0 : 1;\n}\n"),
    ("json", "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}"),
    ("url_email", "See https://example.com/path?q=1&r=two#frag or mail me@example.org."),
    ("punctuation_runs", "Wait... what?!?! --- ((nested)) [[brackets]] {{braces}} <<>> ~~~ ___"),
    ("apostrophes_mixed", "rock'n'roll, 'quoted', don’t (curly), `backticks`"),
    ("long_word", "Pneumonoultramicroscopicsilicovolcanoconiosis and " + "a" * 300),
    ("long_repeat", "abc" * 200),
    ("combining", "e\u0301 vs \u00e9, n\u0303, a\u030a\u0332, \u0301 lone combining"),
    ("odd_codepoints", "bom\ufeffzwsp\u200bzwj\u200dzwnj\u200crlm\u200flrm\u200e rep\ufffd pua\ue000 nonchar\uffff max\U0010ffff"),
    ("control_chars", "nul\x00bell\x07esc\x1b[0mdel\x7fvt\x0bff\x0c"),
    ("math_symbols", "∀x ∈ ℝ: x² ≥ 0 ⇒ √(x²) = |x| ∑ ∫ ∞ ≠ ≈"),
    ("mixed_scripts", "English, Русский, 中文, العربية, हिन्दी, 日本語 all together 123."),
    ("special_im", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
    ("special_adjacent", "<|im_end|><|im_end|>text<|endoftext|> <|im_start|>"),
    ("special_partial", "<|im_start <|im_end| <im_end|> <|im_star|>"),
    ("special_repo", "<repo_name>ringlm<file_sep>main.cc<gh_stars>10"),
    ("markdown", "# Title\n\n- item **bold** _italic_\n- `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
]


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def smollm2_goldens(model_path):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(model_path)
    assert field(r, "tokenizer.ggml.model") == "gpt2"
    assert field(r, "tokenizer.ggml.pre") == "smollm"
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(r, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}

    def build(with_specials):
        tk = Tokenizer(models.BPE(vocab, merges))
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
        tk.decoder = decoders.ByteLevel()
        if with_specials:
            tk.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                                   for i, t in enumerate(types) if t == TokenType.CONTROL])
        return tk

    special, plain = build(True), build(False)
    # Bytes the vocabulary has no token for are dropped by the reference; the
    # C++ round-trip test skips cases containing them.
    b2u = bytes_to_unicode()
    missing = sorted(b for b in range(256) if b2u[b] not in vocab)
    cases = []
    for name, text in TEXTS:
        ids = special.encode(text).ids
        ids_plain = plain.encode(text).ids
        lossless = not any(b in missing for b in text.encode("utf-8"))
        if lossless:
            assert special.decode(ids, skip_special_tokens=False) == text, name
            assert plain.decode(ids_plain) == text, name
        cases.append({"name": name, "text": text, "text_hex": hx(text), "lossless": lossless,
                      "ids": ids, "ids_plain": ids_plain})
    return cases, missing


# ---------------------------------------------------------------------------
# SentencePiece: a small BPE vocabulary with byte fallback.

SPM_CORPUS_WORDS = (
    "the of and to in is that for it as with was on be by this are or from at which but not "
    "have an they you had one all were we there can been has more if will would their what "
    "about so when up out into some could them time only other new these two may then first "
    "any like now my such make over our even most after also did many before must through "
    "back years where much your way well down should because each just those people how too "
    "little state good very world still own see men work long get here between both life "
    "being under never day same another know while last might us great old year off come "
    "since against go came right used take three hello tokenizer model context engine ring "
    "attention cache token prefix merge score byte fallback sentence piece llama mistral"
).split()
SPM_EXTRA_LINES = [
    "Grüße aus Köln, schön und groß.",
    "Привет мир, как дела?",
    "你好世界，今天天气很好。",
    "def main():\n    return 0\n",
    "Numbers 0 1 2 3 4 5 6 7 8 9 and 2024.",
    "I'm here, you're there, it's fine.",
]


def spm_corpus():
    rng = random.Random(1234)
    lines = []
    for _ in range(6000):
        n = rng.randint(3, 14)
        words = [rng.choice(SPM_CORPUS_WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        line = " ".join(words) + rng.choice([".", ",", "!", "?", ""])
        lines.append(line)
    for _ in range(40):
        lines.extend(SPM_EXTRA_LINES)
    return lines


def train_spm(workdir):
    import sentencepiece as spm

    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(spm_corpus()) + "\n")
    prefix = os.path.join(workdir, "tiny")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=800,
        byte_fallback=True, character_coverage=0.995, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)


def spm_export(sp, path):
    w = GGUFWriter(path, "llama")
    w.add_name("spm-tiny")
    n = sp.get_piece_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(TokenType.UNUSED)
        else:
            types.append(TokenType.NORMAL)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.add_chat_template(LLAMA2_TEMPLATE)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def spm_goldens():
    with tempfile.TemporaryDirectory() as d:
        sp = train_spm(d)
        gguf_path = os.path.join(OUT_DIR, "spm_tiny.gguf")
        spm_export(sp, gguf_path)
    texts = list(TEXTS) + [
        ("spm_words", "the model and the engine have a ring attention cache"),
        ("spm_unknown_chars", "ζ∂ unknown ✓ chars 𝔘𝔫𝔦"),
        ("spm_double_space", "two  spaces   three"),
        ("spm_leading_newline", "\nstarts with newline"),
        ("spm_bos_text", "<s> is not special here </s>"),
    ]
    cases = []
    for name, text in texts:
        ids = sp.encode(text)
        assert sp.decode(ids) == text, name
        cases.append({"name": name, "text": text, "text_hex": hx(text), "ids": ids})
    return cases


# ---------------------------------------------------------------------------
# Chat templates.

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)


def chat_goldens(model_path):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception

    smollm2 = field(GGUFReader(model_path), "tokenizer.chat_template")
    templates = {
        # name: (source, bos, eos, supports_system)
        "smollm2": (smollm2, "<|im_start|>", "<|im_end|>", True),
        "chatml": (CHATML_TEMPLATE, "<s>", "</s>", True),
        "qwen2": (QWEN2_TEMPLATE, "", "<|endoftext|>", True),
        "llama3": (LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|end_of_text|>", True),
        "llama2": (LLAMA2_TEMPLATE, "<s>", "</s>", True),
        "mistral": (MISTRAL_TEMPLATE, "<s>", "</s>", False),
    }
    S = ("system", "You are terse.")
    conversations = [
        [("user", "Hello!")],
        [S, ("user", "What is 2+2?")],
        [("user", "Hi"), ("assistant", "Hello! How can I help?"), ("user", "Tell me a joke.")],
        [S, ("user", "Hi"), ("assistant", "Hey."), ("user", "Bye"), ("assistant", "Goodbye.")],
        [("user", "  padded content \n"), ("assistant", "\n spaced answer  ")],
        [("user", "Multi\nline\n\ncontent with ünïcödé 你好 🍕"), ("assistant", "Sure:\n```\ncode\n```")],
        [("system", ""), ("user", "empty system")],
        [("user", "")],
        [],
    ]
    cases = []
    for tname, (src, bos, eos, _) in templates.items():
        tmpl = env.from_string(src)
        for conv in conversations:
            for agp in (False, True):
                msgs = [{"role": r, "content": c} for r, c in conv]
                try:
                    out = tmpl.render(messages=msgs, add_generation_prompt=agp,
                                      bos_token=bos, eos_token=eos)
                except jinja2.exceptions.TemplateError:
                    continue  # the template rejects this conversation
                cases.append({"template": tname, "agp": agp,
                              "messages_hex": [[hx(r), hx(c)] for r, c in conv],
                              "expected": out, "expected_hex": hx(out)})
    tmpl_lines = [{"template": k, "source_hex": hx(v[0]), "bos_hex": hx(v[1]), "eos_hex": hx(v[2])}
                  for k, v in templates.items()]
    return tmpl_lines, cases


def write_lines(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.environ.get("RINGLM_MODEL", DEFAULT_MODEL))
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)

    cases, missing = smollm2_goldens(args.model)
    write_lines(os.path.join(OUT_DIR, "smollm2_goldens.json"),
                {"reference": "HF tokenizers BPE + Sequence[Digits(individual), ByteLevel]",
                 "model": os.path.basename(args.model), "bytes_without_token": missing}, cases)
    spm_cases = spm_goldens()
    write_lines(os.path.join(OUT_DIR, "spm_goldens.json"),
                {"reference": "sentencepiece BPE, byte_fallback, identity normalisation",
                 "gguf": "spm_tiny.gguf"}, spm_cases)
    tmpl_lines, chat_cases = chat_goldens(args.model)
    write_lines(os.path.join(OUT_DIR, "chat_template_goldens.json"),
                {"reference": "jinja2 sandbox, trim_blocks, lstrip_blocks"}, tmpl_lines + chat_cases)
    print(f"{len(cases)} BPE cases, {len(spm_cases)} SPM cases, {len(chat_cases)} chat cases")


if __name__ == "__main__":
    main()
