#!/usr/bin/env bash
# Annealed-mean temperature against FID, per generator at its shipped beta (fg4 0.30, bg5 0.40)
set -euo pipefail
cd /work/main; . .venv/bin/activate
for T in 0.38 0.30 0.48 0.60; do
  for g in fg4:0.30 bg4:0.40; do
    n=${g%%:*}; b=${g##*:}
    python benchmarks/prior_correction_sweep.py ../shared/data runs/v8/$n/best.safetensors runs/v8/$n/colour_prior.json \
      --beta $b --temperature $T --out runs/v16/t_${n}_$T.json
  done
done
