"""The residual-fusion record's table: model 7's Table V rows beside each candidate's fusion row.
Usage: python residual_table.py TABLE5_JSON NAME=EVAL_DIR ...  (EVAL_DIR/<set>/evaluation.json, from eval_gen.sh)"""
import json
import sys

t5 = json.load(open(sys.argv[1]))
cands = [a.split("=", 1) for a in sys.argv[2:]]
print("| set | output | FID (x grey) | PSNR dB (vs grey) | colourfulness | gap to truth |")
print("|---|---|---|---|---|---|")
for s in ("objects", "scenes", "coco"):
    rows = {r["model"]: r for r in t5[s]["rows"]}
    grey = rows["grey baseline (ab = 0)"]
    named = [(k.split("[")[1].rstrip("]") + " (model 7)", v) for k, v in rows.items() if "[" in k]
    for name, d in cands:
        r = json.load(open(f"{d}/{s}/evaluation.json"))["rows"][0]
        named.append((name, r))
    for name, r in named + [("grey", grey)]:
        print(f"| {s} ({r['n']}) | {name} | {r['fid']:.2f} ({r['fid'] / grey['fid']:.3f}x) | {r['psnr']:.2f} ({r['psnr'] - grey['psnr']:+.2f}) | "
              f"{r['colourfulness']:.2f} | {r['colourfulness_gap']:.2f} |")
