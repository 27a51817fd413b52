#!/usr/bin/env bash
# fg4 (256 px fine-tune) + bg3 (no phase 4: bg4 lost on FID, see model5 table5), the recipe's fusion, then a staged ship
cd /work/main; . .venv/bin/activate; DATA=../shared/data; RUN=runs/v7
python -m paracolor.cli train fusion --strategy l1norm --mode supervised --fg $RUN/fg4/shipped.safetensors --bg $RUN/bg3/shipped.safetensors \
  --train "$DATA/train/objects" --train "$DATA/train/scenes" --train "$DATA/train/extra" --val "$DATA/val/coco" \
  -o $RUN/fusion --size 128 --epochs 2 --max-steps 600 --threads 2 --lr 5e-4 --batch-size 16 --workers 0 --seed 0 --val-limit 50 --lr-schedule cosine --rebalance 0.5 --rebalance 0.8 > $RUN/fusion.log 2>&1
echo FUSION_DONE
rm -rf /tmp/ship7 /tmp/res7; mkdir -p /tmp/res7
python scripts/ship_default.py $RUN ../shared/data --out /tmp/ship7/default --results /tmp/res7 --stem 2026-12-01-cpu-2core-xeon-model6 \
  --wall-time "about 4 h in all, in three sessions (fg and bg side by side: phase 1 40 min, phase 2 38 min, phase 3 81 min; fg phase 4 57 min; fusion about 15 min)" > $RUN/ship.log 2>&1
echo SHIP_DONE
