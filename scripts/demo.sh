#!/usr/bin/env bash
# The main job end to end on the default model (SmolLM2-135M-Instruct): install dependencies, fetch the model,
# build moekit, inspect the GGUF, convert it to Hugging Face safetensors and back, upcycle it into a 4-expert
# Mixtral-style MoE, verify the MoE against the dense model, evaluate both on a 50-item PIQA sample, and build a
# calibration-driven LLaMA-MoE split (sharing-inner, gradient importance) as a Mixtral-layout GGUF and verify it,
# then continue pretraining that split on a tokenised corpus (distilling from the dense parent) and evaluate it again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
MODEL="$(scripts/fetch-smollm2.sh)"
OUT="${MOEKIT_DEMO_OUT:-$PWD/demo-out}"
mkdir -p "$OUT"
swift build -c release --product moekit
BIN="$(swift build -c release --show-bin-path)/moekit"
echo "== inspect $MODEL"
"$BIN" inspect "$MODEL" > "$OUT/smollm2.inspect.txt"
sed -n 1,8p "$OUT/smollm2.inspect.txt"; echo "  (full listing: $OUT/smollm2.inspect.txt)"
echo "== GGUF (Q4_1) -> Hugging Face safetensors (F32)"
"$BIN" convert "$MODEL" "$OUT/smollm2-hf" --to safetensors --dtype f32 --log "$OUT/convert.jsonl"
ls -la "$OUT/smollm2-hf"
echo "== Hugging Face -> GGUF (F32)"
"$BIN" convert "$OUT/smollm2-hf" "$OUT/smollm2-f32.gguf" --to gguf --dtype f32 --log "$OUT/convert.jsonl"
echo "== Hugging Face -> GGUF (Q8_0)"
"$BIN" convert "$OUT/smollm2-hf" "$OUT/smollm2-q8_0.gguf" --to gguf --dtype q8_0 --log "$OUT/convert.jsonl"
"$BIN" inspect "$OUT/smollm2-f32.gguf" --json > "$OUT/smollm2-f32.inspect.json"
echo "== compare dequantized tensors of the original and the round-tripped GGUF"
"$BIN" compare "$MODEL" "$OUT/smollm2-f32.gguf"
echo "== upcycle: 4 experts, top-2, Mixtral layout"
"$BIN" upcycle "$MODEL" "$OUT/smollm2-moe" --experts 4 --top-k 2 --target mixtral --format safetensors --log "$OUT/upcycle.jsonl"
echo "== verify the MoE against the dense model"
"$BIN" verify "$MODEL" "$OUT/smollm2-moe"
echo "== evaluate dense and MoE on the PIQA sample (50 items)"
"$BIN" eval "$MODEL" --tasks piqa --limit 50 --output "$OUT/eval-dense.json"
"$BIN" eval "$OUT/smollm2-moe" --tasks piqa --limit 50 --output "$OUT/eval-moe.json"
echo "== split with calibration: 8 experts, top-2, sharing-inner (gradient importance on text), Mixtral-layout GGUF"
CALIBRATION="$OUT/calibration.txt"
cat README.md docs/*.md > "$CALIBRATION"
"$BIN" split "$MODEL" "$OUT/smollm2-split.gguf" --experts 8 --top-k 2 --method sharing-inner --expert-size 384 \
  --calibration "$CALIBRATION" --calibration-tokens 1024 --target mixtral --format gguf --dry-run
"$BIN" split "$MODEL" "$OUT/smollm2-split.gguf" --experts 8 --top-k 2 --method sharing-inner --expert-size 384 \
  --calibration "$CALIBRATION" --calibration-tokens 1024 --target mixtral --format gguf --log "$OUT/split.jsonl"
"$BIN" verify "$MODEL" "$OUT/smollm2-split.gguf"
echo "== training data: the shared six-domain corpus when it is there (MOEKIT_CORPUS), else this repository's docs"
CORPUS="${MOEKIT_CORPUS:-$PWD/../shared/data/corpus}"
if compgen -G "$CORPUS/*.jsonl.gz" > /dev/null; then INPUTS=("$CORPUS"/*.jsonl.gz); else cat docs/*.md > "$OUT/docs.txt"; INPUTS=("$OUT/docs.txt"); fi
"$BIN" prepare-data "${INPUTS[@]}" --tokenizer "$MODEL" --out "$OUT/data" --val-min-docs 4 --force
echo "== continue pretraining the split: 30 AdamW steps, distilling from the dense parent (log: $OUT/train/train.jsonl)"
"$BIN" train --model "$OUT/smollm2-split.gguf" --out "$OUT/train" --data "$OUT/data" --steps 30 --batch 2 --seq 128 \
  --lr 5e-4 --warmup 5 --eval-every 10 --save-every 10 --teacher "$MODEL" --force
"$BIN" verify "$MODEL" "$OUT/train/final"
"$BIN" eval "$OUT/train/final" --tasks piqa --limit 50 --output "$OUT/eval-trained.json" --force
echo "outputs in $OUT"
