#!/usr/bin/env bash
# A/B against the shipped fusion (runs/v17/fusion): the same 256 px fine-tune (lambda 0.55, 125 steps, seed 1, from
# fusion128) but on whole photos (crop scale 1), the framing inference sees; one thread beside fg phase 5 x 4 epochs
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data; R=runs/v17
date +"fusion start %T"
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg $R/fg5/shipped.safetensors --bg $R/bg4/shipped.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" --init $R/fusion128/best.safetensors \
  -o $R/fusion_crop1 --size 256 --epochs 1 --max-steps 125 --threads 1 --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 \
  --lr-schedule cosine --rebalance 0.55 --crop-scale 1 > $R/fusion_crop1.log 2>&1
date +"fusion end %T"
runs/v8/eval_gen.sh m17_crop1 $R/fg5/shipped.safetensors $R/bg4/shipped.safetensors $R/fusion_crop1/best.safetensors fusion
date +"eval end %T"
