"""The synthetic motion dataset: its flow label is exact, its t is honest, its items are reproducible."""

from __future__ import annotations

import importlib.util
import itertools
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ifrnet.data import Augment, Sample, SyntheticMotion, build_dataset, collate
from ifrnet.data import synthetic as synthetic_module
from ifrnet.data.synthetic import SyntheticItem
from ifrnet.errors import InputError
from ifrnet.io.images import read_image
from ifrnet.models.ops import warp

from .conftest import EXAMPLES

needs_skimage = pytest.mark.skipif(
    importlib.util.find_spec("skimage") is None, reason="default textures come from scikit-image (ifrnet[train])"
)
FOOTAGE = EXAMPLES / "vtest_200.png"


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0) / 255.0


def visible(item: SyntheticItem, end: int) -> np.ndarray:
    """imgt pixels whose point is seen, unblended, in frame ``end`` (0 or 2) at all four bilinear neighbours.

    Built from the renderer's own layer bookkeeping: the pixel shows one layer alone at time t,
    its point lands inside the frame at time 0 / 1, and there the same layer is alone too.
    """
    h, w = item.flow.shape[:2]
    u = item.flow[..., 0 if end == 0 else 2]
    v = item.flow[..., 1 if end == 0 else 3]
    ys, xs = np.mgrid[0:h, 0:w]
    qx, qy = xs + u, ys + v
    ok = item.solid[1] & (qx >= 0) & (qx <= w - 1) & (qy >= 0) & (qy <= h - 1)
    x0 = np.clip(np.floor(qx).astype(int), 0, w - 1)
    y0 = np.clip(np.floor(qy).astype(int), 0, h - 1)
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = np.minimum(y0 + dy, h - 1), np.minimum(x0 + dx, w - 1)
            ok &= item.solid[end][yy, xx] & (item.owner[end][yy, xx] == item.owner[1])
    return ok


def warp_errors(item: SyntheticItem) -> list[tuple[float, float, float]]:
    """Per input frame: (mean |warp(input, label) - imgt|, mean |input - imgt|, visible fraction) on visible pixels."""
    img0, imgt, img1 = (as_tensor(f) for f in item.frames)
    flow = torch.from_numpy(item.flow).permute(2, 0, 1).unsqueeze(0)
    out = []
    for end, source, part in ((0, img0, flow[:, 0:2]), (2, img1, flow[:, 2:4])):
        mask = torch.from_numpy(visible(item, end))
        err = (warp(source, part) - imgt).abs().mean(1)[0][mask]
        still = (source - imgt).abs().mean(1)[0][mask]
        out.append((err.mean().item(), still.mean().item(), mask.float().mean().item()))
    return out


# -- the flow label is exact ------------------------------------------------------------------------


@needs_skimage
def test_label_warps_both_inputs_onto_the_target() -> None:
    # Noise-free frames: what is left is the error of bilinear interpolation (twice: render, warp).
    data = SyntheticMotion(8, size=(160, 160), noise=0.0, brightness=0.0)
    errors = []
    for seed in range(4):
        item = data.render(np.random.default_rng(seed))
        for err, still, seen in warp_errors(item):
            assert seen > 0.5, "most of imgt should be visible in each input"
            assert err < 0.015, f"seed {seed}: warp error {err:.4f} is more than interpolation error"
            assert err < 0.25 * still, f"seed {seed}: warping ({err:.4f}) barely beats no motion ({still:.4f})"
            errors.append(err)
    assert np.mean(errors) < 0.008


@needs_skimage
def test_label_holds_under_default_noise_and_brightness_drift() -> None:
    data = SyntheticMotion(8, size=(160, 160))
    for seed in range(3):
        for err, still, _ in warp_errors(data.render(np.random.default_rng(seed))):
            # noise of at most 2/255 per frame and a gain/offset drift of at most 0.05 are added
            assert err < 0.05
            assert err < 0.6 * still


@needs_skimage
def test_pure_translation_at_half_time_gives_half_the_shift_each_way() -> None:
    data = SyntheticMotion(8, size=(96, 128), fixed_t=0.5, max_rotation=0.0, max_scale=0.0, layers=(2, 3))
    for seed in range(3):
        item = data.render(np.random.default_rng(seed))
        assert item.t == 0.5
        assert len(item.shift) >= 3
        assert np.all(np.linalg.norm(item.shift, axis=1) <= data.max_shift + 1e-9)
        for k, shift in enumerate(item.shift):
            mine = item.owner[1] == k
            if not mine.any():
                continue
            np.testing.assert_allclose(item.flow[mine][:, 0:2], np.broadcast_to(-shift / 2, (mine.sum(), 2)), atol=1e-4)
            np.testing.assert_allclose(item.flow[mine][:, 2:4], np.broadcast_to(shift / 2, (mine.sum(), 2)), atol=1e-4)


@needs_skimage
def test_motion_is_linear_in_time() -> None:
    # Every point moves on a straight line at constant speed: (1 - t) flow_t0 + t flow_t1 = 0.
    data = SyntheticMotion(8, size=(64, 64))
    for seed in range(4):
        item = data.render(np.random.default_rng(seed))
        t = item.t
        residual = (1.0 - t) * item.flow[..., 0:2] + t * item.flow[..., 2:4]
        assert np.abs(residual).max() < 1e-3
        assert np.abs(item.flow).max() > 1.0, "scenes should move"


# -- items: reproducible, varied, well formed ------------------------------------------------------------


@needs_skimage
def test_items_are_deterministic_and_differ_across_indices_and_epochs() -> None:
    data = SyntheticMotion(8, size=(48, 64), seed=3)
    first, again = data[2], data[2]
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first.imgt, data[3].imgt)
    copy = pickle.loads(pickle.dumps(data))  # what a DataLoader worker gets
    assert torch.equal(copy[2].imgt, first.imgt)
    assert torch.equal(copy[2].flow, first.flow)
    data.set_epoch(1)
    assert not torch.equal(data[2].imgt, first.imgt)


@needs_skimage
def test_render_is_a_pure_function_of_the_generator() -> None:
    data = SyntheticMotion(4, size=(40, 40))
    a = data.render(np.random.default_rng(7))
    b = data.render(np.random.default_rng(7))
    for fa, fb in zip(a.frames, b.frames, strict=True):
        np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(a.flow, b.flow)
    assert a.t == b.t


@needs_skimage
def test_t_is_uniform_in_the_open_unit_interval() -> None:
    data = SyntheticMotion(300, size=(16, 16), layers=0, seed=0)
    ts = np.sort([data.render(np.random.default_rng([0, i])).t for i in range(len(data))])
    assert ts[0] > 0.0 and ts[-1] < 1.0
    ks = np.max(np.maximum(np.arange(1, len(ts) + 1) / len(ts) - ts, ts - np.arange(len(ts)) / len(ts)))
    assert ks < 1.63 / np.sqrt(len(ts)), f"Kolmogorov-Smirnov distance {ks:.3f} from uniform"
    narrow = SyntheticMotion(50, size=(16, 16), layers=0, t_range=(0.25, 0.5))
    assert all(0.25 <= narrow.render(np.random.default_rng(i)).t < 0.5 for i in range(50))
    fixed = SyntheticMotion(5, size=(16, 16), layers=0, fixed_t=0.3, seed=1)
    assert {round(float(fixed[i].embt), 6) for i in range(5)} == {0.3}


@needs_skimage
def test_sample_shapes_and_types() -> None:
    sample = SyntheticMotion(4, size=(48, 64), seed=0)[1]
    assert isinstance(sample, Sample)
    for image in (sample.img0, sample.imgt, sample.img1):
        assert image.shape == (3, 48, 64) and image.dtype == torch.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
    assert sample.flow is not None and sample.flow.shape == (4, 48, 64) and sample.flow.dtype == torch.float32
    assert sample.embt.shape == (1, 1, 1) and 0.0 < float(sample.embt) < 1.0
    item = SyntheticMotion(4, size=(48, 64)).render(np.random.default_rng(0))
    assert [f.shape for f in item.frames] == [(48, 64, 3)] * 3 and all(f.dtype == np.uint8 for f in item.frames)
    assert item.flow.shape == (48, 64, 4) and item.flow.dtype == np.float32
    assert item.owner.shape == item.solid.shape == (3, 48, 64)


@needs_skimage
def test_augmented_samples_keep_their_label() -> None:
    data = SyntheticMotion(4, size=(64, 64), seed=0, augment=Augment(crop=(32, 32)))
    batch = collate([data[i] for i in range(len(data))])
    assert batch.img0.shape == (4, 3, 32, 32)
    assert batch.flow is not None and batch.flow.shape == (4, 4, 32, 32)


# -- building and textures -----------------------------------------------------------------------------


@needs_skimage
def test_build_dataset_synthetic() -> None:
    data = build_dataset("synthetic:16", seed=0)
    assert isinstance(data, SyntheticMotion) and len(data) == 16 and data.size == (256, 256)
    sample = data[0]
    assert sample.flow is not None and sample.flow.shape == (4, 256, 256)
    small = build_dataset("synthetic:3:64x48", split="test")
    assert small.size == (48, 64) and small.seed == 0
    assert torch.equal(small[1].imgt, build_dataset("synthetic:3:64x48", split="test")[1].imgt)
    for bad in ("synthetic:", "synthetic:lots", "synthetic:0", "synthetic:4:64", "synthetic:4:big"):
        with pytest.raises(InputError, match="synthetic:N"):
            build_dataset(bad)


def test_textures_from_arrays_files_and_folders(tmp_path: Path) -> None:
    frame = read_image(FOOTAGE)
    from_array = SyntheticMotion(2, size=(48, 48), textures=[frame, frame[:, :, 0]], seed=0)
    assert from_array[0].flow is not None
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(FOOTAGE, folder / "a.png")
    (folder / "notes.txt").write_text("not an image")
    for textures in ([FOOTAGE], [str(folder)], folder):
        data = SyntheticMotion(2, size=(48, 48), textures=textures, seed=0)
        assert data.textures == [str(FOOTAGE if textures == [FOOTAGE] else folder / "a.png")]
        assert data[1].imgt.shape == (3, 48, 48)


def test_bad_textures_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such texture"):
        SyntheticMotion(textures=[tmp_path / "missing.png"])
    with pytest.raises(InputError, match="no image files"):
        SyntheticMotion(textures=[tmp_path])
    with pytest.raises(InputError, match="empty"):
        SyntheticMotion(textures=[])
    with pytest.raises(InputError, match="uint8"):
        SyntheticMotion(textures=[np.zeros((32, 32, 3), np.float32)])
    with pytest.raises(InputError, match="too small"):
        SyntheticMotion(textures=[np.zeros((4, 32, 3), np.uint8)])


def test_without_scikit_image_it_asks_for_the_extra_or_textures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic_module, "_skimage_data_dir", lambda: None)
    with pytest.raises(InputError, match=r"ifrnet\[train\].*textures="):
        SyntheticMotion()
    assert len(SyntheticMotion(2, size=(32, 32), textures=[FOOTAGE])) == 2


@pytest.mark.parametrize(
    "kw",
    [
        {"length": 0},
        {"size": (8, 64)},
        {"layers": (3, 1)},
        {"t_range": (0.5, 0.5)},
        {"t_range": (-0.1, 1.0)},
        {"fixed_t": 1.0},
        {"max_shift": -1.0},
        {"noise": 0.5},
    ],
)
def test_bad_settings_are_refused(kw: dict) -> None:
    with pytest.raises(InputError):
        SyntheticMotion(textures=[FOOTAGE], **kw)


# -- animation cels (style="cel") ---------------------------------------------------------------------


def _flat_share(image: np.ndarray) -> float:
    """The share of pixels equal to their right-hand neighbour: high for flat paint, low for photographs."""
    return float((image[:, 1:] == image[:, :-1]).all(-1).mean())


def test_cel_label_warps_both_inputs_onto_the_target() -> None:
    """The same geometry and exact labels as photographs (no textures needed). Flat paint hides much
    of the motion, so warping is held to beating no motion rather than to a quarter of it."""
    data = SyntheticMotion(8, size=(160, 160), noise=0.0, brightness=0.0, style="cel")
    errors = []
    for seed in range(4):
        for err, still, seen in warp_errors(data.render(np.random.default_rng(seed))):
            assert seen > 0.5 and err < 0.006 and err < still, (seed, err, still)
            errors.append(err)
    assert np.mean(errors) < 0.003


@needs_skimage
def test_cel_frames_are_flat_paint_with_dark_lines() -> None:
    cel = SyntheticMotion(8, size=(160, 160), noise=0.0, brightness=0.0, style="cel")
    photo = SyntheticMotion(8, size=(160, 160), noise=0.0, brightness=0.0)
    for seed in range(3):
        frame = cel.render(np.random.default_rng(seed)).frames[1]
        assert _flat_share(frame) > 0.7 > 0.2 > _flat_share(photo.render(np.random.default_rng(seed)).frames[1])
        assert (frame.max(axis=-1) < 64).mean() > 0.01  # outlines: near-black lines round the shapes


@needs_skimage
def test_mixed_style_draws_both_and_photographs_are_unchanged() -> None:
    mixed = SyntheticMotion(8, size=(96, 96), noise=0.0, brightness=0.0, style="mixed")
    kinds = {_flat_share(mixed.render(np.random.default_rng(seed)).frames[0]) > 0.5 for seed in range(8)}
    assert kinds == {True, False}
    with pytest.raises(InputError, match="style must be one of photo, cel, mixed"):
        SyntheticMotion(8, style="anime")


def test_build_dataset_synthetic_options() -> None:
    """Large motion and animation from the command line's data string."""
    data = build_dataset("synthetic:4:64x48?style=cel&max_shift=30")
    assert isinstance(data, SyntheticMotion)
    assert (data.style, data.max_shift, data.size, len(data)) == ("cel", 30.0, (48, 64), 4)
    assert "style=cel" in repr(data)


def test_a_clip_is_the_triplet_scene_shot_continuously() -> None:
    """``render_clip(rng, 3)`` is the scene ``render`` draws from the same generator at t = 1/2, frame
    for frame; a longer clip moves a little every frame and ends where the triplet ends."""
    triplet = SyntheticMotion(8, size=(64, 80), fixed_t=0.5, style="cel", noise=0.0)  # noise is per frame
    for seed in range(3):
        item = triplet.render(np.random.default_rng(seed))
        clip3 = triplet.render_clip(np.random.default_rng(seed), 3)
        assert all(np.array_equal(a, b) for a, b in zip(clip3, item.frames, strict=True))
        clip9 = triplet.render_clip(np.random.default_rng(seed), 9)
        assert len(clip9) == 9 and np.array_equal(clip9[4], item.frames[1])
        assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(clip9))
    with pytest.raises(InputError, match="at least 2 frames"):
        triplet.render_clip(np.random.default_rng(0), 1)
