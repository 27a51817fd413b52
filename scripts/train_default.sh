#!/usr/bin/env bash
# The recipe of the shipped default model (see paracolor/weights/default/MODEL_CARD.md).
# Usage: scripts/train_default.sh DATA_DIR RUN_DIR   (DATA_DIR holds train/ and val/ as in ../shared/data)
#
# RECIPE=v2 (default): both generators predict ab classes (313-ish bins of 10 Lab units, the
#   training photos' gamut) at stride 4 with class-rebalanced cross-entropy and annealed-mean
#   decoding, aligned upsampling, ImageNet/ADE20K plus train/extra; the fusion network is trained
#   supervised on the two generators' outputs (rebalanced L1). fg and bg train side by side,
#   one CPU thread each (on 2 cores that beats two threads each in turn); then fusion.
# RECIPE=paper: the paper's three stages (L1 pre-training, LSGAN + L1 [+ edge], DenseFuse
#   autoencoder) on objects / scenes, as the first default model was trained.
# Every stage resumes from its run folder's last.pt: re-running the script continues a stopped run.
set -euo pipefail
DATA=${1:?data folder}; RUN=${2:?run folder}
RECIPE=${RECIPE:-v2}
SIZE=${SIZE:-128}; BS=${BS:-16}
pc() { python -m paracolor.cli "$@"; }
mkdir -p "$RUN"

if [ "$RECIPE" = paper ]; then
  PRE_EPOCHS=${PRE_EPOCHS:-4}; GAN_EPOCHS=${GAN_EPOCHS:-5}; FUS_EPOCHS=${FUS_EPOCHS:-3}
  COMMON=(--size "$SIZE" --batch-size "$BS" --workers 1 --seed 0 --val-limit 50)
  for role in fg bg; do
    if [ $role = fg ]; then TRAIN=$DATA/train/objects; VAL=$DATA/val/objects; else TRAIN=$DATA/train/scenes; VAL=$DATA/val/scenes; fi
    pc train pretrain --role $role --train "$TRAIN" --val "$VAL" -o "$RUN/$role-pretrain" --epochs "$PRE_EPOCHS" "${COMMON[@]}"
    pc train gan --role $role --init "$RUN/$role-pretrain/best.safetensors" --l1-weight 10 \
       --train "$TRAIN" --val "$VAL" -o "$RUN/$role-gan" --epochs "$GAN_EPOCHS" "${COMMON[@]}"
  done
  pc train fusion --train "$DATA/train/objects" --train "$DATA/train/scenes" --val "$DATA/val/coco" \
     -o "$RUN/fusion" --epochs "$FUS_EPOCHS" "${COMMON[@]}"
  exit 0
fi

FG_EPOCHS=${FG_EPOCHS:-3}; BG_EPOCHS=${BG_EPOCHS:-5}; FUS_STEPS=${FUS_STEPS:-900}
COMMON=(--size "$SIZE" --batch-size "$BS" --workers 0 --seed 0 --val-limit 50 --lr 3e-4 --lr-schedule cosine --rebalance 0.5)
GEN=(--head classes --head-stride 4 --upsample aligned --decoder-channels 128,96,96,32,16 --temperature 0.38)
pc train pretrain --role fg --train "$DATA/train/objects" --train "$DATA/train/extra" --val "$DATA/val/objects" \
   -o "$RUN/fg" --epochs "$FG_EPOCHS" --threads 1 "${GEN[@]}" "${COMMON[@]}" > "$RUN/fg.log" 2>&1 &
FG=$!
pc train pretrain --role bg --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/scenes" \
   -o "$RUN/bg" --epochs "$BG_EPOCHS" --threads 1 "${GEN[@]}" "${COMMON[@]}" > "$RUN/bg.log" 2>&1 &
BG=$!
wait $FG; wait $BG
pc train fusion --mode supervised --fg "$RUN/fg/best.safetensors" --bg "$RUN/bg/best.safetensors" \
   --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
   -o "$RUN/fusion" --epochs 2 --max-steps "$FUS_STEPS" --threads 2 --lr 5e-4 "${COMMON[@]:0:10}" --rebalance 0.5 --lr-schedule cosine > "$RUN/fusion.log" 2>&1
