#!/usr/bin/env bash
# Candidate fg phase 5: a warm restart at 256 px from fg4 (the shipped fg before its prior correction), 2 epochs, seed 8,
# two threads; fg4's colour prior copied in first (the classes head keeps its bins). Then beta 0.30 as the recipe.
cd /work/main; . .venv/bin/activate
DATA=../shared/data; RUN=runs/v15
COMMON=(--batch-size 16 --workers 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --lr 1e-4 --select last --threads ${THREADS:-2})
python -m paracolor.cli train pretrain --role fg --train $DATA/train/objects --train $DATA/train/extra --val $DATA/val/objects \
  -o $RUN/fg5 --init runs/v8/fg4/last.safetensors --size 256 --epochs ${FG5:-2} --seed 8 "${COMMON[@]}" > $RUN/fg5.log 2>&1
python -m paracolor.cli train prior-correct $RUN/fg5/best.safetensors --prior $RUN/fg5/colour_prior.json --beta 0.30 -o $RUN/fg5/shipped.safetensors
echo FG5_DONE
