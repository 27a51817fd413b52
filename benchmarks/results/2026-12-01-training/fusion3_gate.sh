#!/usr/bin/env bash
# gate supervised fusion, same recipe as the shipped l1norm one (rebalance 0.8)
cd /work/main; . .venv/bin/activate
DATA=../shared/data
python -m paracolor.cli train fusion --strategy gate --mode supervised --fg runs/v3/fg3/shipped.safetensors --bg runs/v3/bg3/shipped.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o runs/v5/fusion-gate --size 128 --epochs 2 --max-steps 600 --threads 1 --lr 5e-4 \
  --batch-size 16 --workers 0 --seed 0 --val-limit 50 --lr-schedule cosine --rebalance 0.8 > runs/v5/fusion-gate.log 2>&1
echo DONE
