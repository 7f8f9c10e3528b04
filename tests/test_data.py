"""The training datasets on small layouts made from real footage (``tests/datasets.py``)."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ifrnet.data import (
    Adobe240Windows,
    Augment,
    Batch,
    FootageWindows,
    GoProWindows,
    Sample,
    Vimeo90KSeptuplets,
    Vimeo90KTriplets,
    build_dataset,
    collate,
)
from ifrnet.data import folder as folder_module
from ifrnet.data.gopro import GOPRO_TRAIN_VIDEOS, windows_in
from ifrnet.errors import InputError
from ifrnet.io.flo import read_flo
from ifrnet.io.images import read_image, write_png

from .datasets import FRAME_SIZE, make_footage_folder, make_gopro, make_vimeo_septuplets, make_vimeo_triplets
from .videos import real_frames, write_clip

W, H = FRAME_SIZE


def as_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def check_sample(sample: Sample, size: tuple[int, int] = (H, W), flow: bool | None = None) -> float:
    """Shapes, dtypes and ranges of a Sample; returns its t."""
    assert isinstance(sample, Sample)
    for image in (sample.img0, sample.imgt, sample.img1):
        assert image.shape == (3, *size) and image.dtype == torch.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
    if flow is not None:
        assert (sample.flow is not None) == flow
    if sample.flow is not None:
        assert sample.flow.shape == (4, *size) and sample.flow.dtype == torch.float32
    assert sample.embt.shape == (1, 1, 1) and sample.embt.dtype == torch.float32
    return float(sample.embt)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    gopro_videos = {GOPRO_TRAIN_VIDEOS[0]: 17, GOPRO_TRAIN_VIDEOS[1]: 25, "short_clip": 8}
    return {
        "vimeo": make_vimeo_triplets(base / "vimeo", n_train=4, n_test=2, with_flow=True),
        "vimeo_noflow": make_vimeo_triplets(base / "vimeo_noflow", n_train=3, n_test=1, with_flow=False),
        "septuplet": make_vimeo_septuplets(base / "septuplet", n=3, n_test=1),
        "gopro": make_gopro(base / "gopro", gopro_videos),
    }


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory):
    return make_footage_folder(tmp_path_factory.mktemp("footage") / "clips")


# -- Vimeo90K triplets ---------------------------------------------------------------------------------


def test_vimeo_triplets_give_the_files_and_their_flow_labels(layouts) -> None:
    root = layouts["vimeo"]
    ds = Vimeo90KTriplets(root)
    assert len(ds) == 4
    for index in range(len(ds)):
        sample = ds[index]
        assert check_sample(sample, flow=True) == 0.5
        seq = root / "sequences" / f"00001/{index + 1:04d}"
        for image, name in zip(sample[:3], ("im1.png", "im2.png", "im3.png"), strict=True):
            assert np.array_equal(as_uint8(image), read_image(seq / name))
        label = np.concatenate(
            [read_flo(root / "flow" / f"00001/{index + 1:04d}" / n) for n in ("flow_t0.flo", "flow_t1.flo")], 2
        )
        assert torch.equal(sample.flow, torch.from_numpy(label).permute(2, 0, 1))
    test = Vimeo90KTriplets(root, split="test")
    assert len(test) == 2 and check_sample(test[1], flow=True) == 0.5
    assert check_sample(Vimeo90KTriplets(root, flow=False)[0], flow=False) == 0.5


def test_vimeo_triplets_augmented_and_collated(layouts) -> None:
    ds = Vimeo90KTriplets(layouts["vimeo"], augment=Augment(crop=(32, 32)), seed=5)
    batch = collate([ds[i] for i in range(len(ds))])
    assert isinstance(batch, Batch)
    assert batch.img0.shape == (4, 3, 32, 32) and batch.flow.shape == (4, 4, 32, 32)
    assert batch.embt.shape == (4, 1, 1, 1) and (batch.embt == 0.5).all()
    # per-item randomness is a function of (seed, epoch, index)
    assert torch.equal(ds[2].img0, ds[2].img0)
    other = Vimeo90KTriplets(layouts["vimeo"], augment=Augment(crop=(32, 32)), seed=5)
    assert torch.equal(other[2].flow, ds[2].flow)
    other.set_epoch(1)
    assert any(not torch.equal(other[i].img0, ds[i].img0) for i in range(len(ds)))


def test_vimeo_without_flow_folder_has_no_labels(layouts) -> None:
    ds = Vimeo90KTriplets(layouts["vimeo_noflow"])
    assert check_sample(ds[0], flow=False) == 0.5
    assert collate([ds[0], ds[1]]).flow is None


def copy_layout(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_vimeo_layout_errors_name_the_missing_path(layouts, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere: no such dataset folder; the Vimeo90K triplet layout is"):
        Vimeo90KTriplets(tmp_path / "nowhere")
    root = copy_layout(layouts["vimeo"], tmp_path / "v")
    (root / "tri_testlist.txt").unlink()
    with pytest.raises(InputError, match=r"tri_testlist\.txt: no such list file; the Vimeo90K triplet layout"):
        Vimeo90KTriplets(root, split="test")
    (root / "sequences" / "00001" / "0001" / "im2.png").unlink()
    with pytest.raises(InputError, match=r"00001/0001/im2\.png: no such file; the Vimeo90K triplet layout is"):
        Vimeo90KTriplets(root)
    with pytest.raises(InputError, match="split must be one of train, test"):
        Vimeo90KTriplets(root, split="val")


def test_vimeo_corrupt_samples_raise_or_are_skipped(layouts, tmp_path: Path, caplog) -> None:
    root = copy_layout(layouts["vimeo"], tmp_path / "v")
    seq = root / "sequences" / "00001"
    write_png(seq / "0002" / "im3.png", np.zeros((H + 2, W, 3), np.uint8))  # odd size
    (root / "flow" / "00001" / "0003" / "flow_t1.flo").unlink()  # partial labelling
    (seq / "0004" / "im1.png").write_bytes(b"not a png")
    ds = Vimeo90KTriplets(root)
    with pytest.raises(InputError, match=r"0002/im3\.png: size 64x50 differs from im1\.png \(64x48\)"):
        ds[1]
    with pytest.raises(InputError, match=r"0003/flow_t1\.flo: no such file"):
        ds[2]
    with pytest.raises(InputError, match=r"0004/im1\.png: not a readable image"):
        ds[3]
    tolerant = Vimeo90KTriplets(root, skip_bad=True)
    with caplog.at_level(logging.WARNING, logger="ifrnet.data"):
        sample = tolerant[1]
    assert "skipping bad sample 1" in caplog.text
    good = Vimeo90KTriplets(root)[0]
    assert all(torch.equal(a, b) for a, b in zip(sample[:3], good[:3], strict=True))  # the only good one


# -- Vimeo90K septuplets ---------------------------------------------------------------------------


def frame_number(image: torch.Tensor, frames: list[np.ndarray]) -> int:
    matches = [n for n, f in enumerate(frames) if np.array_equal(as_uint8(image), f)]
    assert len(matches) == 1
    return matches[0]


def test_septuplets_draw_three_ordered_frames_at_the_matching_t(layouts) -> None:
    root = layouts["septuplet"]
    ts = set()
    for seed in range(6):
        ds = Vimeo90KSeptuplets(root, seed=seed)
        assert len(ds) == 3
        for index in range(len(ds)):
            files = [read_image(root / "sequences" / ds.ids[index] / f"im{n}.png") for n in range(1, 8)]
            sample = ds[index]
            t = check_sample(sample, flow=False)
            i, k, j = (frame_number(x, files) for x in sample[:3])
            assert i < k < j and t == pytest.approx((k - i) / (j - i))
            assert 0 < t < 1
            ts.add(round(t, 4))
    assert len(ts) >= 4  # arbitrary t, not always 0.5
    assert torch.equal(Vimeo90KSeptuplets(root, seed=3)[1].imgt, Vimeo90KSeptuplets(root, seed=3)[1].imgt)
    test = Vimeo90KSeptuplets(root, split="test")  # fixed for validation without a seed
    assert len(test) == 1 and torch.equal(test[0].imgt, Vimeo90KSeptuplets(root, split="test")[0].imgt)


def test_septuplet_flow_estimator_sees_the_final_frames(layouts) -> None:
    calls = []

    def estimator(target: np.ndarray, source: np.ndarray) -> np.ndarray:
        calls.append((target.copy(), source.copy()))
        h, w = target.shape[:2]
        return np.full((h, w, 2), len(calls), np.float32)

    ds = Vimeo90KSeptuplets(layouts["septuplet"], augment=Augment(crop=(24, 32)), seed=0, flow_estimator=estimator)
    sample = ds[0]
    check_sample(sample, size=(24, 32), flow=True)
    assert len(calls) == 2
    (t0, s0), (t1, s1) = calls
    assert np.array_equal(t0, as_uint8(sample.imgt)) and np.array_equal(t1, as_uint8(sample.imgt))
    assert np.array_equal(s0, as_uint8(sample.img0)) and np.array_equal(s1, as_uint8(sample.img1))
    assert (sample.flow[:2] == 1).all() and (sample.flow[2:] == 2).all()


# -- GoPro / Adobe240 ---------------------------------------------------------------------------------


def test_gopro_window_count_formula() -> None:
    assert [windows_in(n) for n in (8, 9, 16, 17, 24, 25, 100)] == [0, 1, 1, 2, 2, 3, 12]


def test_gopro_triplets_come_from_9_frame_windows(layouts) -> None:
    root = layouts["gopro"]
    videos = [GOPRO_TRAIN_VIDEOS[0], GOPRO_TRAIN_VIDEOS[1], "short_clip"]
    ds = GoProWindows(root, videos=videos)
    assert ds.num_windows == 2 + 3 + 0 and len(ds) == ds.num_windows * 7 == 35
    seen_t = []
    for index in range(0, len(ds), 3):
        video, first, k = ds.locate(index)
        sample = ds[index]
        t = check_sample(sample, flow=False)
        assert t == pytest.approx(k / 8) and k == index % 7 + 1
        folder = root / videos[video]
        for image, n in zip(sample[:3], (first, first + k, first + 8), strict=True):
            assert np.array_equal(as_uint8(image), read_image(folder / f"{n:06d}.png"))
        seen_t.append(t)
    assert {round(8 * t) for t in seen_t} == set(range(1, 8))
    assert ds.locate(34) == (1, 16, 7)
    assert collate([ds[i] for i in range(7)]).embt.flatten().tolist() == pytest.approx([k / 8 for k in range(1, 8)])


def test_gopro_time_reversal_on_window_datasets(layouts) -> None:
    only_reverse = Augment(p_upscale=0, p_bgr=0, p_vflip=0, p_hflip=0, p_transpose=0, p_swap=0, p_reverse=1)
    ds = GoProWindows(layouts["gopro"], videos=[GOPRO_TRAIN_VIDEOS[0]], augment=only_reverse)
    plain = GoProWindows(layouts["gopro"], videos=[GOPRO_TRAIN_VIDEOS[0]])
    reversed_, forward = ds[2], plain[2]
    assert float(reversed_.embt) == pytest.approx(1 - 3 / 8)
    assert torch.equal(reversed_.img0, forward.img1) and torch.equal(reversed_.img1, forward.img0)


def test_gopro_missing_listed_video_is_named(layouts, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"{GOPRO_TRAIN_VIDEOS[2]}: video folder {GOPRO_TRAIN_VIDEOS[2]} is missing"):
        GoProWindows(layouts["gopro"], split="train")
    with pytest.raises(InputError, match="no such dataset folder; the GoPro layout is"):
        GoProWindows(tmp_path / "none")
    with pytest.raises(InputError, match="has the 9 frames a window needs"):
        GoProWindows(layouts["gopro"], videos=["short_clip"])


def test_adobe240_uses_every_subfolder(layouts) -> None:
    ds = Adobe240Windows(layouts["gopro"], split="test")
    assert sorted(ds.videos) == sorted([GOPRO_TRAIN_VIDEOS[0], GOPRO_TRAIN_VIDEOS[1], "short_clip"])
    assert len(ds) == 35
    check_sample(ds[20])


# -- own footage ----------------------------------------------------------------------------------------


def test_footage_windows_never_cross_the_scene_cut(footage) -> None:
    ds = FootageWindows(footage.root)
    names = [s.name for s in ds.sources]
    assert names == ["clip.mkv", "frames"]
    clip = ds.sources[0]
    assert clip.frames == 2 * footage.cut and ds.sources[1].frames == len(footage.folder_frames)
    spans = [ds.window_frames(i) for i in range(len(ds))]
    on_clip = [numbers for source, numbers in spans if source.name == "clip.mkv"]
    assert on_clip, "no windows on the clip"
    for numbers in on_clip:
        assert max(numbers) < footage.cut or min(numbers) >= footage.cut, numbers
    # every window inside one shot is there: (shot - 2) per shot, and (frames - 2) of the folder
    assert len(on_clip) == 2 * (footage.cut - 2)
    assert len(ds) == len(on_clip) + len(footage.folder_frames) - 2
    # without cut detection the windows across the cut appear, so detection is what removed them
    assert len(FootageWindows(footage.root, scene_threshold=None)) == len(ds) + 2


def test_footage_samples_are_the_decoded_frames(footage) -> None:
    ds = FootageWindows(footage.root, window=5, stride=2, seed=1)
    ts = set()
    for index in range(len(ds)):
        source, numbers = ds.window_frames(index)
        frames = footage.video_frames if source.name == "clip.mkv" else footage.folder_frames
        sample = ds[index]
        t = check_sample(sample, flow=False)
        k = round(t * 4)
        assert 1 <= k <= 3 and t == pytest.approx(k / 4)
        for image, n in zip(sample[:3], (numbers[0], numbers[k], numbers[4]), strict=True):
            assert np.array_equal(as_uint8(image), frames[n])
        ts.add(k)
    assert len(ds) == 4  # two per shot of 10 frames; the 8-frame folder is too short for a span of 8
    assert collate([ds[i] for i in range(len(ds))]).img0.shape == (4, 3, H, W)


def test_footage_cache_is_reused_until_the_source_changes(footage, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "clips"
    shutil.copytree(footage.root, root, ignore=shutil.ignore_patterns(".ifrnet_cache"))
    cache = tmp_path / "cache"
    first = FootageWindows(root, cache_dir=cache)
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".json", ".npy", ".npy"]  # no leftovers
    real_open = folder_module.open_source
    opened = []

    def counting_open(path, *args, **kw):
        opened.append(Path(path).name)
        return real_open(path, *args, **kw)

    monkeypatch.setattr(folder_module, "open_source", counting_open)
    again = FootageWindows(root, cache_dir=cache)
    assert opened == [] and len(again) == len(first)
    assert torch.equal(again[3].imgt, first[3].imgt)
    write_png(root / "frames" / "frame_9999.png", footage.folder_frames[-1][::-1].copy())
    changed = FootageWindows(root, cache_dir=cache)
    assert opened == ["frames"] and changed.sources[1].frames == len(footage.folder_frames) + 1


def test_footage_repeated_frames_break_windows(tmp_path: Path) -> None:
    frames = real_frames("opencv_vtest.avi", 8, FRAME_SIZE)
    root = tmp_path / "dup"
    root.mkdir()
    write_clip(root / "repeat.mkv", [*frames[:4], frames[3], *frames[4:]])  # frame 4 repeats frame 3
    ds = FootageWindows(root)
    assert ds.sources[0].duplicates == tuple(i == 3 for i in range(8))
    for i in range(len(ds)):
        numbers = ds.window_frames(i)[1]
        assert max(numbers) <= 3 or min(numbers) >= 4
    assert len(ds) == 2 + 3


def test_footage_errors_and_skipping(tmp_path: Path, footage, caplog) -> None:
    with pytest.raises(InputError, match="no such footage folder"):
        FootageWindows(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not footage")
    with pytest.raises(InputError, match="no video files or frame folders found"):
        FootageWindows(tmp_path / "empty")
    with pytest.raises(InputError, match="window must be an integer of at least 3"):
        FootageWindows(footage.root, window=2)
    root = tmp_path / "mixed"
    shutil.copytree(footage.root, root, ignore=shutil.ignore_patterns(".ifrnet_cache"))
    (root / "broken.mp4").write_bytes(b"\x00" * 300)
    with pytest.raises(InputError, match=r"broken\.mp4"):
        FootageWindows(root)
    with caplog.at_level(logging.WARNING, logger="ifrnet.data"):
        ds = FootageWindows(root, skip_bad=True)
    assert "broken.mp4" in caplog.text and [s.name for s in ds.sources] == ["clip.mkv", "frames"]


def test_footage_dataset_in_dataloader_workers(footage) -> None:
    ds = pickle.loads(pickle.dumps(FootageWindows(footage.root, augment=Augment(crop=(32, 32)), seed=2)))
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert sum(len(b.img0) for b in batches) == len(ds)
    assert all(b.img0.shape[1:] == (3, 32, 32) and b.flow is None for b in batches)
    direct = ds[5]
    assert torch.equal(batches[1].imgt[1], direct.imgt)  # same sample in a worker as in this process


# -- build_dataset and pickling -----------------------------------------------------------------------


def test_build_dataset_parses_kind_and_path(layouts, footage) -> None:
    assert isinstance(build_dataset(f"vimeo90k:{layouts['vimeo']}"), Vimeo90KTriplets)
    assert len(build_dataset(f"vimeo90k:{layouts['vimeo']}", split="test")) == 2
    assert isinstance(build_dataset(f"vimeo90k-septuplet:{layouts['septuplet']}"), Vimeo90KSeptuplets)
    gopro = build_dataset(f"gopro:{layouts['gopro']}", videos=[GOPRO_TRAIN_VIDEOS[0]], skip_bad=True)
    assert isinstance(gopro, GoProWindows) and len(gopro) == 14 and gopro.skip_bad
    assert isinstance(build_dataset(f"adobe240:{layouts['gopro']}"), Adobe240Windows)
    val = build_dataset(f"folder:{footage.root}", split="test", window=5)
    assert isinstance(val, FootageWindows) and val.seed == 0
    with pytest.raises(InputError, match=r"unknown dataset 'ucf:/x'; expected one of vimeo90k:PATH, .*folder:PATH"):
        build_dataset("ucf:/x")
    with pytest.raises(InputError, match="unknown dataset"):
        build_dataset(str(layouts["vimeo"]))


def test_datasets_pickle(layouts, footage) -> None:
    for ds in (
        Vimeo90KTriplets(layouts["vimeo"], augment=Augment(crop=(32, 32)), seed=1),
        Vimeo90KSeptuplets(layouts["septuplet"], seed=1),
        GoProWindows(layouts["gopro"], videos=[GOPRO_TRAIN_VIDEOS[1]], seed=1),
        FootageWindows(footage.root, seed=1),
    ):
        ds[0]  # opens whatever it caches
        copy = pickle.loads(pickle.dumps(ds))
        assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(copy[1], ds[1], strict=True)), type(
            ds
        ).__name__


def test_flow_label_of_the_wrong_size_is_named(layouts, tmp_path: Path) -> None:
    from ifrnet.io.flo import write_flo

    root = copy_layout(layouts["vimeo"], tmp_path / "v")
    write_flo(root / "flow" / "00001" / "0001" / "flow_t0.flo", np.zeros((10, 12, 2), np.float32))
    with pytest.raises(InputError, match=r"0001/flow_t0\.flo: flow of 12x10 does not match its frames \(64x48\)"):
        Vimeo90KTriplets(root)[0]


def test_dataset_options_after_a_question_mark(tmp_path: Path) -> None:
    from ifrnet.data import build_dataset
    from ifrnet.data.pseudo_flow import DISFlow

    footage = make_footage_folder(tmp_path / "f")
    ds = build_dataset(f"folder:{footage.root}?window=5&stride=1&flow=dis:fast&cache_dir={tmp_path / 'c'}")
    assert isinstance(ds.flow_estimator, DISFlow) and ds.window == 5
    assert ds[0].flow.shape == (4, 48, 64)
    with pytest.raises(InputError, match="unexpected keyword argument 'colour'"):
        build_dataset(f"folder:{footage.root}?colour=1")
    with pytest.raises(InputError, match="name=value"):
        build_dataset(f"folder:{footage.root}?window")


def test_a_read_only_frame_becomes_a_tensor_without_a_warning():
    import warnings

    from ifrnet.data.types import to_tensor

    frame = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    frame.setflags(write=False)  # as the int8 calibration's decoded frames are
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "not writable" UserWarning fails this
        tensor = to_tensor(frame)
    assert tensor.shape == (3, 4, 6) and float(tensor[2, 3, 5]) == pytest.approx(frame[3, 5, 2] / 255.0)
