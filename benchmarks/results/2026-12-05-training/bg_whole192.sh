#!/usr/bin/env bash
# bg: one epoch on whole photos at 192 px (bg's phase-4 size) from bg5, lr 3e-5 cosine, one thread beside fg phase 5 x 4;
# then beta 0.40 and bg alone on COCO (the 256 px whole-photo phase over-saturated and lost COCO FID 62.0 -> 63.9)
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data; RUN=runs/v16; NAME=bg_whole192
date +"start %T"
python -m paracolor.cli train pretrain --role bg --train $DATA/train/scenes --train $DATA/train/extra --val $DATA/val/scenes -o $RUN/$NAME \
  --init runs/v8/bg5/last.safetensors --size 192 --epochs 1 --lr 3e-5 --lr-schedule cosine --rebalance 0.5 --select last --crop-scale 1 \
  --batch-size 16 --workers 0 --val-limit 50 --seed 12 --threads 1 > $RUN/$NAME.log 2>&1
python -m paracolor.cli train prior-correct $RUN/$NAME/best.safetensors --prior $RUN/$NAME/colour_prior.json --beta 0.40 -o $RUN/$NAME/shipped.safetensors
date +"trained %T"
M=/tmp/m_$NAME; rm -rf $M
python -m paracolor.cli -q export --fg runs/v17/fg5/shipped.safetensors --bg $RUN/$NAME/shipped.safetensors --fusion runs/v17/fusion/best.safetensors -o $M
python -m paracolor.cli -q evaluate $DATA/val/coco -o runs/v8/eval/$NAME/coco --model $M --name $NAME --variant bg
date +"eval end %T"
