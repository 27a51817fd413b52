"""-o as a folder or as the one output file."""

import pytest

from paracolor.engine.output_target import output_target, stage_file
from paracolor.errors import ConfigError


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.jpg"
    p.write_bytes(b"not decoded here")
    return p


@pytest.mark.parametrize("name", ["result.png", "result.JPG", "result.jpeg", "r.tif", "r.tiff", "r.webp", "sub/dir/result.png"])
def test_image_extension_names_the_file(photo, tmp_path, name):
    out = tmp_path / name
    assert output_target([str(photo)], str(out)) == (str(out.parent), str(out))


def test_folders_stay_folders(photo, tmp_path):
    for out in (str(tmp_path / "out"), str(tmp_path / "out") + "/", "s3://bucket/x.png"):
        assert output_target([str(photo)], out) == (out, None)
    (tmp_path / "dir.png").mkdir()
    assert output_target([str(photo)], str(tmp_path / "dir.png")) == (str(tmp_path / "dir.png"), None)


def test_an_existing_file_that_is_no_image_is_refused(photo, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="neither a folder nor an image file"):
        output_target([str(photo)], str(tmp_path / "notes.txt"))


def test_what_cannot_be_one_file_is_refused(photo, tmp_path):
    out = str(tmp_path / "r.png")
    with pytest.raises(ConfigError, match="2 inputs"):
        output_target([str(photo), str(photo)], out)
    with pytest.raises(ConfigError, match="not one file"):
        output_target([str(tmp_path)], out)
    with pytest.raises(ConfigError, match="not .bmp"):
        output_target([str(photo)], str(tmp_path / "r.bmp"))
    with pytest.raises(ConfigError, match="--format is webp"):
        output_target([str(photo)], out, fmt="webp")
    with pytest.raises(ConfigError, match="--suffix"):
        output_target([str(photo)], out, suffix="_c")
    assert output_target([str(photo)], str(tmp_path / "r.jpg"), fmt="jpeg")[1] == str(tmp_path / "r.jpg")


def test_stage_files_sit_beside(tmp_path):
    assert stage_file(tmp_path / "result.webp", "fg") == tmp_path / "result_fg.webp"


def test_resume_of_a_named_file_clears_only_its_own_partials(tiny_model_dir, tmp_path):
    from paracolor.engine.batch import ColorizeConfig, colorize_files
    from paracolor.engine.config import EngineConfig
    from tests.conftest import write_photo

    src = write_photo(tmp_path / "in" / "photo.jpg")
    home = tmp_path / "home"
    (home / "project").mkdir(parents=True)
    mine, theirs = home / ".result.png.abc123.partial", home / "project" / ".other.png.xyz.partial"
    mine.write_bytes(b"stale")
    theirs.write_bytes(b"someone else's")
    out_dir, out_file = output_target([str(src)], str(home / "result.png"))
    summary = colorize_files(ColorizeConfig(inputs=[str(src)], output_dir=out_dir, output_file=out_file, resume=True, progress=False, engine=EngineConfig(model_dir=str(tiny_model_dir))))
    assert summary.ok and (home / "result.png").is_file()
    assert not mine.exists() and theirs.exists()


def test_one_video_names_its_output_video_or_is_refused(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded here")
    assert output_target([str(clip)], str(tmp_path / "c.mkv")) == (str(tmp_path), str(tmp_path / "c.mkv"))
    for bad, why in (("c.avi", "writes videos as"), ("c.png", "is a video")):
        with pytest.raises(ConfigError, match=why):
            output_target([str(clip)], str(tmp_path / bad))
