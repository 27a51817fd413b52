#!/usr/bin/env bash
# The recipe of the shipped default model (see paracolor/weights/default/MODEL_CARD.md).
# Usage: scripts/train_default.sh DATA_DIR RUN_DIR   (DATA_DIR holds train/ and val/ as in ../shared/data)
# CPU-sized: 128 px crops, a few epochs per stage; on a GPU raise --size to 256 and the epochs.
set -euo pipefail
DATA=${1:?data folder}; RUN=${2:?run folder}
SIZE=${SIZE:-128}; BS=${BS:-16}; PRE_EPOCHS=${PRE_EPOCHS:-4}; GAN_EPOCHS=${GAN_EPOCHS:-5}; FUS_EPOCHS=${FUS_EPOCHS:-3}
COMMON=(--size "$SIZE" --batch-size "$BS" --workers 1 --seed 0 --val-limit 50)
pc() { python -m paracolor.cli "$@"; }
for role in fg bg; do
  if [ $role = fg ]; then TRAIN=$DATA/train/objects; VAL=$DATA/val/objects; else TRAIN=$DATA/train/scenes; VAL=$DATA/val/scenes; fi
  pc train pretrain --role $role --train "$TRAIN" --val "$VAL" -o "$RUN/$role-pretrain" --epochs "$PRE_EPOCHS" "${COMMON[@]}"
  pc train gan --role $role --init "$RUN/$role-pretrain/best.safetensors" --l1-weight 10 \
     --train "$TRAIN" --val "$VAL" -o "$RUN/$role-gan" --epochs "$GAN_EPOCHS" "${COMMON[@]}"
done
pc train fusion --train "$DATA/train/objects" --train "$DATA/train/scenes" --val "$DATA/val/coco" \
   -o "$RUN/fusion" --epochs "$FUS_EPOCHS" "${COMMON[@]}"
