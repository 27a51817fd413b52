#!/usr/bin/env bash
# Candidate bg phase 5: a third warm restart at 192 px from bg5 (model 7's bg, before the prior correction), 5 epochs, seed 6, one thread
cd /work/main; . .venv/bin/activate
DATA=../shared/data; RUN=runs/v10
COMMON=(--batch-size 16 --workers 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --lr 1e-4 --select last --threads 1)
python -m paracolor.cli train pretrain --role bg --train $DATA/train/scenes --train $DATA/train/extra --val $DATA/val/scenes \
  -o $RUN/bg6 --init runs/v8/bg5/last.safetensors --size 192 --epochs ${BG6:-5} --seed 6 "${COMMON[@]}" > $RUN/bg6.log 2>&1
python -m paracolor.cli train prior-correct $RUN/bg6/best.safetensors --prior $RUN/bg6/colour_prior.json --beta 0.40 -o $RUN/bg6/shipped.safetensors
echo BG6_DONE
