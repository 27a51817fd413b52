"""CPU engine benchmark (issue 3's targets), printing numbers and writing a results file.

1. ONNX Runtime vs PyTorch eager end-to-end throughput on the same weights, 256x256 photos,
   measured in one run with the two backends interleaved (blocks alternate, so drift in the
   machine's load affects both alike).
2. Cost of a 3000x2000 photo against a 256x256 one through the ONNX Runtime pipeline, with and
   without the JPEG codec (decode/encode scale with pixels whatever the engine does), for grey
   inputs (what a colorizer is given) and colour inputs (one more full-size Lab conversion),
   and through the whole folder job (`paracolor colorize`, batch 1) on grey JPEGs. Finishing
   writes into reused buffers as the folder job does; the `*_engine_only_new_arrays` rows give
   every photo new full-size arrays, as a library call to `Colorizer.colorize` does (that
   costs page faults whose price depends on the allocator's state: it varies run to run).

Usage: python benchmarks/engine_cpu.py [--model DIR] [--images DIR] [--rounds 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from paracolor.bench.harness import environment
from paracolor.engine.io import decode_image, encode_image, find_images
from paracolor.engine.pipeline import Colorizer, EngineConfig, FinishBuffers


def time_pipeline(col: Colorizer, blobs: list, codec: bool, reuse: bool = True) -> float:
    """Seconds per image for decode? + prepare + infer + finish + encode? (batch 1).

    With ``codec`` the items are encoded files; without, decoded images (decoded once for all
    rounds, so the engine's steady state is timed, not the first touches of fresh pixels).
    ``reuse``: finish into reused buffers, as the batch job does; without, every photo gets new
    full-size arrays, as ``Colorizer.colorize`` gives a library caller.
    """
    buffers = FinishBuffers() if reuse else None
    t0 = time.perf_counter()
    for item in blobs:
        img = decode_image(item) if codec else item
        prep = col.prepare(img)
        out = col.infer(prep.L_net[None])
        bgr = col.finish(prep, out["ab"][0], buffers)
        if codec:
            encode_image(bgr, "jpg")
    return (time.perf_counter() - t0) / len(blobs)


def time_folder_job(col: Colorizer, base: np.ndarray, rounds: int, n: int = 12) -> dict:
    """ms per image of the whole folder job (colorize_files: decode, prepare, infer, finish,
    encode, write; its three stages overlap) on n grey JPEGs at 256x256 and at 3000x2000."""
    import shutil
    import tempfile

    from paracolor.engine.batch import ColorizeConfig, colorize_files

    root = Path(tempfile.mkdtemp(prefix="paracolor-bench-"))
    try:
        grey = cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
        for kind, size in (("256x256", (256, 256)), ("3000x2000", (3000, 2000))):
            (root / kind).mkdir()
            for i in range(n):
                img = cv2.resize(np.roll(grey, 17 * i, axis=1), size, interpolation=cv2.INTER_CUBIC)
                cv2.imwrite(str(root / kind / f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        res = {}
        for _ in range(rounds):
            for kind in ("256x256", "3000x2000"):
                out = root / f"out-{kind}"
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                summary = colorize_files(ColorizeConfig(inputs=[str(root / kind)], output_dir=str(out), progress=False, batch_size=1), col)
                res.setdefault(kind, []).append((time.perf_counter() - t0) / n)
                assert len(summary.done) == n, summary.failed
    finally:
        shutil.rmtree(root, ignore_errors=True)
    s_, b_ = (float(np.median(res[k])) for k in ("256x256", "3000x2000"))
    rounds_ms = {k: [round(1000 * x, 1) for x in v] for k, v in res.items()}
    return {"256x256_ms": 1000 * s_, "3000x2000_ms": 1000 * b_, "ratio": b_ / s_, "rounds_ms": rounds_ms}


def _row(small_s: list[float], big_s: list[float]) -> dict:
    s_, b_ = float(np.median(small_s)), float(np.median(big_s))
    rounds = {"256x256": [round(1000 * x, 1) for x in small_s], "3000x2000": [round(1000 * x, 1) for x in big_s]}
    return {"256x256_ms": 1000 * s_, "3000x2000_ms": 1000 * b_, "ratio": b_ / s_, "rounds_ms": rounds}


def table_resident_mb(lab_tables) -> dict:
    """Resident memory of each lookup table (Linux /proc/self/smaps; empty elsewhere)."""
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return {}
    vmas, cur = [], None
    for line in text.splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            cur = [lo, hi, 0]
            vmas.append(cur)
        elif line.startswith("Rss:") and cur is not None:
            cur[2] = int(line.split()[1])
    out = {}
    for name, t in (("lab_to_bgr", lab_tables._LAB.table), ("rgb_to_L", lab_tables._RGB_L.table)):
        a = t.__array_interface__["data"][0]
        out[name] = sum(kb for lo, hi, kb in vmas if lo < a + t.nbytes and hi > a) / 1024
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: bundled)")
    ap.add_argument("--images", default=None, help="256x256 photos (default: synthetic)")
    ap.add_argument("--num", type=int, default=20, help="images per block")
    ap.add_argument("--rounds", type=int, default=5, help="alternating blocks per backend")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()

    if args.images:
        paths = [p for p, _ in find_images([args.images])][: args.num]
        small = [cv2.imencode(".jpg", cv2.resize(cv2.imread(str(p)), (256, 256)))[1].tobytes() for p in paths]
    else:
        rng = np.random.default_rng(0)
        small = [cv2.imencode(".jpg", cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8), (256, 256), interpolation=cv2.INTER_CUBIC))[1].tobytes() for _ in range(args.num)]
    base = cv2.imdecode(np.frombuffer(small[0], np.uint8), cv2.IMREAD_COLOR)

    cols = {b: Colorizer(EngineConfig(model_dir=args.model, backend=b)) for b in ("onnxruntime", "torch")}
    for col in cols.values():  # warm-up
        time_pipeline(col, small[:3], True)
    per = {b: [] for b in cols}
    for _ in range(args.rounds):
        for b, col in cols.items():
            per[b].append(time_pipeline(col, small, True))
    ort_ips = 1.0 / np.median(per["onnxruntime"])
    pt_ips = 1.0 / np.median(per["torch"])

    ort = cols["onnxruntime"]
    sizes = {}
    for kind in ("grey", "colour"):  # colorizer inputs are usually grey; colour shows the worst case
        def enc(img, q=95):
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if kind == "grey" else img
            return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])[1].tobytes()

        small_k = [enc(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)) for b in small[:5]]
        big_k = [enc(cv2.resize(base, (3000, 2000), interpolation=cv2.INTER_CUBIC), 92)] * 3
        # the process's first large photo also loads the compiled Lab kernels and fills table rows:
        # a one-time cost, recorded on its own
        sizes[f"{kind}_first_3000x2000_ms"] = 1000 * time_pipeline(ort, big_k[:1], True)
        for codec in (False, True):
            items = {"s": small_k, "b": big_k} if codec else {"s": [decode_image(b) for b in small_k], "b": [decode_image(b) for b in big_k]}
            s_ = [time_pipeline(ort, items["s"], codec) for _ in range(args.rounds)]
            b_ = [time_pipeline(ort, items["b"], codec) for _ in range(args.rounds)]
            sizes[f"{kind}_{'with_codec' if codec else 'engine_only'}"] = _row(s_, b_)
            if not codec:  # the library call: new full-size arrays for every photo
                s_ = [time_pipeline(ort, items["s"], codec, reuse=False) for _ in range(args.rounds)]
                b_ = [time_pipeline(ort, items["b"], codec, reuse=False) for _ in range(args.rounds)]
                sizes[f"{kind}_engine_only_new_arrays"] = _row(s_, b_)
    sizes["grey_folder_job"] = time_folder_job(ort, base, args.rounds)
    from paracolor import lab_tables

    tables = lab_tables.stats()
    for name, rss in table_resident_mb(lab_tables).items():
        tables[name]["resident_mb"] = rss
    result = {
        "what": "paracolor CPU engine benchmark (batch 1, 256x256 network input)",
        "environment": environment(),
        "model": str(ort.folder.root),
        "throughput_img_s": {"onnxruntime": ort_ips, "torch_eager": pt_ips, "speedup": ort_ips / pt_ips},
        "per_block_s_per_image": per,
        "fullres_cost": sizes,
        "lab_tables": tables,
        "targets": {"ort_vs_torch_speedup_min": 1.3, "fullres_ratio_max": 1.25},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['environment']['date']}-{args.tag}-engine-cpu.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"end-to-end throughput, 256x256, batch 1: onnxruntime {ort_ips:.2f} img/s, torch eager {pt_ips:.2f} img/s -> {ort_ips / pt_ips:.2f}x")
    for k, v in sizes.items():
        if not isinstance(v, dict):
            print(f"{k}: {v:.0f} ms")
            continue
        print(f"{k}: 256x256 {v['256x256_ms']:.1f} ms, 3000x2000 {v['3000x2000_ms']:.1f} ms -> {v['ratio']:.2f}x")
    for name, t in tables.items():
        print(f"lab table {name}: {t['rows']} rows, {t.get('resident_mb', float('nan')):.1f} MB resident")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
