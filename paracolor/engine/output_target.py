"""Is ``-o`` a folder or the output file itself?

``paracolor colorize photo.jpg -o result.png`` writes result.png: with one input file, an
``-o`` that ends in an image extension paracolor writes and is not an existing folder names the
output file; likewise one input video and an ``-o`` in a container paracolor writes (.mp4,
.mkv, .mov, .webm, ...). Anything else is a folder (created if needed), whose layout mirrors the inputs.
An ``-o`` that looks like one image file but cannot be one (several inputs, a folder input,
an extension paracolor cannot write, a clashing --format or a --suffix) is refused with the
reason, rather than silently becoming a folder named ``result.png``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .io import IMAGE_EXTENSIONS, OUTPUT_FORMATS
from .video.container import OUTPUT_CONTAINERS, VIDEO_EXTENSIONS, is_video_path


def output_target(inputs: list[str], output: str, fmt: str | None = None, suffix: str = "") -> tuple[str, str | None]:
    """``(output_dir, output_file)`` for a colorize run: ``output_file`` is None in folder mode;
    in single-file mode ``output_dir`` is the file's folder."""
    path = Path(output)
    if "://" in output or output.endswith(("/", "\\")) or path.is_dir():
        return output, None
    ext = path.suffix.lower()
    one_video = len(inputs) == 1 and is_video_path(inputs[0]) and Path(inputs[0]).is_file()
    if one_video and ext in OUTPUT_CONTAINERS and OUTPUT_CONTAINERS[ext][1] == ext:
        if suffix:
            raise ConfigError(f"--suffix names outputs written into a folder; -o {output} names the file itself")
        return str(path.parent), str(path)  # clip.mp4 -o colour.mkv: that video file
    if one_video and ext in VIDEO_EXTENSIONS:  # a video container paracolor does not write itself
        writable = sorted({e for _, e in OUTPUT_CONTAINERS.values()})
        raise ConfigError(f"-o {output}: paracolor writes videos as {', '.join(writable)}, not {ext} (or give a folder)")
    if one_video and ext in IMAGE_EXTENSIONS:
        raise ConfigError(f"-o {output} names an image file, but {inputs[0]} is a video; give a video file name (e.g. .mp4, .mkv) or a folder")
    if ext not in IMAGE_EXTENSIONS:
        if path.exists():
            raise ConfigError(f"-o {output}: exists and is neither a folder nor an image file")
        return output, None
    writable = sorted(set(OUTPUT_FORMATS.values()))
    if ext.lstrip(".") not in OUTPUT_FORMATS:
        raise ConfigError(f"-o {output}: paracolor writes {', '.join(writable)} files, not {ext}")
    if len(inputs) != 1 or not Path(inputs[0]).is_file():
        what = f"{len(inputs)} inputs" if len(inputs) != 1 else f"{inputs[0]} (not one file)"
        raise ConfigError(f"-o {output} names one image file, but the input is {what}; give a folder for -o")
    if fmt and OUTPUT_FORMATS[fmt.lower()] != OUTPUT_FORMATS[ext.lstrip(".")]:
        raise ConfigError(f"-o {output} is a {ext} file but --format is {fmt}; drop one of them")
    if suffix:
        raise ConfigError(f"--suffix names outputs written into a folder; -o {output} names the file itself")
    return str(path.parent), str(path)


def stage_file(output_file: Path, role: str) -> Path:
    """Where --save-stages puts a stage's result beside a named output file (result_fg.png)."""
    return output_file.with_name(f"{output_file.stem}_{role}{output_file.suffix}")
