"""A labelled grid of validation photos: grey input | paracolor | truth, one photo a row.

    python scripts/quality_grid.py DATA_DIR -o runs/quality_grid.jpg [--model DIR] [--model OLD_DIR]

The default selection covers what users notice first: fruit (strawberry, apple), vegetables
and food, foliage, red objects (tie, sailboats, car, ibis), people and skies. With a second
``--model`` each row gains that model's output (e.g. the previous default) for comparison.

The validation photos are research-licensed (ImageNet, ADE20K, COCO): the grid is written where
you say, never into the repository (README shows the bundled public-domain examples instead).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from paracolor.engine.io import read_image
from paracolor.engine.pipeline import Colorizer, EngineConfig

SELECTION = (
    "objects/n07745940_strawberry.jpg", "objects/n07742313_Granny_Smith.jpg", "objects/n07720875_bell_pepper.jpg",
    "objects/n07714990_broccoli.jpg", "objects/n07697313_cheeseburger.jpg", "objects/n07718472_cucumber.jpg",
    "objects/n04591157_Windsor_tie.jpg", "objects/n04584207_wig.jpg", "objects/n04562935_water_tower.jpg",
    "objects/n04592741_wing.jpg", "coco/000000000021.jpg", "coco/000000000036.jpg", "coco/000000000069.jpg",
    "coco/000000000013.jpg", "scenes/ADE_val_00001801.jpg", "scenes/ADE_val_00001805.jpg",
)


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (8 + 8 * len(text), 20), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def grid(data: Path, models: list[str | None], names: list[str], cell: int = 192) -> np.ndarray:
    photos = [read_image(data / "val" / n) for n in names]
    columns = []
    for m in models:
        with Colorizer(EngineConfig(model_dir=m)) as col:
            columns.append([r.bgr for r in col.colorize(photos)])
    rows = []
    for i, (name, img) in enumerate(zip(names, photos)):
        truth = np.ascontiguousarray(img.pixels[..., ::-1])
        grey = cv2.cvtColor(cv2.cvtColor(truth, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        cells = [(grey, "grey input")] + [(c[i], "paracolor" if j == 0 else f"model {j + 1}") for j, c in enumerate(columns)] + [(truth, "truth")]
        rows.append(np.hstack([label(cv2.resize(x, (cell, cell), interpolation=cv2.INTER_AREA), t) for x, t in cells]))
    return np.vstack(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model", action="append", default=None, help="model folder (repeatable; default: bundled)")
    ap.add_argument("--photo", action="append", default=None, help="SET/FILE under DATA/val (repeatable)")
    args = ap.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    img = grid(Path(args.data), args.model or [None], args.photo or list(SELECTION))
    if not cv2.imwrite(str(out), img, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise SystemExit(f"{out}: could not write the grid")
    print(f"wrote {out} ({img.shape[1]}x{img.shape[0]})")


if __name__ == "__main__":
    main()
