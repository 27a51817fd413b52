"""Load test of ``paracolor serve``: N concurrent clients send a fixed count of requests to localhost.

    python benchmarks/serve_load.py --images ../shared/data/val/coco --tag cpu-2core-xeon

Starts ``paracolor serve`` on free localhost ports (or uses ``--url`` of a running one), then for
each photo size (256 px and 2 MP grey JPEGs made from ``--images``) and each concurrency runs
warm-up requests, then exactly ``--requests`` timed ones (one photo each), and reports requests/s,
p50/p90/p99 latency, errors and the mean batch the dynamic batcher formed (from the server's
Prometheus metrics). Writes ``<date>-<tag>-serve-load.{json,md}`` to ``-o``. Every loop is
bounded by the request count and a per-request timeout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paracolor.engine.io import find_images  # noqa: E402
from paracolor.serve.launch import ServeProcess  # noqa: E402

#: name -> (width, height) of the photos sent
SIZES = {"256": (256, 256), "2mp": (1728, 1152)}


def make_photos(folder: str, size: tuple[int, int], count: int) -> list[bytes]:
    """Grey JPEGs (quality 95) of ``size`` from the first ``count`` photos of ``folder`` (centre crop, cubic resize)."""
    out = []
    for src, _ in find_images([folder])[:count]:
        grey = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
        h, w = grey.shape
        tw, th = size
        scale = max(tw / w, th / h)
        resized = cv2.resize(grey, (max(tw, round(w * scale)), max(th, round(h * scale))), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        y, x = (resized.shape[0] - th) // 2, (resized.shape[1] - tw) // 2
        out.append(cv2.imencode(".jpg", resized[y : y + th, x : x + tw], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    if not out:
        raise SystemExit(f"no photos in {folder}")
    return out


def _client(protocol: str, url: str):
    if protocol == "grpc":
        import tritonclient.grpc as mod

        return mod, mod.InferenceServerClient(url)
    import tritonclient.http as mod

    return mod, mod.InferenceServerClient(url, connection_timeout=120, network_timeout=120)


def one_request(mod, client, blob: bytes, fmt: str) -> str:
    """Send one photo; '' on success, else the error."""
    image = mod.InferInput("image", [1, 1], "BYTES")
    image.set_data_from_numpy(np.array([[blob]], dtype=object))
    fm = mod.InferInput("format", [1, 1], "BYTES")
    fm.set_data_from_numpy(np.array([[fmt.encode()]], dtype=object))
    try:
        res = client.infer("paracolor", [image, fm], **({"client_timeout": 120} if mod.__name__.endswith("grpc") else {}))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    err = res.as_numpy("error")[0, 0]
    if err:
        return err.decode()
    return "" if len(res.as_numpy("image")[0, 0]) else "empty image"


def run_level(protocol: str, url: str, photos: list[bytes], concurrency: int, requests: int, fmt: str) -> dict:
    """``requests`` requests from ``concurrency`` clients, each with its own connection."""
    lock = threading.Lock()
    state = {"next": 0}
    latencies, errors = [], []

    def worker():
        mod, client = _client(protocol, url)
        with closing(client):
            while True:
                with lock:
                    i = state["next"]
                    if i >= requests:
                        return
                    state["next"] += 1
                t0 = time.perf_counter()
                err = one_request(mod, client, photos[i % len(photos)], fmt)
                dt = time.perf_counter() - t0
                with lock:
                    (errors.append(err) if err else latencies.append(dt))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "concurrency": concurrency, "requests": requests, "errors": len(errors), "first_errors": errors[:3],
        "seconds": round(seconds, 3), "requests_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1), "p90_ms": round(float(np.percentile(ms, 90)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
    }


def batch_counters(server) -> tuple[float, float]:
    """(items inferred, model executions) of model paracolor, from the Prometheus metrics."""
    if server is None:
        return float("nan"), float("nan")
    values = {}
    for line in server.metrics_text().splitlines():
        if line.startswith(("nv_inference_count{", "nv_inference_exec_count{")) and 'model="paracolor"' in line:
            values[line.split("{")[0]] = float(line.split()[-1])
    return values.get("nv_inference_count", float("nan")), values.get("nv_inference_exec_count", float("nan"))


def in_process_baseline(photos: list[bytes], count: int, fmt: str, serve_args: str) -> dict:
    """The same work without Triton: the ``paracolor`` model's callable on one photo at a time, in
    this process (decode, networks, finish, encode), so the server's overhead can be told apart."""
    from paracolor.engine.config import EngineConfig
    from paracolor.engine.pipeline import Colorizer
    from paracolor.serve.models import ColorizeModel

    opts = serve_args.split()
    model_dir = opts[opts.index("--model") + 1] if "--model" in opts else None
    with Colorizer(EngineConfig(model_dir=model_dir)) as col:
        model = ColorizeModel(col)
        request = lambda b: [{"image": np.array([[b]], dtype=object), "format": np.array([[fmt.encode()]], dtype=object)}]
        model(request(photos[0]))  # warm
        times = []
        for i in range(count):
            t0 = time.perf_counter()
            out = model(request(photos[i % len(photos)]))
            times.append(time.perf_counter() - t0)
            assert not out[0]["error"][0, 0], out[0]["error"][0, 0]
        model.close()
    ms = np.array(times) * 1000
    return {"requests": count, "p50_ms": round(float(np.median(ms)), 1), "requests_per_s": round(count / (ms.sum() / 1000), 2)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="folder of photos to send (made grey, resized)")
    ap.add_argument("--sizes", default="256,2mp")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--requests", default="256:64,2mp:32", help="timed requests per level, per size")
    ap.add_argument("--photos", type=int, default=16, help="distinct photos per size")
    ap.add_argument("--protocol", choices=["http", "grpc"], default="http")
    ap.add_argument("--format", default="jpeg", choices=["png", "jpeg", "webp"])
    ap.add_argument("--url", default=None, help="a running server (host:port); default: start one here")
    ap.add_argument("--serve-args", default="", help="options for the started 'paracolor serve'")
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--tag", default="cpu")
    ap.add_argument("--baseline", type=int, default=8, help="photos per size through the same code in-process, without Triton (0: skip)")
    args = ap.parse_args(argv)
    counts = dict(kv.split(":") for kv in args.requests.split(","))
    levels = [int(c) for c in args.concurrency.split(",")]
    record = {"date": datetime.date.today().isoformat(), "machine": machine(), "protocol": args.protocol, "format": args.format, "serve_args": args.serve_args, "results": []}
    photo_sets = {size: make_photos(args.images, SIZES[size], args.photos) for size in args.sizes.split(",")}
    if args.baseline:
        record["in_process"] = {size: in_process_baseline(p, args.baseline, args.format, args.serve_args) for size, p in photo_sets.items()}
        print("in process, one photo at a time:", json.dumps(record["in_process"]), flush=True)
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url is None:
            server = ServeProcess(args.serve_args.split(), Path(tmp) / "serve.log")
            t0 = time.perf_counter()
            server.wait_ready()
            record["ready_s"] = round(time.perf_counter() - t0, 1)
            url = server.http_url if args.protocol == "http" else server.grpc_url
        else:
            url = args.url
        try:
            for size, photos in photo_sets.items():
                for c in levels:
                    run_level(args.protocol, url, photos, c, c, args.format)  # warm-up: one request per client
                    items0, execs0 = batch_counters(server)
                    row = {"size": size, "pixels": SIZES[size][0] * SIZES[size][1], **run_level(args.protocol, url, photos, c, int(counts[size]), args.format)}
                    items1, execs1 = batch_counters(server)
                    row["mean_batch"] = round((items1 - items0) / max(execs1 - execs0, 1), 2)
                    record["results"].append(row)
                    print(json.dumps(row), flush=True)
        finally:
            if server is not None:
                record["server_exit"] = server.stop()
    record["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{record['date']}-{args.tag}-serve-load"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
    lines = [
        f"# paracolor serve load test ({record['date']})", "",
        f"{record['machine']['cpu']}, {record['machine']['cores']} cores; load average before {record['machine']['load_average']}, after {record['machine']['load_average_after']};"
        f" {args.protocol}, output {args.format}, server options `{args.serve_args or '(defaults)'}`.", "",
        "| photo | clients | requests | errors | req/s | p50 ms | p90 ms | p99 ms | mean batch |", "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['size']} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['mean_batch']} |" for r in record["results"]]
    if args.baseline:
        lines += ["", "The same work in one process without Triton, one photo at a time (decode, networks, finish, encode): "
                  + "; ".join(f"{k}: p50 {v['p50_ms']} ms, {v['requests_per_s']} photos/s" for k, v in record["in_process"].items()) + "."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"written: {stem}.json, {stem}.md")
    return 1 if any(r["errors"] for r in record["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
