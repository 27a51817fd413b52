#!/usr/bin/env bash
# the recipe's fusion (128 px lambda 0.8, then 256 px lambda 0.55) on fg phase 5 x 4 epochs and bg phase 4; then shipped
# into the package (git checkout reverts it if it loses to model 13)
set -euo pipefail
cd /work/main; . .venv/bin/activate
until [ -f runs/v18/fg5/shipped.safetensors ] && ! pgrep -f "STAGES=5|train pretrain --role fg" >/dev/null; do sleep 20; done
date +"fusion start %T"
STAGES=fusion FG_FT5_EPOCHS=4 BG_FT5_EPOCHS=0 bash runs/v18/train_default.sh ../shared/data runs/v18
date +"fusion end %T"
python scripts/ship_default.py runs/v18 ../shared/data --stem 2026-12-05-cpu-2core-amd-model14 --wall-time "${WALL:-see the training log}" > runs/v18/ship.log 2>&1
date +"ship end %T"
