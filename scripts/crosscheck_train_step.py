#!/usr/bin/env python3
"""Opt-in cross-check of one `moekit train` step against PyTorch autograd on transformers' own MoE classes.

For each of three tiny random models built with transformers' classes —
  * MixtralForCausalLM   (softmax → top-2, renormalised; tied embeddings),
  * OlmoeForCausalLM     (softmax → top-2, not renormalised; q_norm/k_norm over the whole projections),
  * Qwen2MoeForCausalLM  (softmax → top-2, not renormalised; q/k/v biases; shared expert with its sigmoid gate;
                          one dense layer through `mlp_only_layers`)
— saved as a Hugging Face directory (config.json + model.safetensors, float32), with a batch file (safetensors,
tensor `tokens`, int32 [B, T+1]), this runs

    moekit train --model DIR --out RUN --batch-file F --optimizer sgd --lr 1 --steps 1 --clip 0 --weight-decay 0
                 --lb-coef A --lb-style hf --z-coef 0 --batch B --recipes REPO/Converters

for A = 0 and A = 0.1 and compares RUN/final/model.safetensors with old − grad, grad from PyTorch autograd of
transformers' own training loss on inputs tokens[:, :T] with targets tokens[:, 1:]:

    loss = CE averaged over all B·T targets + A · load_balancing_loss_func(router_logits, E, K)

(`output_router_logits=True`, `router_aux_loss_coef=A`: modeling_mixtral.py / modeling_olmoe.py /
modeling_qwen2_moe.py `*ForCausalLM.forward` add `router_aux_loss_coef * aux_loss` to `loss` when labels are given;
the targets are passed as `shift_labels` so that `ForCausalLMLoss` (loss/loss_utils.py) does not shift them again
and all B·T positions predict a token). The script also recomputes CE and the aux loss itself from the returned
logits and router logits and checks that transformers' loss equals CE + A·aux (within 1e-6: float32 rounding, see
below), so the reference is what the modeling files say it is. The aux loss sees exactly the B·T input rows, which is moekit's convention (router
statistics count only the rows that predict a token, docs/training.md).

The reference runs in float64 (the float32 weights cast up, eager experts loop), so the differences measure
moekit's float32 arithmetic — except where transformers itself casts to float32 even in a float64 model: the CE
(loss/loss_utils.py `ForCausalLMLoss`, `logits.float()`), the router softmax (`router_logits.float()`) and the
aux statistics (float32 sums in `load_balancing_loss_func`); those add ~1e-7 relative noise to the reference.
The models have no padding token (`pad_token_id=None`): with one, transformers' `nn.Embedding(padding_idx=…)` gives
the pad row a zero gradient while moekit trains every row (a convention difference, see docs/training.md).
Pass criterion, per tensor:  max |new_moekit − (old − grad)| ≤ 1e-5 · max |grad| + ulp32(max |old|).
  * 1e-5: the gradients are float32 sums over at most B·T = 24 rows and reductions of width ≤ V = 96 (unit roundoff
    6e-8, so a few hundred roundings of error growth stay below 1e-5 of the largest entry); measured: ≤ 3.3e-6 on
    every non-expert tensor kind.
  * ulp32(max |old|): moekit writes new = old − grad rounded to float32, so reading grad back through the weights
    costs up to half an ulp of the weight (norm weights near 1 have ulp 1.2e-7 while their gradients can be small).
The script also prints max |Δ| / max |grad| per tensor kind, and checks that the A = 0.1 run's router gradients
differ from the A = 0 run's by far more than the tolerance (so the aux-loss path is really being compared), and
that no token's top-k choice is within 1e-4 of a tie (float32 and float64 would then route differently).

usage: crosscheck_train_step.py MOEKIT_BINARY [REPO_ROOT]
Needs torch, transformers, safetensors, numpy (e.g. a venv at /root/xcheck); normally run through
    MOEKIT_TRAIN_XCHECK_PYTHON=/root/xcheck/bin/python swift test -c release --filter TrainStepCrossCheck
Prints one line per check, exits 1 when any check fails.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

import transformers
from transformers import MixtralConfig, MixtralForCausalLM, OlmoeConfig, OlmoeForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM
from crosscheck_report import check, failures, finish

B, T = 3, 8          # 3 rows of T + 1 = 9 tokens: B·T = 24 predicted positions
VOCAB = 96
RELATIVE_TOLERANCE = 1e-5
TIE_MARGIN = 1e-4
COEFFICIENTS = [0.0, 0.1]


def common(**extra):
    return dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.1,
                attention_dropout=0.0, use_cache=False, bos_token_id=1, eos_token_id=2,
                # No padding token: transformers builds `nn.Embedding(vocab, hidden, padding_idx=pad_token_id)`
                # (modeling_mixtral.py / modeling_olmoe.py / modeling_qwen2_moe.py `*Model.__init__`), whose pad row
                # never receives a gradient, while moekit trains every embedding row. OLMoE's config defaults to
                # pad_token_id 1, which would make row 1 differ whenever token 1 is in the batch.
                pad_token_id=None, **extra)


def models():
    """(name, class, config) of the three tiny models."""
    return [
        ("mixtral", MixtralForCausalLM, MixtralConfig(**common(
            intermediate_size=24, num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=True,
            sliding_window=None, router_jitter_noise=0.0))),
        ("olmoe", OlmoeForCausalLM, OlmoeConfig(**common(
            intermediate_size=20, num_experts=4, num_experts_per_tok=2, norm_topk_prob=False, tie_word_embeddings=False,
            clip_qkv=None))),
        ("qwen2-moe", Qwen2MoeForCausalLM, Qwen2MoeConfig(**dict(common(
            intermediate_size=40, moe_intermediate_size=16, shared_expert_intermediate_size=28, num_experts=4,
            num_experts_per_tok=2, norm_topk_prob=False, tie_word_embeddings=False, decoder_sparse_step=1,
            use_sliding_window=False, sliding_window=None), num_hidden_layers=3, mlp_only_layers=[1]))),
    ]


def randomise(model, generator):
    """Every parameter random: norm weights around 1, routers at std 0.3 (router logits of std ≈ 1.7: neither
    saturated nor near-uniform, so the top-k choices are far from ties)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=generator, dtype=torch.float64))
            elif re.search(r"\.gate\.weight$", name):
                p.copy_(0.3 * torch.randn(p.shape, generator=generator, dtype=torch.float64))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=generator, dtype=torch.float64))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=generator, dtype=torch.float64))


def checkpoint_tensors(model, directory):
    """The model's tensors under its checkpoint names, as save_pretrained writes them (transformers applies its own
    name/layout conversions on save, e.g. v5's fused experts back to per-expert tensors)."""
    model.save_pretrained(directory, safe_serialization=True)
    tensors = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(directory, name)))
    return tensors


def write_hf_directory(model, directory):
    """config.json + one float32 model.safetensors. rope_theta is written at the top level too (transformers v5
    keeps it in rope_parameters), so every reader sees the same RoPE base."""
    tensors = {k: v.astype(np.float32) for k, v in checkpoint_tensors(model, directory).items()}
    for name in os.listdir(directory):
        if name.endswith(".safetensors") or name.endswith(".json") and "index" in name:
            os.remove(os.path.join(directory, name))
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    rope = config.get("rope_parameters") or {}
    config.setdefault("rope_theta", rope.get("rope_theta", model.config.to_dict().get("rope_theta", 10000.0)))
    config["torch_dtype"] = "float32"
    config = {k: v for k, v in config.items() if not (k == "head_dim" and v is None)}  # None means hidden/heads
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return tensors


def kind(name):
    """A tensor's kind for the report: its name without layer and expert indices."""
    return re.sub(r"\.\d+\.", ".N.", re.sub(r"\.\d+\.", ".N.", name))


def reference(model_class, directory, tokens, coefficient, name):
    """transformers' loss and its gradient (float64), as checkpoint-named numpy arrays."""
    # float64 needs the eager experts loop (integrations/moe.py: grouped_mm takes float32/bf16/f16 only).
    model = model_class.from_pretrained(directory, dtype=torch.float64, experts_implementation="eager")
    model.config.router_aux_loss_coef = coefficient
    if hasattr(model, "router_aux_loss_coef"):
        model.router_aux_loss_coef = coefficient
    model.train()  # dropout is 0; Mixtral's router jitter is 0
    inputs = torch.tensor(tokens[:, :T], dtype=torch.long)
    targets = torch.tensor(tokens[:, 1:], dtype=torch.long)
    out = model(input_ids=inputs, labels=targets, shift_labels=targets, output_router_logits=True, use_cache=False)
    # The loss as the modeling file defines it, recomputed from the outputs.
    module = sys.modules[model_class.__module__]
    experts = model.config.num_local_experts if hasattr(model.config, "num_local_experts") else model.config.num_experts
    k = model.config.num_experts_per_tok
    aux = module.load_balancing_loss_func(out.router_logits, experts, k, None)
    ce = torch.nn.functional.cross_entropy(out.logits.reshape(-1, VOCAB), targets.reshape(-1))
    own = (ce + coefficient * aux).item()
    # transformers computes the CE in float32 even for a float64 model (loss/loss_utils.py `ForCausalLMLoss`:
    # `logits = logits.float()`), and the router softmax and aux statistics too (`router_logits.float()`,
    # float32 sums in load_balancing_loss_func): the two agree to float32 rounding, not float64.
    check(abs(out.loss.item() - own) <= 1e-6 * max(1.0, abs(own)),
          f"{name} α={coefficient}: transformers' loss {out.loss.item():.10f} = CE {ce.item():.8f} + α·aux "
          f"({aux.item():.8f}; {len(out.router_logits)} MoE layers, {out.router_logits[0].shape[0]} rows each)")
    # Distance of every token's top-k choice from a tie, in router logits (top-k of the softmax is top-k of the
    # logits): a near tie could route differently in moekit's float32.
    margin = min(torch.sort(z, -1, descending=True).values[:, k - 1:k + 1].diff(dim=-1).abs().min().item()
                 for z in out.router_logits)
    check(margin > TIE_MARGIN, f"{name} α={coefficient}: smallest gap between the k-th and (k+1)-th router "
          f"logit {margin:.2e} > {TIE_MARGIN:g} (no near-tie in the top-k selection)")
    out.loss.backward()
    with tempfile.TemporaryDirectory() as scratch:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
        # save_pretrained of a model holding the gradients gives them under the checkpoint names and layout.
        gradients = checkpoint_tensors(model, scratch)
    return out.loss.item(), {n: g.astype(np.float64) for n, g in gradients.items()}


def moekit_train(binary, repo, directory, batch_file, run, coefficient):
    arguments = [binary, "train", "--model", directory, "--out", run, "--batch-file", batch_file, "--optimizer", "sgd",
                 "--lr", "1", "--steps", "1", "--clip", "0", "--weight-decay", "0", "--lb-coef", str(coefficient),
                 "--lb-style", "hf", "--z-coef", "0", "--batch", str(B), "--recipes", os.path.join(repo, "Converters")]
    result = subprocess.run(arguments, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} exited {result.returncode}: {result.stdout}{result.stderr}")
    with open(os.path.join(run, "train.jsonl")) as f:
        step = next(record for record in map(json.loads, f) if record.get("event") == "step")
    return step, load_file(os.path.join(run, "final", "model.safetensors"))


def compare(name, coefficient, old, new, gradients):
    """Per-tensor pass/fail and the worst relative error per tensor kind; returns the moekit gradients (old − new)."""
    check(set(new) == set(old), f"{name} α={coefficient}: moekit's final model has the same {len(old)} tensors")
    worst = {}
    read = {}
    passed = True
    for tensor in sorted(old):
        if tensor not in new or tensor not in gradients:
            check(False, f"{name} α={coefficient}: {tensor} missing (moekit: {tensor in new}, torch: {tensor in gradients})")
            continue
        o = old[tensor].astype(np.float64)
        expected = o - gradients[tensor]
        delta = float(np.abs(new[tensor].astype(np.float64) - expected).max())
        scale = float(np.abs(gradients[tensor]).max())
        ulp = float(np.spacing(np.float32(np.abs(o).max())))
        allowed = RELATIVE_TOLERANCE * scale + ulp
        read[tensor] = o - new[tensor].astype(np.float64)
        relative = delta / scale if scale > 0 else delta
        key = kind(tensor)
        if key not in worst or relative > worst[key][0]:
            worst[key] = (relative, delta, scale, allowed, tensor)
        if delta > allowed:
            passed = False
            check(False, f"{name} α={coefficient}: {tensor} max |Δ| {delta:.3e} > allowed {allowed:.3e} "
                  f"(max |grad| {scale:.3e}, relative {relative:.2e})")
    for key, (relative, delta, scale, allowed, tensor) in sorted(worst.items()):
        print(f"        {name} α={coefficient}: {key:52s} max |Δ|/max |grad| = {relative:.2e} "
              f"(|Δ| {delta:.2e}, |grad| {scale:.2e}, allowed {allowed:.2e})")
    worst_relative = max(r for r, *_ in worst.values())
    check(passed,
          f"{name} α={coefficient}: every tensor within 1e-5·max|grad| + ulp (worst relative {worst_relative:.2e})")
    return read


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    repo = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1234)
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as work:
        tokens = rng.integers(0, VOCAB, size=(B, T + 1)).astype(np.int32)
        batch_file = os.path.join(work, "batch.safetensors")
        save_file({"tokens": tokens}, batch_file)
        for name, model_class, config in models():
            try:
                model = model_class(config).to(torch.float32)
                randomise(model, generator)
                directory = os.path.join(work, name)
                old = write_hf_directory(model, directory)
                router_gradients = {}
                for coefficient in COEFFICIENTS:
                    loss, gradients = reference(model_class, directory, tokens, coefficient, name)
                    run = os.path.join(work, f"{name}-run-{coefficient}")
                    step, new = moekit_train(binary, repo, directory, batch_file, run, coefficient)
                    moekit_loss = step.get("loss")
                    check(moekit_loss is not None and abs(moekit_loss - loss) <= 1e-5 * abs(loss),
                          f"{name} α={coefficient}: loss torch {loss:.8f} moekit {moekit_loss} "
                          f"(lb {step.get('lb')}, balanced {step.get('lb_balanced')})")
                    compare(name, coefficient, old, new, gradients)
                    router_gradients[coefficient] = {n: g for n, g in gradients.items() if re.search(r"\.gate\.weight$", n)}
                # The aux loss must move the router gradients by far more than the tolerance, or A = 0.1 tests nothing.
                a, b = router_gradients[COEFFICIENTS[0]], router_gradients[COEFFICIENTS[1]]
                shift = max(float(np.abs(a[n] - b[n]).max() / np.abs(b[n]).max()) for n in a)
                check(shift > 100 * RELATIVE_TOLERANCE,
                      f"{name}: α = 0.1 changes the router gradients by {shift:.2e} of their size (≫ the tolerance)")
            except Exception as error:  # one model failing must not hide the others' results
                check(False, f"{name}: {type(error).__name__}: {error}")
    finish()


if __name__ == "__main__":
    main()
