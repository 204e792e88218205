#!/usr/bin/env python3
"""Opt-in cross-check of the source families added by recipe (Mistral, Qwen2 with q/k/v biases, Qwen3 with per-head
q/k RMSNorm, Llama-3.x with llama3 RoPE scaling and an untied head) against transformers and gguf-py.

For each tiny random model of Tests/RuntimeTests/Fixtures (written by scripts/make_runtime_fixtures.py):
  1. the dense model, loaded by transformers' AutoModelForCausalLM from a Hugging Face directory, reproduces the
     fixture's stored logits (sanity check of the fixture itself, 1e-5);
  2. `moekit upcycle` into each MoE target of the family (mixtral for Mistral and Llama-3, qwen2-moe for Qwen2,
     qwen3-moe for Qwen3) writes a directory that transformers loads with its stock *ForCausalLM class, and whose
     logits equal the dense model's within 1e-4; the manifest says the output is exact by construction
     (renormalising targets: any router; Qwen2-MoE, which does not renormalise the top-k weights: a zero router);
  3. `moekit convert --to gguf` writes a file gguf-py's GGUFReader reads: the architecture, block count and embedding
     length match the config, every tensor is finite, and the norm and embedding tensors equal the HF ones;
  4. when llama-cpp-python is importable (it compiles llama.cpp, ~15 minutes, so it is optional): llama.cpp loads that
     GGUF and the upcycled model converted to GGUF, and both give the dense transformers logits within 1e-4.

usage: crosscheck_families.py MOEKIT_BINARY [FIXTURES_DIR]
Needs torch, transformers, safetensors, numpy and gguf (e.g. a venv at /root/xcheck). Prints one line per check,
exits 1 when any check fails.
"""
import json
import os
import sys
import tempfile

import gguf
try:
    from llama_cpp import Llama
except ImportError:
    Llama = None
import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from transformers import AutoModelForCausalLM
from crosscheck_report import check, failures, finish, moekit

FAMILIES = {
    "tiny_mistral": ["mixtral"],
    "tiny_llama3": ["mixtral"],
    "tiny_qwen2": ["qwen2-moe"],
    "tiny_qwen3": ["qwen3-moe"],
}
# Targets that do not renormalise the top-k weights are exact only with equal router logits.
EXTRA = {"qwen2-moe": ["--router", "zero"]}
TOLERANCE = 1e-4


def dense_directory(fixtures, name, work):
    """config.json (without test_tokens) + model.safetensors (without expected.logits); returns dir, tokens, logits."""
    with open(os.path.join(fixtures, name + ".json")) as f:
        config = json.load(f)
    tokens = config.pop("test_tokens")
    tensors = load_file(os.path.join(fixtures, name + ".safetensors"))
    expected = tensors.pop("expected.logits")
    directory = os.path.join(work, name)
    os.makedirs(directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    return directory, config, tokens, expected, tensors


def logits(directory, tokens):
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    with torch.no_grad():
        out = model(torch.tensor([tokens])).logits[0].numpy()
    return type(model).__name__, out


def llamacpp_logits(path, tokens):
    """llama.cpp's logits for every position of `tokens` (F32 weights and K/V cache, 2 threads)."""
    # F32 K/V cache (type 0 = GGML_TYPE_F32): llama.cpp's default F16 cache alone moves logits by ~1e-3.
    llm = Llama(model_path=path, n_ctx=max(64, len(tokens)), logits_all=True, verbose=False, n_threads=2, type_k=0, type_v=0)
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)])


def llamacpp_check(label, path, tokens, dense):
    ours = llamacpp_logits(path, tokens)
    delta = float(np.abs(ours - dense).max()) if ours.shape == dense.shape else float("inf")
    check(delta <= 1e-4, f"{label}: llama.cpp loads the GGUF and gives the dense logits (max |Δ| = {delta:.2e})")


def gguf_checks(name, path, config, tensors):
    reader = gguf.GGUFReader(path)
    fields = reader.fields

    def value(key):
        field = fields.get(key)
        if field is None:
            return None
        part = field.parts[field.data[0]]
        return bytes(part).decode() if field.types[0] == gguf.GGUFValueType.STRING else part.tolist()[0]

    arch = value("general.architecture")
    check(arch is not None, f"{name}: GGUF general.architecture = {arch}")
    check(value(f"{arch}.block_count") == config["num_hidden_layers"], f"{name}: GGUF {arch}.block_count")
    check(value(f"{arch}.embedding_length") == config["hidden_size"], f"{name}: GGUF {arch}.embedding_length")
    names = [t.name for t in reader.tensors]
    check(len(names) == len(set(names)), f"{name}: GGUF tensor names unique ({len(names)} tensors)")
    finite = all(np.isfinite(np.asarray(t.data, dtype=np.float32)).all() for t in reader.tensors)
    check(finite, f"{name}: every GGUF tensor is finite")
    by_name = {t.name: np.asarray(t.data) for t in reader.tensors}
    pairs = [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight"),
             ("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"),
             ("blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight")]
    for gguf_name, hf_name in pairs:
        ours = by_name.get(gguf_name)
        same = ours is not None and np.array_equal(ours.reshape(-1), tensors[hf_name].astype(np.float32).reshape(-1))
        check(same, f"{name}: GGUF {gguf_name} equals HF {hf_name}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    fixtures = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RuntimeTests", "Fixtures")
    with tempfile.TemporaryDirectory() as work:
        for name, targets in FAMILIES.items():
            try:
                directory, config, tokens, expected, tensors = dense_directory(fixtures, name, work)
                cls, dense = logits(directory, tokens)
                delta = float(np.abs(dense - expected).max())
                check(delta <= 1e-5, f"{name}: transformers {cls} reproduces the fixture logits (max |Δ| = {delta:.2e})")
                for target in targets:
                    out = os.path.join(work, f"{name}-{target}")
                    moekit(binary, "upcycle", directory, out, "--experts", "4", "--top-k", "2", "--target", target,
                           "--format", "safetensors", "--seed", "3", "--dtype", "f32", *EXTRA.get(target, []))
                    with open(os.path.join(out, "moekit-manifest.json")) as f:
                        exact = json.load(f).get("exact_by_construction")
                    check(exact is True, f"{name} → {target}: manifest exact_by_construction = {exact}")
                    moe_cls, moe = logits(out, tokens)
                    delta = float(np.abs(moe - dense).max())
                    check(delta <= TOLERANCE,
                          f"{name} → {target}: transformers {moe_cls} logits equal the dense ones (max |Δ| = {delta:.2e})")
                    if Llama is not None:
                        # Through `convert` of the HF output: the MoE GGUF writer refuses llama3 RoPE scaling.
                        moekit(binary, "convert", out, out + ".gguf", "--dtype", "f32", "--allow-no-vocab")
                        llamacpp_check(f"{name} → {target} GGUF", out + ".gguf", tokens, dense)
                path = os.path.join(work, name + ".gguf")
                moekit(binary, "convert", directory, path, "--to", "gguf", "--dtype", "f32", "--allow-no-vocab")
                gguf_checks(name, path, config, tensors)
                if Llama is not None:
                    llamacpp_check(f"{name} GGUF", path, tokens, dense)
                else:
                    print(f"skip  {name}: llama.cpp checks (llama-cpp-python is not installed)")
            except Exception as error:  # one family failing must not hide the others' results
                check(False, f"{name}: {type(error).__name__}: {error}")
    finish()


if __name__ == "__main__":
    main()
