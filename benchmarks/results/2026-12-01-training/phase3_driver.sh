#!/usr/bin/env bash
# This session's continuation: phase 3 of fg and bg was started by train_default.sh (pids 18594, 18595);
# its orchestrating shell was replaced by this driver to change BETA to 0.30 before the prior correction.
# The rest is the script's own code: prior correction (STAGES=3's tail) and fusion.
cd /work/main; . .venv/bin/activate
while kill -0 18594 2>/dev/null || kill -0 18595 2>/dev/null; do sleep 15; done
for role in fg bg; do
  python -m paracolor.cli train prior-correct runs/v3/${role}3/best.safetensors --prior runs/v3/${role}3/colour_prior.json --beta 0.30 -o runs/v3/${role}3/shipped.safetensors
done
STAGES=fusion runs/v3/train_default.snapshot.sh ../shared/data runs/v3
echo V3_DONE
