#!/usr/bin/env bash
# eval_cand.sh NAME FUSION_CKPT [SETS]: the bundled default with this fusion checkpoint, fused output
# on each set (all photos, torch backend, 256 px as paracolor evaluate does)
cd /work/main; . .venv/bin/activate
DATA=../shared/data; NAME=$1; CKPT=$2; SETS=${3:-"objects coco scenes"}
d=runs/v5/cand-$NAME; rm -rf $d; cp -r paracolor/weights/default $d; rm -rf $d/fp16 $d/int8
cp "$CKPT" $d/checkpoints/fusion.safetensors
for s in $SETS; do
  paracolor evaluate $DATA/val/$s -o runs/v5/eval-$NAME-$s --model $d --backend torch --variant fusion --name "$NAME $s" -q > runs/v5/eval-$NAME-$s.log 2>&1
done
echo EVAL_DONE $NAME
