"""Colorize photos through a running ``paracolor serve`` (or any Triton serving its models).

    python examples/client.py photo.jpg scan.png -o out/                    # model paracolor, HTTP
    python examples/client.py photo.jpg -o out/ --protocol grpc --url localhost:8001 --format jpeg
    python examples/client.py photo.jpg -o out/ --ab                        # model paracolor_ab: own pre/post-processing

Needs only tritonclient (``pip install 'tritonclient[http,grpc]'``), numpy and, for ``--ab``, OpenCV:
no paracolor on the client. The model ``paracolor`` answers every photo with either an encoded
image or, in its ``error`` output, why that photo failed; the others of the same request are
unaffected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def client_for(protocol: str, url: str):
    if protocol == "grpc":
        import tritonclient.grpc as mod
    else:
        import tritonclient.http as mod
    return mod, mod.InferenceServerClient(url)


def colorize(mod, client, blobs: list[bytes], fmt: str) -> list[tuple[bytes, str]]:
    """Encoded photos -> (encoded colorized photo or b"", error or "") each, in one request."""
    image = mod.InferInput("image", [len(blobs), 1], "BYTES")
    image.set_data_from_numpy(np.array([[b] for b in blobs], dtype=object))
    fmts = mod.InferInput("format", [len(blobs), 1], "BYTES")
    fmts.set_data_from_numpy(np.array([[fmt.encode()]] * len(blobs), dtype=object))
    result = client.infer("paracolor", [image, fmts])
    return [(im[0], err[0].decode()) for im, err in zip(result.as_numpy("image"), result.as_numpy("error"))]


def colorize_ab(mod, client, path: Path) -> np.ndarray:
    """The client's own pre/post-processing around ``paracolor_ab``: Lab L at the model's size in,
    ab out, upsampled and merged with the photo's own L (what the ``paracolor`` model does)."""
    import cv2

    meta = client.get_model_metadata("paracolor_ab", as_json=True) if mod.__name__.endswith("grpc") else client.get_model_metadata("paracolor_ab")
    size = int(meta["inputs"][0]["shape"][-1])
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"{path}: not an image OpenCV can read")
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    L_net = cv2.resize(lab[..., 0], (size, size), interpolation=cv2.INTER_AREA) / 50.0 - 1.0  # the network's scale
    inp = mod.InferInput("L", [1, 1, size, size], "FP32")
    inp.set_data_from_numpy(L_net[None, None].astype(np.float32))
    ab = client.infer("paracolor_ab", [inp]).as_numpy("ab")[0] * 110.0  # back to Lab units
    h, w = bgr.shape[:2]
    lab[..., 1:] = cv2.resize(ab.transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255 + 0.5, 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--protocol", choices=["http", "grpc"], default="http")
    ap.add_argument("--url", default=None, help="host:port (default: localhost:8000 for HTTP, localhost:8001 for gRPC)")
    ap.add_argument("--format", default="png", choices=["png", "jpeg", "webp"])
    ap.add_argument("--ab", action="store_true", help="use paracolor_ab with the client's own pre/post-processing")
    args = ap.parse_args(argv)
    mod, client = client_for(args.protocol, args.url or ("localhost:8001" if args.protocol == "grpc" else "localhost:8000"))
    args.output.mkdir(parents=True, exist_ok=True)
    failed = 0
    if args.ab:
        import cv2

        for p in args.photos:
            cv2.imwrite(str(args.output / f"{p.stem}.png"), colorize_ab(mod, client, p))
            print(f"{p} -> {args.output / (p.stem + '.png')}")
        return 0
    ext = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[args.format]
    for p, (blob, error) in zip(args.photos, colorize(mod, client, [p.read_bytes() for p in args.photos], args.format)):
        if error:
            failed += 1
            print(f"FAILED {p}: {error}", file=sys.stderr)
        else:
            (args.output / f"{p.stem}{ext}").write_bytes(blob)
            print(f"{p} -> {args.output / (p.stem + ext)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
