"""Accuracy of the OpenVINO configurations against FP32 PyTorch on real photos (issue 20).

The same figures as the FP16/INT8 reports of ``build`` and ``calibrate``
(``paracolor.builder.report.compare``): ab error in Lab units, PSNR and SSIM of the final RGB,
and the colourfulness change, over the whole pipeline (fg || bg -> fusion -> full-resolution
merge). The PyTorch reference runs once per batch and every configuration is compared with it,
so one pass over the photos serves them all.

Usage: python benchmarks/openvino_accuracy.py ../shared/data/val/coco [--s8s8 /tmp/paracolor-s8s8] [--limit 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from paracolor import colorspace, metrics
from paracolor.bench.harness import environment
from paracolor.builder.report import reference_runners
from paracolor.engine.backends.cpu_scheduler import StageScheduler
from paracolor.engine.io import find_images, read_image
from paracolor.engine.pipeline import Colorizer, EngineConfig


def configurations(model: str | None, s8s8: str | None) -> dict[str, EngineConfig]:
    out = {
        "openvino fp32": EngineConfig(model_dir=model, backend="openvino", precision="fp32"),
        "openvino bf16": EngineConfig(model_dir=model, backend="openvino", precision="bf16"),
        "openvino int8 (U8S8, bundled)": EngineConfig(model_dir=model, backend="openvino", precision="int8"),
        "onnxruntime int8 (U8S8, bundled)": EngineConfig(model_dir=model, backend="onnxruntime", precision="int8"),
    }
    if s8s8:
        out["openvino int8 (S8S8, TensorRT target)"] = EngineConfig(model_dir=s8s8, backend="openvino", precision="int8")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images")
    ap.add_argument("--model", default=None)
    ap.add_argument("--s8s8", default=str(Path(tempfile.gettempdir()) / "paracolor-s8s8"), help="model folder with TensorRT-target int8/ graphs ('' to skip)")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()

    load_before = [round(x, 2) for x in os.getloadavg()]
    t_start = time.perf_counter()
    ref_runners, ref_name = reference_runners(args.model)
    ref = Colorizer(EngineConfig(model_dir=args.model, schedule="sequential"), StageScheduler(ref_runners["fg"], ref_runners["bg"], ref_runners["fusion"], "sequential"))
    s8s8 = args.s8s8 if args.s8s8 and (Path(args.s8s8) / "int8" / "fg.onnx").is_file() else None
    cands = {k: Colorizer(cfg) for k, cfg in configurations(args.model, s8s8).items()}
    paths = [p for p, _ in find_images([args.images])][: args.limit]
    acc = {k: {"ab_max": 0.0, "ab_abs": [], "psnr": [], "ssim": [], "cf": []} for k in cands}
    cf_ref = []
    for i in range(0, len(paths), args.batch):
        prepared = [ref.prepare(read_image(p)) for p in paths[i : i + args.batch]]
        L = np.stack([p.L_net for p in prepared])
        out_r = ref.infer(L)["ab"]
        imgs_r = [Colorizer.finish(prep, out_r[k])[..., ::-1] for k, prep in enumerate(prepared)]
        cf_ref += [metrics.colourfulness(im) for im in imgs_r]
        for name, col in cands.items():
            out_c = col.infer(L)["ab"]
            a = acc[name]
            diff = np.abs(colorspace.net_to_ab(out_c) - colorspace.net_to_ab(out_r))
            a["ab_max"] = max(a["ab_max"], float(diff.max()))
            a["ab_abs"].append(float(diff.mean()))
            for k, prep in enumerate(prepared):
                img_c = Colorizer.finish(prep, out_c[k])[..., ::-1]
                a["psnr"].append(metrics.psnr(img_c, imgs_r[k]))
                a["ssim"].append(metrics.ssim(img_c, imgs_r[k]))
                a["cf"].append(metrics.colourfulness(img_c))
        print(f"{min(i + args.batch, len(paths))}/{len(paths)}", flush=True)
    rows = {}
    for name, a in acc.items():
        finite = [p for p in a["psnr"] if np.isfinite(p)]
        rows[name] = {
            "ab_max_abs": a["ab_max"], "ab_mean_abs": float(np.mean(a["ab_abs"])),
            "psnr_rgb_db": float(np.mean(finite)) if finite else float("inf"), "psnr_rgb_min_db": float(np.min(finite)) if finite else float("inf"),
            "ssim_rgb": float(np.mean(a["ssim"])), "colourfulness": float(np.mean(a["cf"])),
            "colourfulness_reference": float(np.mean(cf_ref)), "colourfulness_change": float(np.mean(a["cf"]) - np.mean(cf_ref)),
        }
    result = {
        "what": "issue 20: accuracy of the OpenVINO configurations against the FP32 reference, whole pipeline",
        "reference": ref_name, "images_dir": args.images, "images": len(paths), "s8s8_graphs": s8s8,
        "environment": environment(), "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": time.perf_counter() - t_start, "results": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['environment']['date']}-{args.tag}-openvino-accuracy.json"
    path.write_text(json.dumps(result, indent=1))
    for name, r in rows.items():
        print(f"{name}: RGB PSNR {r['psnr_rgb_db']:.1f} dB (min {r['psnr_rgb_min_db']:.1f}), SSIM {r['ssim_rgb']:.4f}, ab mean {r['ab_mean_abs']:.2f} max {r['ab_max_abs']:.1f}, colourfulness change {r['colourfulness_change']:+.2f}")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
