#!/usr/bin/env python3
"""PyTorch CPU side of `moekit-bench train`: tokens/s and peak RSS of full AdamW training steps of a Hugging Face
directory loaded with transformers' own class (`MixtralForCausalLM` for the MoE models, `LlamaForCausalLM` for
SmolLM2 dense), the same shapes, batch and loss as moekit's side:

  * rows: batch × (seq + 1) token ids from --tokens (raw little-endian int32, the file moekit-bench train writes and
    its own side reads), inputs tokens[:, :seq], targets tokens[:, 1:];
  * loss: transformers' own — CE over all batch·seq targets (passed as `shift_labels`, so `ForCausalLMLoss` in
    loss/loss_utils.py does not shift them again), plus for MoE models `router_aux_loss_coef` (0.01) ×
    `load_balancing_loss_func` (`output_router_logits=True`; modeling_mixtral.py `MixtralForCausalLM.forward`);
  * step: zero_grad, backward, `clip_grad_norm_(…, 1.0)`, `torch.optim.AdamW(lr 1e-4, betas (0.9, 0.95),
    eps 1e-8, weight_decay 0.1)` step; float32; the default attention implementation (sdpa).

usage: bench_train_torch.py --model DIR --tokens FILE --threads N [--batch 4 --seq 256 --steps 3 --warmup 1 --json-out FILE]
Prints one line and, with --json-out, writes {tokens_per_s, step_seconds, peak_rss_bytes, …}.
"""
import argparse
import json
import time

import numpy as np


def peak_rss():
    """VmHWM of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json-out")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    import transformers
    from transformers import AutoConfig, LlamaForCausalLM, MixtralForCausalLM

    config = AutoConfig.from_pretrained(args.model)
    moe = config.model_type == "mixtral"
    model_class = MixtralForCausalLM if moe else LlamaForCausalLM
    model = model_class.from_pretrained(args.model, dtype=torch.float32)
    if moe:
        model.config.router_aux_loss_coef = 0.01
        model.router_aux_loss_coef = 0.01
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    tokens = torch.from_numpy(np.fromfile(args.tokens, dtype="<i4").reshape(args.batch, args.seq + 1).astype(np.int64))
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    extra = {"output_router_logits": True} if moe else {}
    times, losses = [], []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        out = model(input_ids=inputs, labels=targets, shift_labels=targets, use_cache=False, **extra)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - start
        losses.append(out.loss.item())
        if step >= args.warmup:
            times.append(elapsed)
    median = sorted(times)[len(times) // 2]
    result = {
        "model": args.model, "class": model_class.__name__, "threads": args.threads,
        "torch": torch.__version__, "transformers": transformers.__version__,
        "attention": getattr(model.config, "_attn_implementation", None),
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens_per_step": args.batch * args.seq, "step_seconds": median, "step_seconds_all": times,
        "tokens_per_s": args.batch * args.seq / median, "loss_first": losses[0], "loss_last": losses[-1],
        "peak_rss_bytes": peak_rss(),
    }
    print(f"pytorch {model_class.__name__} {args.threads} thread(s): {result['tokens_per_s']:.1f} tokens/s "
          f"({median:.2f} s/step), peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MiB, loss {losses[0]:.4f} → {losses[-1]:.4f}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
