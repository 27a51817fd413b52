"""Output folder locks and the writability check."""

import pytest

from paracolor.engine.outfolder import FolderLock, check_writable
from paracolor.errors import ConfigError


def test_lock_refuses_the_same_folder_and_folders_inside_or_around(tmp_path):
    out = tmp_path / "out"
    (out / "inner").mkdir(parents=True)
    with FolderLock(out):
        for other in (out, out / "inner", tmp_path):
            with pytest.raises(ConfigError, match="another paracolor run"):
                FolderLock(other).__enter__()
        sibling = tmp_path / "sibling"
        sibling.mkdir()
        with FolderLock(sibling):  # folders beside each other share only their ancestors
            pass
    with FolderLock(out):  # released on exit
        pass


def test_lock_is_released_when_refused_half_way(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(tmp_path):
        with pytest.raises(ConfigError):
            FolderLock(out).__enter__()  # took out's lock, then failed on the parent
    with FolderLock(out):  # nothing left held
        pass


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    out = tmp_path / "a" / "b"
    check_writable(out)
    assert out.is_dir() and not list(out.iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot write the output folder"):
        check_writable(tmp_path / "file" / "out")


def test_runs_writing_named_files_share_their_folder_but_not_with_a_folder_run(tmp_path):
    """-o result.png runs take a shared lock on the user's folder: two may run side by side; a
    folder run there (which may clear temporary files) may not."""
    from paracolor.engine.outfolder import FolderLock

    with FolderLock(tmp_path, shared=True), FolderLock(tmp_path, shared=True):
        with pytest.raises(ConfigError, match="another paracolor run"):
            FolderLock(tmp_path).__enter__()
