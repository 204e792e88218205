#!/usr/bin/env python3
"""Opt-in cross-check of moekit's LLaMA-MoE output against transformers, through the modelling code moekit ships
(Converters/remote-code/llama_moe/) and writes into every llama-moe directory.

For two tiny random dense LLaMA models built here with transformers (GQA with tied embeddings; MQA with head_dim ≠
hidden/heads, rope_theta 500000, llama3 RoPE scaling and an untied head), each with a byte-level BPE tokenizer:
  0. moekit's logits of the dense model equal transformers' LlamaForCausalLM ones (fixture sanity);
  1. `moekit split --target llama-moe` (random and clustering, rescale none / n-over-k / per layer from a plan /
     exact with multiply_gate_scores false), `moekit upcycle --target llama-moe`, and two hand-made LLaMA-MoE
     directories that the CLI cannot produce (unequal expert widths, score_scale_factor per layer, gate_network
     linear, gate_use_softmax false) passed through `moekit convert` HF → HF: every output holds
     configuration_llama_moe.py and modeling_llama_moe.py byte-identical to the shipped ones and config.json's
     auto_map equal to the recipe's;
  2. `AutoModelForCausalLM.from_pretrained(OUT, trust_remote_code=True)` loads it and its logits equal
     `moekit logits` on the same tokens within 1e-4 (max |Δ|); the exact split also equals the dense logits;
  3. for one output: KV-cache decoding equals the full forward, greedy `generate` equals a greedy loop over full
     forwards, and a training-mode forward with labels gives a finite loss and balance loss and gradients.
With --smollm2 GGUF: `moekit split GGUF --experts 8 --top-k 2 --target llama-moe --dtype f32` and the same logits
comparison on a short prompt (max |Δ| reported; must be ≤ 1e-3).

usage: crosscheck_llama_moe.py MOEKIT_BINARY [--smollm2 GGUF [--skip-tiny]] [--keep DIR]
Needs torch, transformers (4.4x or 5.x), safetensors and numpy (e.g. the venv at /root/xcheck). Prints one line per
check and "N failure(s)"; exits 1 when any check fails.
"""
import argparse
import json
import os
import shutil
import tempfile

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file, save_file
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from crosscheck_report import check, failures, finish, moekit

TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])
# from_pretrained's dtype argument: `dtype` from transformers 5, `torch_dtype` before.
DTYPE_ARGUMENT = "dtype" if TRANSFORMERS_MAJOR >= 5 else "torch_dtype"

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RECIPE = os.path.join(REPO, "Converters", "llama-moe.json")
TOLERANCE = 1e-4
SMOLLM2_TOLERANCE = 1e-3
TEXT = "the theory of heat: the engine turns the heat into the motion of the wheel, then the wheel"


def write_tokenizer(directory):
    """Byte-level BPE: 256 byte tokens (GPT-2 alphabet), merges "Ġ t" → 256 and "h e" → 257, <s> 258, </s> 259."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    codes, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    alphabet = {b: chr(c) for b, c in zip(printable, codes)}
    vocab = {alphabet[b]: b for b in range(256)}
    vocab.update({"Ġt": 256, "he": 257, "<s>": 258, "</s>": 259})
    special = lambda i, c: {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True}
    level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(258, "<s>"), special(259, "</s>")], "normalizer": None,
        "pre_tokenizer": level, "post_processor": level, "decoder": level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": ["Ġ t", "h e"]},
    }
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": False}, f)


DENSE = {
    "tiny_gqa": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, tie_word_embeddings=True, rope={"rope_type": "default", "rope_theta": 10000.0}),
    "tiny_mqa_llama3": dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                            num_key_value_heads=1, head_dim=16, tie_word_embeddings=False,
                            rope={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
}


def dense_model(work, name, seed):
    """A random LlamaForCausalLM (weights N(0, 0.1), norms 1 + N(0, 0.01)) saved with the tokenizer."""
    spec = dict(DENSE[name])
    rope = spec.pop("rope")
    common = dict(vocab_size=260, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=258, eos_token_id=259)
    if TRANSFORMERS_MAJOR >= 5:
        config = LlamaConfig(**spec, **common, rope_parameters=rope)
    else:
        scaling = {k: v for k, v in rope.items() if k != "rope_theta"} if rope["rope_type"] != "default" else None
        config = LlamaConfig(**spec, **common, rope_theta=rope["rope_theta"], rope_scaling=scaling)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.1)
            else:
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
    directory = os.path.join(work, name)
    model.save_pretrained(directory, safe_serialization=True)
    write_tokenizer(directory)
    return directory


def moekit_logits(binary, directory):
    """(tokens [T], logits [T, V]) of `moekit logits` on TEXT."""
    path = directory.rstrip("/") + ".logits.safetensors"
    moekit(binary, "logits", directory, "--text", TEXT, "--out", path, "--force")
    values = load_file(path)
    return values["tokens"].astype(np.int64), values["logits"]


def transformers_logits(directory, tokens, remote):
    model = AutoModelForCausalLM.from_pretrained(directory, trust_remote_code=remote, **{DTYPE_ARGUMENT: torch.float32}).eval()
    with torch.no_grad():
        out = model(torch.tensor(tokens)[None]).logits[0].numpy()
    return model, out


def shipped_files():
    with open(RECIPE) as f:
        recipe = json.load(f)["remote_code"]
    files = {}
    for relative in recipe["files"]:
        with open(os.path.join(os.path.dirname(RECIPE), relative), "rb") as f:
            files[os.path.basename(relative)] = f.read()
    return files, recipe["auto_map"]


def check_files(label, directory):
    files, auto_map = shipped_files()
    for name, data in files.items():
        path = os.path.join(directory, name)
        same = os.path.exists(path) and open(path, "rb").read() == data
        check(same, f"{label}: {name} is the shipped file")
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    check(config.get("auto_map") == auto_map, f"{label}: config.json auto_map = the recipe's")


def compare(binary, label, directory, dense=None, tolerance=TOLERANCE, detail=""):
    """Checks the files, then transformers (remote code) vs moekit logits; returns (model, tokens, max |Δ|)."""
    check_files(label, directory)
    tokens, ours = moekit_logits(binary, directory)
    model, theirs = transformers_logits(directory, tokens, remote=True)
    delta = float(np.abs(theirs - ours).max())
    scale = float(np.abs(ours).max())
    check(delta <= tolerance,
          f"{label}: transformers {type(model).__name__} logits = moekit's (max |Δ| = {delta:.2e}, max |logit| {scale:.2f}, "
          f"{len(tokens)} tokens){detail}")
    if dense is not None:
        exact = float(np.abs(theirs - dense).max())
        check(exact <= tolerance, f"{label}: equals the dense model (max |Δ| = {exact:.2e})")
    return model, tokens, delta


def handmade(work, source, name, widths, scales, gate_network, softmax):
    """A LLaMA-MoE directory the CLI cannot write, from moekit's split `source`: each layer's experts re-cut to
    `widths` (the layer's neurons in expert order, so the union is unchanged), score_scale_factor `scales` (one per
    layer), gate_network "linear" (W2·tanh(W1·x) replaced by its first layer) or "mlp", gate_use_softmax `softmax`.
    No remote code or auto_map: `moekit convert` must add them."""
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    tensors = load_file(os.path.join(source, "model.safetensors"))
    E, L = config["num_experts"], config["num_hidden_layers"]
    assert sum(widths) == sum(config["size_experts"][0])
    out = {}
    for key, value in tensors.items():
        if ".mlp.calculator.experts." in key:
            continue
        if gate_network == "linear" and ".mlp.gate.gate_network.2." in key:
            continue
        if gate_network == "linear" and ".mlp.gate.gate_network.0." in key:
            key = key.replace("gate_network.0.", "gate_network.")
        out[key] = value
    for layer in range(L):
        prefix = f"model.layers.{layer}.mlp.calculator.experts."
        gate = np.concatenate([tensors[f"{prefix}weight_gate.{e}"] for e in range(E)], 0)
        up = np.concatenate([tensors[f"{prefix}weight_up.{e}"] for e in range(E)], 0)
        down = np.concatenate([tensors[f"{prefix}weight_down.{e}"] for e in range(E)], 1)
        start = 0
        for e, width in enumerate(widths):
            out[f"{prefix}weight_gate.{e}"] = np.ascontiguousarray(gate[start:start + width])
            out[f"{prefix}weight_up.{e}"] = np.ascontiguousarray(up[start:start + width])
            out[f"{prefix}weight_down.{e}"] = np.ascontiguousarray(down[:, start:start + width])
            start += width
    config.pop("auto_map", None)
    config.update(size_experts=[list(widths)] * L, score_scale_factor=scales, gate_network=gate_network,
                  gates=gate_network, gate_use_softmax=softmax)
    directory = os.path.join(work, name + "-src")
    os.makedirs(directory)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(source, file), directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file(out, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    return directory


def behaviour_checks(label, model, tokens):
    """KV cache ≡ full forward; greedy generate ≡ greedy loop; a training step runs with a balance loss."""
    ids = torch.tensor(tokens)[None]
    with torch.no_grad():
        full = model(ids).logits[0]
        split = len(tokens) // 2
        first = model(ids[:, :split], use_cache=True)
        cache = getattr(first, "cache", None) or getattr(first, "past_key_values", None)
        second = model(ids[:, split:], past_key_values=cache, use_cache=True)
        incremental = torch.cat([first.logits[0], second.logits[0]])
    delta = float((incremental - full).abs().max())
    check(delta <= 1e-5, f"{label}: KV-cache decoding = full forward (max |Δ| = {delta:.2e})")
    prompt = ids[:, :6]
    generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=5, do_sample=False,
                               pad_token_id=259)
    loop = prompt
    with torch.no_grad():
        for _ in range(5):
            loop = torch.cat([loop, model(loop).logits[:, -1].argmax(-1, keepdim=True)], 1)
    check(generated.tolist() == loop.tolist(), f"{label}: greedy generate = greedy full forwards {generated.tolist()[0][6:]}")
    model.train()
    torch.manual_seed(0)
    out = model(ids, labels=ids)
    out.loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "gate_network" in n]
    ok = (torch.isfinite(out.loss).item() and out.balance_loss is not None and torch.isfinite(out.balance_loss).item()
          and all(g is not None and torch.isfinite(g).all().item() for g in grads))
    check(ok, f"{label}: training forward: loss {out.loss.item():.4f} incl. balance loss {out.balance_loss.item():.2e}, "
              f"router gradients finite")
    model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("moekit")
    parser.add_argument("--smollm2", help="SmolLM2-135M-Instruct GGUF: also split it 8×top-2 and compare")
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--skip-tiny", action="store_true", help="only the SmolLM2 check")
    args = parser.parse_args()
    binary = os.path.abspath(args.moekit)
    work = args.keep or tempfile.mkdtemp(prefix="moekit-llama-moe-")
    os.makedirs(work, exist_ok=True)
    try:
        for seed, name in enumerate([] if args.skip_tiny else DENSE):
            try:
                dense_dir = dense_model(work, name, seed)
                tokens, dense_ours = moekit_logits(binary, dense_dir)
                _, dense_theirs = transformers_logits(dense_dir, tokens, remote=False)
                delta = float(np.abs(dense_theirs - dense_ours).max())
                check(delta <= TOLERANCE, f"{name}: moekit = transformers LlamaForCausalLM on the dense model (max |Δ| = {delta:.2e})")
                layers = DENSE[name]["num_hidden_layers"]
                plan = os.path.join(work, name + "-plan.json")
                with open(plan, "w") as f:
                    json.dump({"operation": "split", "layers": [{"layers": [0], "rescale": "n-over-k"}]}, f)
                runs = {
                    "split-random": ["split", dense_dir, None, "--experts", "4", "--top-k", "2", "--method", "random"],
                    "split-clustering-n-over-k": ["split", dense_dir, None, "--experts", "4", "--top-k", "2",
                                                  "--method", "clustering", "--rescale", "n-over-k"],
                    "split-plan-per-layer-scale": ["split", "--plan", plan, dense_dir, None, "--experts", "4",
                                                   "--top-k", "2", "--method", "random"],
                    "split-exact": ["split", dense_dir, None, "--experts", "4", "--top-k", "4", "--rescale", "exact",
                                    "--router", "zero"],
                    "upcycle": ["upcycle", dense_dir, None, "--experts", "4", "--top-k", "2"],
                }
                outputs = {}
                for label, command in runs.items():
                    out = os.path.join(work, f"{name}-{label}")
                    command = [out if part is None else part for part in command]
                    moekit(binary, *command, "--target", "llama-moe", "--seed", "5", "--dtype", "f32", "--force")
                    outputs[label] = out
                    with open(os.path.join(out, "config.json")) as f:
                        config = json.load(f)
                    detail = "".join(f", {k} {config.get(k)}" for k in ("score_scale_factor", "multiply_gate_scores"))
                    model, tokens, _ = compare(binary, f"{name} {label}", out, detail=detail,
                                               dense=dense_ours if label in ("split-exact", "upcycle") else None)
                    if label == "split-plan-per-layer-scale":
                        scales = config["score_scale_factor"]
                        check(isinstance(scales, list) and len(set(scales)) > 1,
                              f"{name} {label}: score_scale_factor is one per layer ({scales})")
                    if label == "split-exact":
                        check(config["multiply_gate_scores"] is False, f"{name} {label}: multiply_gate_scores false")
                    if name == "tiny_gqa" and label == "split-random":
                        behaviour_checks(f"{name} {label}", model, tokens)
                width = DENSE[name]["intermediate_size"]
                quarter = width // 4
                variants = {
                    "unequal-mlp-scale-list": ([quarter - 8, quarter + 8, quarter - 4, quarter + 4],
                                               [1.5 + 0.25 * l for l in range(layers)], "mlp", True),
                    "unequal-linear-raw-logits": ([quarter + 12, quarter - 12, quarter, quarter], 0.5, "linear", False),
                }
                for label, (widths, scales, gate, softmax) in variants.items():
                    source = handmade(work, outputs["split-random"], f"{name}-{label}", widths, scales, gate, softmax)
                    out = os.path.join(work, f"{name}-{label}")
                    moekit(binary, "convert", source, out, "--dtype", "f32", "--force")
                    compare(binary, f"{name} {label}", out, detail=f" (moekit convert of a hand-made LLaMA-MoE: size_experts "
                            f"{widths}, score_scale_factor {scales}, gate_network {gate}, gate_use_softmax {softmax})")
            except Exception as error:  # one model failing must not hide the others' results
                check(False, f"{name}: {type(error).__name__}: {error}")
        if args.smollm2:
            try:
                out = os.path.join(work, "smollm2-llama-moe-8x2")
                moekit(binary, "split", args.smollm2, out, "--experts", "8", "--top-k", "2", "--method", "random",
                       "--target", "llama-moe", "--seed", "7", "--dtype", "f32", "--force")
                compare(binary, "SmolLM2-135M split 8×top-2 llama-moe", out, tolerance=SMOLLM2_TOLERANCE)
            except Exception as error:
                check(False, f"SmolLM2: {type(error).__name__}: {error}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
