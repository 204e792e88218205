#!/usr/bin/env python3
"""Writes the golden fixtures of Tests/RuntimeTests/Fixtures: tiny models with known logits.

For each model: NAME.safetensors (the checkpoint's tensors under Hugging Face names, exactly as
`save_pretrained` writes them, plus `expected.logits` [T, vocab] F32) and NAME.json (the HF config.json plus
`test_tokens`, the input ids).

Oracles:
  * tiny_llama: an independent float64 numpy implementation of the LLaMA forward pass (written from the paper /
    HF semantics, no transformers code) AND transformers' LlamaForCausalLM on the same weights; the script asserts
    the two agree to 1e-5 and stores the numpy logits.
  * tiny_mistral, tiny_qwen2 (q/k/v biases, tied), tiny_qwen3 (per-head q/k RMSNorm, head_dim != hidden/heads),
    tiny_llama3 (llama3 RoPE scaling, untied head, GQA 4:1): the source families added by recipe only (plus
    Qwen3's per-head norm), transformers' own *ForCausalLM in float32.
  * tiny_llama_rope3 (llama3 RoPE scaling, tied), tiny_llama_linear (linear RoPE scaling, attention biases),
    tiny_mixtral, tiny_qwen2_moe, tiny_olmoe (QK norms, no renormalisation): transformers' own
    *ForCausalLM in float32 (loaded back from the saved checkpoint, so legacy per-expert names are what is read).

Run with the cross-check venv:  /root/xcheck/bin/python scripts/make_runtime_fixtures.py
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from transformers import (LlamaConfig, LlamaForCausalLM, MixtralConfig, MixtralForCausalLM, OlmoeConfig,
                          OlmoeForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM, AutoModelForCausalLM,
                          MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RuntimeTests", "Fixtures")
TOKENS = [1, 5, 3, 9, 0, 10, 2, 7, 4]
# Fixture names to write (command-line arguments); all when empty. Re-running all rewrites every fixture.
ONLY = set(sys.argv[1:])


def numpy_llama(sd, cfg, tokens):
    """Reference LLaMA forward in float64: RMSNorm, rotate-half RoPE, GQA causal attention, SwiGLU."""
    f = lambda n: sd[n].astype(np.float64)
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // H
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    T = len(tokens)

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.outer(np.arange(T), inv)                      # [T, hd/2]
    cos = np.concatenate([np.cos(ang)] * 2, -1)            # [T, hd]
    sin = np.concatenate([np.sin(ang)] * 2, -1)

    def rope(x):                                           # x [T, n, hd]
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        rot = np.concatenate([-x2, x1], -1)
        return x * cos[:, None, :] + rot * sin[:, None, :]

    x = f("model.embed_tokens.weight")[tokens]             # [T, d]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, f(p + "input_layernorm.weight"))
        q = (h @ f(p + "self_attn.q_proj.weight").T).reshape(T, H, hd)
        k = (h @ f(p + "self_attn.k_proj.weight").T).reshape(T, Hkv, hd)
        v = (h @ f(p + "self_attn.v_proj.weight").T).reshape(T, Hkv, hd)
        q, k = rope(q), rope(k)
        out = np.zeros((T, H, hd))
        for head in range(H):
            g = head // (H // Hkv)
            s = q[:, head] @ k[:, g].T / np.sqrt(hd)
            s = s + np.triu(np.full((T, T), -np.inf), 1)
            pr = np.exp(s - s.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            out[:, head] = pr @ v[:, g]
        x = x + out.reshape(T, d) @ f(p + "self_attn.o_proj.weight").T
        h = rms(x, f(p + "post_attention_layernorm.weight"))
        g = h @ f(p + "mlp.gate_proj.weight").T
        u = h @ f(p + "mlp.up_proj.weight").T
        x = x + (g / (1 + np.exp(-g)) * u) @ f(p + "mlp.down_proj.weight").T
    x = rms(x, f("model.norm.weight"))
    head = f("lm_head.weight") if "lm_head.weight" in sd else f("model.embed_tokens.weight")
    return x @ head.T


def emit(name, model, extra_check=None):
    if ONLY and name not in ONLY:
        return
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        sd = load_file(os.path.join(tmp, "model.safetensors"))
        config = json.load(open(os.path.join(tmp, "config.json")))
        reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)
        reloaded.eval()
        with torch.no_grad():
            logits = reloaded(torch.tensor([TOKENS])).logits[0].numpy().astype(np.float32)
    if extra_check is not None:
        logits = extra_check(sd, config, logits)
    sd = {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in sd.items()}
    sd["expected.logits"] = np.ascontiguousarray(logits.astype(np.float32))
    save_file(sd, os.path.join(OUT, name + ".safetensors"), metadata={"format": "pt"})
    config["test_tokens"] = TOKENS
    with open(os.path.join(OUT, name + ".json"), "w") as fh:
        json.dump(config, fh, indent=1, sort_keys=True)
    print(name, "tensors:", len(sd) - 1, "logits", logits.shape, "max |logit|", float(np.abs(logits).max()))


def scale_init(model, std):
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def main():
    os.makedirs(OUT, exist_ok=True)
    common = dict(hidden_size=8, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                  vocab_size=11, max_position_embeddings=64, rms_norm_eps=1e-5)

    # 1. Dense LLaMA, untied, checked against numpy too.
    torch.manual_seed(0)
    cfg = LlamaConfig(intermediate_size=16, rope_theta=10000.0, tie_word_embeddings=False, **common)
    model = LlamaForCausalLM(cfg)
    scale_init(model, 0.3)

    def check_numpy(sd, config, logits):
        cfgd = dict(config)
        cfgd.setdefault("rope_theta", (config.get("rope_parameters") or {}).get("rope_theta", 10000.0))
        ref = numpy_llama(sd, cfgd, TOKENS)
        diff = float(np.abs(ref - logits).max())
        print("tiny_llama: numpy vs transformers max |diff| =", diff)
        assert diff < 1e-5, diff
        return ref.astype(np.float32)

    emit("tiny_llama", model, check_numpy)

    # 2. LLaMA with llama3 RoPE scaling and tied embeddings.
    torch.manual_seed(1)
    cfg = LlamaConfig(intermediate_size=16, tie_word_embeddings=True,
                      rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 8}, **common)
    model = LlamaForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_llama_rope3", model)

    # 3. Mixtral-style MoE: 4 experts, top-2, renormalised.
    torch.manual_seed(2)
    cfg = MixtralConfig(intermediate_size=12, num_local_experts=4, num_experts_per_tok=2, rope_theta=10000.0,
                        tie_word_embeddings=False, sliding_window=None, **common)
    model = MixtralForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_mixtral", model)

    # 4. Qwen2-MoE: 4 experts top-2 without renormalisation, gated shared expert, q/k/v biases, layer 1 dense.
    torch.manual_seed(3)
    cfg = Qwen2MoeConfig(intermediate_size=16, moe_intermediate_size=8, shared_expert_intermediate_size=12,
                         num_experts=4, num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1,
                         mlp_only_layers=[1], rope_theta=10000.0, tie_word_embeddings=False,
                         use_sliding_window=False, **common)
    model = Qwen2MoeForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_qwen2_moe", model)

    # 5. LLaMA with linear RoPE scaling and attention biases.
    torch.manual_seed(4)
    cfg = LlamaConfig(intermediate_size=16, tie_word_embeddings=False, attention_bias=True,
                      rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}, **common)
    model = LlamaForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_llama_linear", model)

    # 6. OLMoE: q/k RMSNorm over the whole projection, softmax → top-2 of 4 without renormalisation.
    torch.manual_seed(5)
    cfg = OlmoeConfig(intermediate_size=8, num_experts=4, num_experts_per_tok=2, norm_topk_prob=False,
                      rope_theta=10000.0, tie_word_embeddings=False, **common)
    model = OlmoeForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_olmoe", model)

    # 7. Mistral (a recipe file only): GQA, sliding window longer than the test.
    torch.manual_seed(6)
    cfg = MistralConfig(intermediate_size=16, rope_theta=10000.0, tie_word_embeddings=False, sliding_window=32,
                        **common)
    model = MistralForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_mistral", model)

    # 8. Qwen2 / Qwen2.5: q/k/v biases, tied embeddings.
    torch.manual_seed(7)
    cfg = Qwen2Config(intermediate_size=16, rope_theta=1000000.0, tie_word_embeddings=True,
                      use_sliding_window=False, **common)
    model = Qwen2ForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_qwen2", model)

    # 9. Qwen3: per-head q/k RMSNorm, explicit head_dim (6) unlike hidden/heads (4), no biases.
    torch.manual_seed(8)
    cfg = Qwen3Config(intermediate_size=16, head_dim=6, rope_theta=1000000.0, tie_word_embeddings=False,
                      attention_bias=False, use_sliding_window=False, **common)
    model = Qwen3ForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_qwen3", model)

    # 10. Llama-3.x: llama3 RoPE scaling, untied LM head, 4 query heads per KV head.
    torch.manual_seed(9)
    llama3 = dict(common, num_attention_heads=4, num_key_value_heads=1, vocab_size=300)
    cfg = LlamaConfig(intermediate_size=16, tie_word_embeddings=False,
                      rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 8}, **llama3)
    model = LlamaForCausalLM(cfg)
    scale_init(model, 0.3)
    emit("tiny_llama3", model)


if __name__ == "__main__":
    sys.exit(main())
