#!/usr/bin/env bash
# A last phase on whole photos (crop scale 1, no object crops): the framing inference sees (the train/test scale gap
# of random resized crops, Touvron et al. 2019). From fg4 / bg5 at 256 px, lr 3e-5 cosine, EPOCHS epochs, one thread.
# Usage: fix.sh fg|bg
set -euo pipefail
cd /work/main; . .venv/bin/activate
ROLE=$1; DATA=../shared/data; RUN=runs/v16; EPOCHS=${EPOCHS:-2}; LR=${LR:-3e-5}; NAME=${NAME:-${ROLE}_fix}
if [ "$ROLE" = fg ]; then INIT=runs/v8/fg4; SETS=(--train $DATA/train/objects --train $DATA/train/extra --val $DATA/val/objects); BETA=0.30; SEED=9
else INIT=runs/v8/bg5; SETS=(--train $DATA/train/scenes --train $DATA/train/extra --val $DATA/val/scenes); BETA=0.40; SEED=10; fi
python -m paracolor.cli train pretrain --role $ROLE "${SETS[@]}" -o $RUN/$NAME --init $INIT/last.safetensors --size 256 --epochs $EPOCHS \
  --lr $LR --lr-schedule cosine --rebalance 0.5 --select last --crop-scale 1 --no-object-crops --batch-size 16 --workers 0 --val-limit 50 \
  --seed $SEED --threads ${THREADS:-1} > $RUN/$NAME.log 2>&1
python -m paracolor.cli train prior-correct $RUN/$NAME/best.safetensors --prior $RUN/$NAME/colour_prior.json --beta $BETA -o $RUN/$NAME/shipped.safetensors
echo DONE
