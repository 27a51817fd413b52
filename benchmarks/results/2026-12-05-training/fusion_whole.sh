#!/usr/bin/env bash
# the recipe's fusion on the phase-5 generators (runs/v17 links phases 1-4 from runs/v8 and phase 5 from runs/v16), then scored
set -euo pipefail
cd /work/main; . .venv/bin/activate
while ! grep -q DONE runs/v16/fix_bg.out; do sleep 15; done
date +"fusion start %T"
STAGES=fusion scripts/train_default.sh ../shared/data runs/v17
date +"fusion end %T"
runs/v8/eval_gen.sh m17 runs/v17/fg5/shipped.safetensors runs/v17/bg5/shipped.safetensors runs/v17/fusion/best.safetensors fusion fg bg blend:0.5
date +"eval end %T"
