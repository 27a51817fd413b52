#!/usr/bin/env bash
# The full pipeline at other prior-correction strengths: copies of the bundled model folder with
# the generators re-corrected from a training run's uncorrected best checkpoints, each evaluated
# with `paracolor evaluate` (all photos, FID) on the torch backend (checkpoints, no re-export).
#   benchmarks/prior_beta_pipeline.sh RUN DATA OUT "0.25 0.3 0.35" "coco objects scenes"
# RUN: a scripts/train_default.sh run folder (fg2/, bg2/ with best.safetensors and colour_prior.json)
set -euo pipefail
RUN=$1; DATA=$2; OUT=$3; BETAS=$4; SETS=${5:-"coco objects scenes"}
DEFAULT=$(python -c "from paracolor.engine.modelfolder import default_model_dir; print(default_model_dir())")
mkdir -p "$OUT"
for b in $BETAS; do
  d="$OUT/model-beta$b"
  if [ ! -f "$d/.complete" ]; then  # a folder left by a failed run is made again
    rm -rf "$d"; cp -r "$DEFAULT" "$d"; rm -rf "$d/fp16" "$d/int8"
    for role in fg bg; do
      paracolor train prior-correct "$RUN/${role}2/best.safetensors" --prior "$RUN/${role}2/colour_prior.json" --beta "$b" -o "$d/checkpoints/$role.safetensors"
    done
    touch "$d/.complete"
  fi
  for s in $SETS; do
    [ -d "$OUT/eval-beta$b-$s" ] || paracolor evaluate "$DATA/val/$s" -o "$OUT/eval-beta$b-$s" --model "$d" --backend torch --name "beta $b $s" -q
  done
done
