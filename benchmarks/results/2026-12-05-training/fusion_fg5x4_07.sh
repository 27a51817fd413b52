#!/usr/bin/env bash
# the 256 px fusion fine-tune with lambda 0.7 on fg phase 5 x 4 (lambda 0.55 left COCO PSNR 1.08 dB under grey and
# scenes FID 77.6); from the same 128 px fusion; then scored (fusion only)
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data; R=runs/v18
date +"fusion start %T"
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg $R/fg5/shipped.safetensors --bg $R/bg4/shipped.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" --init $R/fusion128/best.safetensors \
  -o $R/fusion07 --size 256 --epochs 1 --max-steps 125 --threads 2 --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 \
  --lr-schedule cosine --rebalance 0.7 > $R/fusion07.log 2>&1
date +"fusion end %T"
runs/v8/eval_gen.sh m18_07 $R/fg5/shipped.safetensors $R/bg4/shipped.safetensors $R/fusion07/best.safetensors fusion
date +"eval end %T"
