#!/usr/bin/env bash
# Model 7 candidate: fg phase 4 (256 px, 2 epochs, seed 4) from the shipped fg3 (bias un-corrected), and bg
# phase 5 (a second warm restart at 192 px, 5 epochs, seed 5) from the shipped bg3; side by side, one thread each
cd /work/main; . .venv/bin/activate
DATA=../shared/data; RUN=runs/v8
COMMON=(--batch-size 16 --workers 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --lr 1e-4 --select last --threads 1)
python -m paracolor.cli train pretrain --role fg --train $DATA/train/objects --train $DATA/train/extra --val $DATA/val/objects \
  -o $RUN/fg4 --init $RUN/fg3raw/last.safetensors --size 256 --epochs ${FG4:-2} --seed 4 "${COMMON[@]}" > $RUN/fg4.log 2>&1 &
python -m paracolor.cli train pretrain --role bg --train $DATA/train/scenes --train $DATA/train/extra --val $DATA/val/scenes \
  -o $RUN/bg5 --init $RUN/bg3raw/last.safetensors --size 192 --epochs ${BG5:-5} --seed 5 "${COMMON[@]}" > $RUN/bg5.log 2>&1 &
wait
for r in fg4 bg5; do
  python -m paracolor.cli train prior-correct $RUN/$r/best.safetensors --prior $RUN/$r/colour_prior.json --beta 0.30 -o $RUN/$r/shipped.safetensors
done
echo GENERATORS_DONE
