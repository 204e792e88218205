#!/usr/bin/env python3
"""Checks moekit's dense backward pass against PyTorch autograd on the same tiny Hugging Face LLaMA.

Input: the HF directory the Swift test wrote (TinyLlama) and a JSON file with the token sequences, moekit's loss
(mean next-token cross-entropy over all predicted positions) and moekit's gradients of some tensors (HF names).
Runs transformers' LlamaForCausalLM in float64, right-padded batch with labels -100 on padding, and prints the
relative errors. Exit status 1 when a relative error exceeds 1e-4.

Run by hand (needs torch + transformers), normally through the gated Swift test:
    MOEKIT_BACKWARD_XCHECK_PYTHON=/root/xcheck/bin/python swift test -c release --filter BackwardCrossCheck
"""
import json
import sys

import torch
from transformers import LlamaForCausalLM

directory, data_path = sys.argv[1], sys.argv[2]
with open(data_path) as f:
    data = json.load(f)
model = LlamaForCausalLM.from_pretrained(directory, dtype=torch.float64)
model.train(False)
sequences = data["sequences"]
T = max(len(s) for s in sequences)
ids = torch.zeros(len(sequences), T, dtype=torch.long)
mask = torch.zeros(len(sequences), T, dtype=torch.long)
labels = torch.full((len(sequences), T), -100, dtype=torch.long)
for b, s in enumerate(sequences):
    ids[b, : len(s)] = torch.tensor(s)
    mask[b, : len(s)] = 1
    labels[b, : len(s)] = torch.tensor(s)
out = model(input_ids=ids, attention_mask=mask, labels=labels)
out.loss.backward()
loss_error = abs(out.loss.item() - data["loss"]) / abs(out.loss.item())
print(f"loss: torch {out.loss.item():.8f} moekit {data['loss']:.8f} relative error {loss_error:.2e}")
parameters = dict(model.named_parameters())
worst = loss_error
for name, values in sorted(data["gradients"].items()):
    reference = parameters[name].grad.flatten()
    ours = torch.tensor(values, dtype=torch.float64)
    error = ((ours - reference).abs().max() / reference.abs().max()).item()
    worst = max(worst, error)
    print(f"{name:45s} max |Δ| / max |grad| = {error:.2e}")
print(f"worst relative error: {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
