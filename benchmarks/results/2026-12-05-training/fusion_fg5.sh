#!/usr/bin/env bash
# Candidate: the seventh model's fusion recipe retrained on fg5 (and bg5): residual l1-norm fusion, 600 steps at 128 px
# with lambda 0.8, then 125 steps at 256 px with lambda 0.7; two threads; then scored with eval_gen.sh
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data
FG=runs/v15/fg5/shipped.safetensors; BG=runs/v8/bg4/shipped.safetensors
OUT=runs/v15/fusion_fg5_128 FG=$FG BG=$BG THREADS=2 benchmarks/results/2026-12-05-training/fusion_res.sh
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg $FG --bg $BG \
  --init runs/v15/fusion_fg5_128/best.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o runs/v15/fusion_fg5 --size 256 --epochs 1 --max-steps 125 --threads 2 --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 \
  --lr-schedule cosine --rebalance 0.7 > runs/v15/fusion_fg5.log 2>&1
echo FUSION256_DONE
runs/v8/eval_gen.sh fg5fus $FG $BG runs/v15/fusion_fg5/best.safetensors fusion > runs/v15/eval_fg5fus.log 2>&1
echo EVAL_DONE
