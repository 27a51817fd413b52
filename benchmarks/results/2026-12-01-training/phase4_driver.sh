#!/usr/bin/env bash
# Phase 4 candidate: the phase-3 generators fine-tuned at 256 px (the size the model runs at), a warm
# restart (lr 1e-4 cosine, seed 4); fg 1 epoch, bg 2, side by side, one thread each; then the prior correction
cd /work/main; . .venv/bin/activate
DATA=../shared/data; RUN=runs/v5
COMMON=(--batch-size 16 --workers 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --size 256 --lr 1e-4 --select last --threads 1 --seed 4)
python -m paracolor.cli train pretrain --role fg --train $DATA/train/objects --train $DATA/train/extra --val $DATA/val/objects \
  -o $RUN/fg4 --init runs/v3/fg3/last.safetensors --epochs ${FG4:-1} "${COMMON[@]}" > $RUN/fg4.log 2>&1 &
python -m paracolor.cli train pretrain --role bg --train $DATA/train/scenes --train $DATA/train/extra --val $DATA/val/scenes \
  -o $RUN/bg4 --init runs/v3/bg3/last.safetensors --epochs ${BG4:-2} "${COMMON[@]}" > $RUN/bg4.log 2>&1 &
wait
for role in fg bg; do
  python -m paracolor.cli train prior-correct $RUN/${role}4/best.safetensors --prior $RUN/${role}4/colour_prior.json --beta 0.30 -o $RUN/${role}4/shipped.safetensors
done
echo PHASE4_DONE
