#!/usr/bin/env bash
# The recipe of the shipped default model (see paracolor/weights/default/MODEL_CARD.md).
# Usage: scripts/train_default.sh DATA_DIR RUN_DIR   (DATA_DIR holds train/ and val/ as in ../shared/data)
#
# RECIPE=v2 (default): both generators predict ab classes (about 250 bins of 10 Lab units, the
#   training photos' gamut) at stride 4 with class-rebalanced cross-entropy and annealed-mean
#   decoding, aligned upsampling, ImageNet/ADE20K plus train/extra; 128 px, then 192 px (phases 2 and 3), then
#   phase 4 per generator (fg 256 px, bg 192 px again), then fg's phase 5 (whole photos at 256 px); the fusion
#   network (l1-norm strategy, residual output: a correction to the 0.5 blend) is trained supervised on the two
#   generators' outputs (rebalanced L1). fg and bg train side by side, one CPU thread each (on 2 cores that beats two threads each in turn); then fusion.
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

FG_EPOCHS=${FG_EPOCHS:-3}; BG_EPOCHS=${BG_EPOCHS:-5}; FUS_STEPS=${FUS_STEPS:-600}
# prior correction per generator (BETA sets both): bg's phase 4 came out more saturated than its phase 3, and 0.40
# measured better than 0.30 on scenes and COCO FID and PSNR (benchmarks/results/*-model7-bg-beta.md)
FG_BETA=${FG_BETA:-${BETA:-0.30}}; BG_BETA=${BG_BETA:-${BETA:-0.40}}
# the fusion runs alone (after both generators), so it takes both cores
FUS_THREADS=${FUS_THREADS:-2}
# the fusion decoder's output: residual (a correction to the 0.5 blend of fg and bg; benchmarks/results/*-fusion-residual.md) or image
FUS_OUTPUT=${FUS_OUTPUT:-residual}; FUS_REBALANCE=${FUS_REBALANCE:-0.8}
FUS_FT_STEPS=${FUS_FT_STEPS:-125}; FUS_FT_REBALANCE=${FUS_FT_REBALANCE:-0.55}  # the 256 px fusion fine-tune; 0 steps leave it out
FT_SIZE=${FT_SIZE:-192}; FG_FT_EPOCHS=${FG_FT_EPOCHS:-1}; BG_FT_EPOCHS=${BG_FT_EPOCHS:-2}
FG_FT3_EPOCHS=${FG_FT3_EPOCHS:-3}; BG_FT3_EPOCHS=${BG_FT3_EPOCHS:-5}
# phase 4, per generator: another warm restart, at its own size and data order (seed); 0 epochs leave it out.
# fg at 256 px (the size the model runs at: it helps fg on every set); bg at 192 px again, since 256 px hurt bg
# (benchmarks/results/*-phase4.md) and a second 192 px restart helped it on every set (*-model7-bg-beta.md)
FG_FT4_SIZE=${FG_FT4_SIZE:-256}; FG_FT4_EPOCHS=${FG_FT4_EPOCHS:-2}; FG_FT4_SEED=${FG_FT4_SEED:-4}
BG_FT4_SIZE=${BG_FT4_SIZE:-192}; BG_FT4_EPOCHS=${BG_FT4_EPOCHS:-5}; BG_FT4_SEED=${BG_FT4_SEED:-5}
# phase 5, per generator: whole photos at 256 px (crop scale 1, no object crops), Adam 3e-5 cosine: the framing the model
# sees at inference, where every earlier phase trained on zoomed-in random crops (benchmarks/results/*-whole-photos.md).
# fg only: it took fg's COCO FID from 63.6 to 61.2; bg at 256 px on whole photos grew over-saturated (COCO FID alone
# 62.0 -> 63.9, as 256 px random crops hurt bg before). 0 epochs leave it out
FG_FT5_EPOCHS=${FG_FT5_EPOCHS:-2}; BG_FT5_EPOCHS=${BG_FT5_EPOCHS:-0}; FT5_LR=${FT5_LR:-3e-5}; FG_FT5_SEED=${FG_FT5_SEED:-9}; BG_FT5_SEED=${BG_FT5_SEED:-10}
# STAGES and ROLES pick parts of the recipe (e.g. STAGES=2 ROLES=bg); by default all of it
STAGES=${STAGES:-"1 2 3 4 5 fusion"}; ROLES=${ROLES:-"fg bg"}
COMMON=(--batch-size "$BS" --workers 0 --seed 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5)
GEN=(--head classes --head-stride 4 --upsample aligned --decoder-channels 128,96,96,32,16 --temperature 0.38)
has() { [[ " $1 " == *" $2 "* ]]; }
# a generator's last phase, from its phase 3, 4 and 5 epochs
final() { if [ "$3" -gt 0 ]; then echo 5; elif [ "$1" -eq 0 ]; then echo 2; elif [ "$2" -eq 0 ]; then echo 3; else echo 4; fi; }

chain() {  # one generator's phases, logs in RUN/<role>.log, RUN/<role>2.log ... RUN/<role>5.log
  local role=$1 data epochs ft_epochs ft3_epochs ft4_epochs ft4_size ft4_seed ft5_epochs ft5_seed beta
  if [ "$role" = fg ]; then
    data=(--train "$DATA/train/objects" --train "$DATA/train/extra" --val "$DATA/val/objects"); epochs=$FG_EPOCHS; ft_epochs=$FG_FT_EPOCHS; ft3_epochs=$FG_FT3_EPOCHS; ft4_epochs=$FG_FT4_EPOCHS; ft4_size=$FG_FT4_SIZE; ft4_seed=$FG_FT4_SEED; ft5_epochs=$FG_FT5_EPOCHS; ft5_seed=$FG_FT5_SEED; beta=$FG_BETA
  else
    data=(--train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/scenes"); epochs=$BG_EPOCHS; ft_epochs=$BG_FT_EPOCHS; ft3_epochs=$BG_FT3_EPOCHS; ft4_epochs=$BG_FT4_EPOCHS; ft4_size=$BG_FT4_SIZE; ft4_seed=$BG_FT4_SEED; ft5_epochs=$BG_FT5_EPOCHS; ft5_seed=$BG_FT5_SEED; beta=$BG_BETA
  fi
  # phase 1: 128 px crops from the ImageNet encoder, lr 3e-4 cosine
  if has "$STAGES" 1; then
    pc train pretrain --role "$role" "${data[@]}" -o "$RUN/$role" --size "$SIZE" --lr 3e-4 --epochs "$epochs" --threads 1 "${GEN[@]}" "${COMMON[@]}" > "$RUN/$role.log" 2>&1
  fi
  # phase 2: fine-tune at FT_SIZE px (closer to the 256 px the model runs at), lr 1e-4 cosine, from the end of
  # phase 1's cosine schedule; its last epoch is kept
  if has "$STAGES" 2; then
    pc train pretrain --role "$role" "${data[@]}" -o "$RUN/${role}2" --init "$RUN/$role/last.safetensors" --size "$FT_SIZE" --lr 1e-4 \
       --epochs "$ft_epochs" --select last --threads 1 "${COMMON[@]}" > "$RUN/${role}2.log" 2>&1
  fi
  # phase 3: a warm restart of phase 2's schedule (lr 1e-4 cosine again, same size) for more epochs: phase 2
  # ended with the validation still improving (see benchmarks/results/2026-12-01-training)
  if has "$STAGES" 3 && [ "$ft3_epochs" -gt 0 ]; then
    pc train pretrain --role "$role" "${data[@]}" -o "$RUN/${role}3" --init "$RUN/${role}2/last.safetensors" --size "$FT_SIZE" --lr 1e-4 \
       --epochs "$ft3_epochs" --select last --threads 1 "${COMMON[@]}" --seed 3 > "$RUN/${role}3.log" 2>&1
  fi
  # phase 4: a warm restart again (lr 1e-4 cosine) at the generator's FT4 size (256 px: the size the model runs at)
  if has "$STAGES" 4 && [ "$ft4_epochs" -gt 0 ]; then
    pc train pretrain --role "$role" "${data[@]}" -o "$RUN/${role}4" --init "$RUN/${role}3/last.safetensors" --size "$ft4_size" --lr 1e-4 \
       --epochs "$ft4_epochs" --select last --threads 1 "${COMMON[@]}" --seed "$ft4_seed" > "$RUN/${role}4.log" 2>&1
  fi
  # phase 5: whole photos at 256 px, a low learning rate, from the last of phases 2 to 4
  if has "$STAGES" 5 && [ "$ft5_epochs" -gt 0 ]; then
    pc train pretrain --role "$role" "${data[@]}" -o "$RUN/${role}5" --init "$RUN/${role}$(final "$ft3_epochs" "$ft4_epochs" 0)/last.safetensors" \
       --size 256 --crop-scale 1 --no-object-crops --lr "$FT5_LR" --epochs "$ft5_epochs" --select last --threads 1 "${COMMON[@]}" --seed "$ft5_seed" \
       > "$RUN/${role}5.log" 2>&1
  fi
  # prior correction of the generator's final phase: undo a share beta of the rebalancing tilt (vivid vs
  # PSNR; see the model card)
  if has "$STAGES" 2 || has "$STAGES" 3 || has "$STAGES" 4 || has "$STAGES" 5; then
    local last; last=$(final "$ft3_epochs" "$ft4_epochs" "$ft5_epochs")
    pc train prior-correct "$RUN/${role}$last/best.safetensors" --prior "$RUN/${role}$last/colour_prior.json" --beta "$beta" \
       -o "$RUN/${role}$last/shipped.safetensors"
  fi
}
FG_FINAL=$(final "$FG_FT3_EPOCHS" "$FG_FT4_EPOCHS" "$FG_FT5_EPOCHS"); BG_FINAL=$(final "$BG_FT3_EPOCHS" "$BG_FT4_EPOCHS" "$BG_FT5_EPOCHS")

# fg and bg side by side, one thread each
pids=()
for role in $ROLES; do chain "$role" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done
# fusion, supervised on the fine-tuned generators' outputs; its L1 rebalanced with lambda 0.8 (the last
# --rebalance wins: 0.5 over-saturates the fused output, none mutes it; see the training record); DenseFuse's
# l1-norm strategy (FID ahead of feature addition on all three sets: benchmarks/results/*-fusion-l1norm.md)
# Then (FUS_FT_STEPS > 0) a fine-tune at 256 px, the size the model runs at, with lambda 0.55: it takes back the
# scenes FID that the 128 px residual fusion lost. On fg phase 5 (more PSNR than fg4) lambda 0.7 left COCO PSNR 0.37 dB to
# spare but the scenes colourfulness gap at 7.0; 0.55 spends that margin on colour (benchmarks/results/*-whole-photos.md)
if has "$STAGES" fusion; then
  FUS_DIR=$RUN/fusion; [ "$FUS_FT_STEPS" -gt 0 ] && FUS_DIR=$RUN/fusion128
  FUS_GEN=(--fg "$RUN/fg$FG_FINAL/shipped.safetensors" --bg "$RUN/bg$BG_FINAL/shipped.safetensors")
  FUS_DATA=(--train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco")
  pc train fusion --strategy l1norm --decoder-output "$FUS_OUTPUT" --mode supervised "${FUS_GEN[@]}" "${FUS_DATA[@]}" \
     -o "$FUS_DIR" --size "$SIZE" --epochs 2 --max-steps "$FUS_STEPS" --threads "$FUS_THREADS" --lr 5e-4 "${COMMON[@]}" --rebalance "$FUS_REBALANCE" > "$FUS_DIR.log" 2>&1
  if [ "$FUS_FT_STEPS" -gt 0 ]; then
    pc train fusion --strategy l1norm --decoder-output "$FUS_OUTPUT" --mode supervised "${FUS_GEN[@]}" "${FUS_DATA[@]}" --init "$FUS_DIR/best.safetensors" \
       -o "$RUN/fusion" --size 256 --epochs 1 --max-steps "$FUS_FT_STEPS" --threads "$FUS_THREADS" --lr 2e-4 "${COMMON[@]}" --seed 1 --rebalance "$FUS_FT_REBALANCE" > "$RUN/fusion.log" 2>&1
  fi
fi
