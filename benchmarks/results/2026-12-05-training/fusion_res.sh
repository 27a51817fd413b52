#!/usr/bin/env bash
# Candidate: the recipe's fusion (l1-norm, supervised, 600 steps at 128 px, rebalanced L1 lambda 0.8) with the residual
# decoder output (a correction to the 0.5 blend, starting at zero), on model 7's generators; one thread (bg6 has the other)
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data
OUT=${OUT:-runs/v10/fusion_res}; FG=${FG:-runs/v8/fg4/shipped.safetensors}; BG=${BG:-runs/v8/bg4/shipped.safetensors}
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg $FG --bg $BG \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o $OUT --size 128 --epochs 2 --max-steps ${STEPS:-600} --threads ${THREADS:-1} --lr ${LR:-5e-4} --batch-size 16 --workers 0 --seed 0 --val-limit 50 \
  --lr-schedule cosine --rebalance ${REB:-0.8} > $OUT.log 2>&1
echo FUSION_DONE
