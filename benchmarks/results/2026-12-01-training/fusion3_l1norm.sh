#!/usr/bin/env bash
# Side experiment: the recipe's supervised fusion with DenseFuse's l1-norm strategy, then its
# fused output on val/coco and val/objects (torch backend, a copy of the shipped folder).
cd /work/main; . .venv/bin/activate
DATA=../shared/data
python -m paracolor.cli train fusion --strategy l1norm --mode supervised --fg runs/v3/fg3/shipped.safetensors --bg runs/v3/bg3/shipped.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o runs/v3/fusion-l1norm --size 128 --epochs 2 --max-steps 600 --threads 1 --lr 5e-4 \
  --batch-size 16 --workers 0 --seed 0 --val-limit 50 --lr-schedule cosine --rebalance 0.8 > runs/v3/fusion-l1norm.log 2>&1
d=runs/v3/cand-l1norm; rm -rf $d; cp -r paracolor/weights/default $d; rm -rf $d/fp16 $d/int8
cp runs/v3/fusion-l1norm/best.safetensors $d/checkpoints/fusion.safetensors
for s in coco objects; do
  paracolor evaluate $DATA/val/$s -o runs/v3/eval-l1norm-$s --model $d --backend torch --variant fusion --name "l1norm $s" -q > runs/v3/eval-l1norm-$s.log 2>&1
done
echo L1NORM_DONE
