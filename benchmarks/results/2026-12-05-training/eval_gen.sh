#!/usr/bin/env bash
# Score candidate generators alone: eval_gen.sh NAME FG BG [FUSION] [VARIANTS...] -> runs/v8/eval/NAME/<set>/evaluation.json
set -euo pipefail
cd /work/main; . .venv/bin/activate
NAME=$1; FG=$2; BG=$3; FUS=${4:-paracolor/weights/default/checkpoints/fusion.safetensors}; shift 4 || shift $#
VARIANTS=("$@"); [ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(fg bg)
M=/tmp/m_$NAME; rm -rf $M
python -m paracolor.cli -q export --fg $FG --bg $BG --fusion $FUS -o $M --check-images ../shared/data/val/coco
VA=(); for v in "${VARIANTS[@]}"; do VA+=(--variant "$v"); done
for s in objects scenes coco; do
  python -m paracolor.cli -q evaluate ../shared/data/val/$s -o runs/v8/eval/$NAME/$s --model $M --name $NAME "${VA[@]}"
done
python - "$NAME" <<'PY'
import json, sys
for s in ("objects", "scenes", "coco"):
    for r in json.load(open(f"runs/v8/eval/{sys.argv[1]}/{s}/evaluation.json"))["rows"]:
        print(f"{s:8s} {r['model']:40s} FID {r['fid']:7.2f} PSNR {r['psnr']:6.2f} colour {r['colourfulness']:5.1f} gap {r['colourfulness_gap']:5.1f}")
PY
