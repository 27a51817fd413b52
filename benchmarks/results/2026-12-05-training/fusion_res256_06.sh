#!/usr/bin/env bash
# Candidate: the residual fusion (runs/v10/fusion_res) fine-tuned at 256 px with rebalanced L1 lambda 0.6 (more colour),
# 125 steps, Adam 2e-4 cosine, two threads
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg runs/v8/fg4/shipped.safetensors --bg runs/v8/bg4/shipped.safetensors \
  --init runs/v10/fusion_res/best.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o runs/v10/fusion_res256_06 --size 256 --epochs 1 --max-steps 125 --threads 2 --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 --lr-schedule cosine --rebalance 0.6 > runs/v10/fusion_res256_06.log 2>&1
echo FUSION_DONE
runs/v8/eval_gen.sh fres256_06 runs/v8/fg4/shipped.safetensors runs/v8/bg4/shipped.safetensors runs/v10/fusion_res256_06/best.safetensors fusion > runs/v10/eval_fres256_06.log 2>&1
echo EVAL_DONE
