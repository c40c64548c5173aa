import pytest

from tracking.errors import TrackingInputError
from tracking.media_files import find_videos, is_image_path


def test_one_suffix_list_for_every_folder_search(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("a.MP4", "b/c.mpg", "b/d.jpg", ".hidden.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert find_videos([tmp_path]) == [tmp_path / "a.MP4", tmp_path / "b" / "c.mpg"]
    assert find_videos([tmp_path], stills=True) == [
        tmp_path / "a.MP4",
        tmp_path / "b" / "c.mpg",
        tmp_path / "b" / "d.jpg",
    ]
    assert find_videos([tmp_path / "notes.txt"]) == [
        tmp_path / "notes.txt"
    ]  # a file named directly is taken as given
    assert is_image_path("x.JPEG") and not is_image_path("x.mpg")
    with pytest.raises(TrackingInputError, match="not found"):
        find_videos([tmp_path / "missing"])
