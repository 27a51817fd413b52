#!/usr/bin/env bash
# Pilot of the paper's stage 2 on the default recipe: a short adversarial fine-tune (LSGAN + the generator's
# rebalanced cross-entropy) of bg5 at 192 px; then the recipe's prior correction (beta 0.40) and bg alone on the sets.
set -euo pipefail
cd /work/main; . .venv/bin/activate; DATA=../shared/data
NAME=${NAME:-bg_gan}; STEPS=${STEPS:-200}; LR=${LR:-5e-5}; CEW=${CEW:-10}
python -m paracolor.cli train gan --role bg --init runs/v8/bg5/best.safetensors \
  --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/scenes" \
  -o runs/v13/$NAME --size 192 --epochs 1 --max-steps $STEPS --threads 1 --lr $LR --l1-weight $CEW --rebalance 0.5 \
  --batch-size 16 --workers 0 --seed 7 --val-limit 50 --lr-schedule cosine --select last --no-resume > runs/v13/$NAME.log 2>&1
python -m paracolor.cli train prior-correct runs/v13/$NAME/last.safetensors --prior runs/v13/$NAME/colour_prior.json --beta 0.4 -o runs/v13/$NAME/shipped.safetensors
echo GAN_DONE
