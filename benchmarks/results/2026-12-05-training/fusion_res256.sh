#!/usr/bin/env bash
# Candidate: the residual fusion (runs/v10/fusion_res) fine-tuned at 256 px, the size the model runs at; Adam 2e-4 cosine,
# two threads (as model 8 did for the image output). Defaults: model 10 (250 steps, rebalanced L1 lambda 0.8);
# NAME, STEPS and REB set the others (fusion_res256_06.sh: model 11). Then scores it with eval_gen.sh
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data
NAME=${NAME:-fusion_res256}; STEPS=${STEPS:-250}; REB=${REB:-0.8}; EVAL=${EVAL:-fres256}; THREADS=${THREADS:-2}
python -m paracolor.cli train fusion --strategy l1norm --decoder-output residual --mode supervised --fg runs/v8/fg4/shipped.safetensors --bg runs/v8/bg4/shipped.safetensors \
  --init runs/v10/fusion_res/best.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o runs/v10/$NAME --size 256 --epochs 1 --max-steps $STEPS --threads $THREADS --lr 2e-4 --batch-size 16 --workers 0 --seed 1 --val-limit 50 --lr-schedule cosine --rebalance $REB > runs/v10/$NAME.log 2>&1
echo FUSION_DONE
runs/v8/eval_gen.sh $EVAL runs/v8/fg4/shipped.safetensors runs/v8/bg4/shipped.safetensors runs/v10/$NAME/best.safetensors fusion > runs/v10/eval_$EVAL.log 2>&1
echo EVAL_DONE
