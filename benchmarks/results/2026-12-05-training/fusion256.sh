#!/usr/bin/env bash
# Candidate: the recipe's fusion fine-tuned at 256 px, the size the model runs at (the generators' outputs at 128 px
# differ from their outputs at 256 px, which the fusion sees at inference), 250 steps, Adam 2e-4 cosine; staged ship
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data; RUN=runs/v8
python -m paracolor.cli train fusion --strategy l1norm --mode supervised --fg $RUN/fg4/shipped.safetensors --bg $RUN/bg4/shipped.safetensors \
  --init $RUN/fusion/best.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o $RUN/fusion256 --size 256 --epochs 1 --max-steps 250 --threads 2 --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 --lr-schedule cosine --rebalance 0.8 > $RUN/fusion256.log 2>&1
echo FUSION_DONE
mkdir -p runs/v9; for d in fg fg2 fg3 fg4 bg bg2 bg3 bg4; do ln -sfn ../v8/$d runs/v9/$d; done; ln -sfn ../v8/fusion256 runs/v9/fusion
rm -rf /tmp/ship9 /tmp/res9; mkdir -p /tmp/res9
python scripts/ship_default.py runs/v9 $DATA --out /tmp/ship9/default --results /tmp/res9 --stem 2026-12-05-cpu-2core-amd-model8 \
  --wall-time "${WALL:-see the training record}" > $RUN/ship9.log 2>&1
echo SHIP_DONE
