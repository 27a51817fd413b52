#!/usr/bin/env bash
# The recipe's fusion (l1-norm, supervised, 600 steps at 128 px, rebalanced L1 lambda 0.8, two threads) on the model-7
# generators (after the prior correction), then a staged ship (records and model folder outside the repository)
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data; RUN=runs/v8
BG=${BG:-$RUN/bg4/shipped.safetensors}
python -m paracolor.cli train fusion --strategy l1norm --mode supervised --fg $RUN/fg4/shipped.safetensors --bg $BG \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o $RUN/fusion --size 128 --epochs 2 --max-steps 600 --threads 2 --lr 5e-4 --batch-size 16 --workers 0 --seed 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --rebalance 0.8 > $RUN/fusion.log 2>&1
echo FUSION_DONE
rm -rf /tmp/ship8 /tmp/res8; mkdir -p /tmp/res8
python scripts/ship_default.py $RUN $DATA --out /tmp/ship8/default --results /tmp/res8 --stem 2026-12-05-cpu-2core-amd-model7 \
  --wall-time "${WALL:-see the training record}" > $RUN/ship.log 2>&1
echo SHIP_DONE
