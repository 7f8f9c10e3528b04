"""The training augmentations: involutions, flow labels that still warp, the crop window, the recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ifrnet.data import augment as aug
from ifrnet.data.augment import Augment
from ifrnet.errors import InputError
from ifrnet.models.ops import warp

from .videos import real_frames

# flow label of the fractional direction (imgt -> img0) and the integer one (imgt -> img1)
FLOW0 = (1.3, -0.7)
FLOW1 = (2.0, -1.0)
MARGIN = 4  # border pixels where warping clamps or np.roll wraps around


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return real_frames("opencv_vtest.avi", 1, (64, 48), start=60)[0]


def warp_np(source: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``ifrnet.models.ops.warp`` on a uint8 (H, W, 3) frame and an (H, W, 2) flow; float (H, W, 3) in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(source)).permute(2, 0, 1)[None].float() / 255
    f = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)[None]
    return warp(x, f)[0].permute(1, 2, 0).numpy()


def labelled_triplet(source: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """A triplet whose flow label is exact in both directions (up to the uint8 rounding of imgt).

    imgt is img0 warped by a constant non-integer FLOW0; img1 is imgt shifted by whole pixels, so
    that warping img1 by FLOW1 gives imgt back exactly away from the borders.
    """
    h, w = source.shape[:2]
    flow0 = np.broadcast_to(np.array(FLOW0, np.float32), (h, w, 2))
    flow1 = np.broadcast_to(np.array(FLOW1, np.float32), (h, w, 2))
    imgt = np.clip(np.rint(warp_np(source, flow0) * 255), 0, 255).astype(np.uint8)
    # img1(y, x) = imgt(y + 1, x - 2), hence img1(y + v1, x + u1) = imgt(y, x) with (u1, v1) = FLOW1
    img1 = np.roll(imgt, shift=(-1, 2), axis=(0, 1))
    return [source, imgt, img1], np.ascontiguousarray(np.concatenate([flow0, flow1], axis=2))


def label_errors(frames: list[np.ndarray], flow: np.ndarray, margin: int = MARGIN) -> tuple[float, float]:
    """Largest |warp(img0, flow[0:2]) - imgt| and |warp(img1, flow[2:4]) - imgt| inside the margin."""
    img0, imgt, img1 = frames
    target = imgt.astype(np.float32) / 255
    inner = (slice(margin, -margin), slice(margin, -margin))
    return tuple(
        float(np.abs(warp_np(src, flow[:, :, ch]) - target)[inner].max())
        for src, ch in ((img0, slice(0, 2)), (img1, slice(2, 4)))
    )


def assert_labels_match(frames: list[np.ndarray], flow: np.ndarray, tol: float = 1.01 / 255) -> None:
    e0, e1 = label_errors(frames, flow)
    assert e0 <= tol and e1 <= tol, (e0, e1)


def random_case(seed: int = 0, h: int = 6, w: int = 9) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
    return frames, rng.normal(size=(h, w, 4)).astype(np.float32)


# The flips, the transpose, the channel swap, the input swap and the time reversal, as
# (frames, flow, t) -> (frames, flow, t).
INVOLUTIONS = {
    "flip_vertical": lambda fr, fl, t: (*aug.flip_vertical(fr, fl), t),
    "flip_horizontal": lambda fr, fl, t: (*aug.flip_horizontal(fr, fl), t),
    "transpose": lambda fr, fl, t: (*aug.transpose(fr, fl), t),
    "rgb_to_bgr": lambda fr, fl, t: (aug.rgb_to_bgr(fr), fl, t),
    "swap_inputs": aug.swap_inputs,
    "reverse_time": aug.reverse_time,
}


@pytest.mark.parametrize("name", sorted(INVOLUTIONS))
def test_each_flip_transpose_swap_reversal_twice_is_identity(name: str) -> None:
    op = INVOLUTIONS[name]
    frames, flow = random_case()
    once = op(frames, flow, 0.3)
    assert not (
        all(np.array_equal(a, b) for a, b in zip(once[0], frames, strict=True)) and np.array_equal(once[1], flow)
    ), "a single application changed nothing"
    twice = op(*once)
    for a, b in zip(twice[0], frames, strict=True):
        assert np.array_equal(a, b) and a.dtype == np.uint8
    assert np.array_equal(twice[1], flow) and twice[1].dtype == np.float32
    assert twice[2] == pytest.approx(0.3)
    # and without a flow label
    plain = op(*op(frames, None, 0.3))
    assert plain[1] is None and all(np.array_equal(a, b) for a, b in zip(plain[0], frames, strict=True))


def test_swap_and_reversal_rewrite_flow_channels_and_time() -> None:
    frames, flow = random_case()
    for op in (aug.swap_inputs, aug.reverse_time):
        new_frames, new_flow, t = op(frames, flow, 0.25)
        assert t == pytest.approx(0.75)
        assert new_frames[0] is frames[2] and new_frames[2] is frames[0] and new_frames[1] is frames[1]
        assert np.array_equal(new_flow[..., 0:2], flow[..., 2:4]) and np.array_equal(new_flow[..., 2:4], flow[..., 0:2])
    assert aug.swap_inputs(frames, flow, 0.5)[2] == 0.5
    window = [np.full((2, 2, 3), i, np.uint8) for i in range(9)]
    assert [int(f[0, 0, 0]) for f in aug.reverse_time(window, None, 0.125)[0]] == list(range(8, -1, -1))


GEOMETRIC = {
    "flip_vertical": aug.flip_vertical,
    "flip_horizontal": aug.flip_horizontal,
    "transpose": aug.transpose,
}


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
def test_flipped_and_transposed_flow_still_warps_the_frames(name: str, frame: np.ndarray) -> None:
    frames, flow = labelled_triplet(frame)
    assert_labels_match(frames, flow)  # the construction itself is exact
    new_frames, new_flow = GEOMETRIC[name](frames, flow)
    assert_labels_match(new_frames, new_flow)
    # the sign/channel rewrite is what makes it match: the unchanged label no longer does
    stale = flow.transpose(1, 0, 2) if name == "transpose" else flow
    assert min(label_errors(new_frames, stale)) > 0.05


@pytest.mark.parametrize(
    "op",
    [
        lambda fr, fl: aug.swap_inputs(fr, fl, 0.5)[:2],
        lambda fr, fl: aug.reverse_time(fr, fl, 0.5)[:2],
        lambda fr, fl: (aug.rgb_to_bgr(fr), fl),
        lambda fr, fl: aug.crop(fr, fl, 5, 7, 30, 40),
    ],
    ids=["swap", "reverse", "bgr", "crop"],
)
def test_other_augmentations_keep_labels_valid(op, frame: np.ndarray) -> None:
    frames, flow = labelled_triplet(frame)
    assert_labels_match(*op(frames, flow))


def test_upscale_doubles_flow_values_and_frame_size(frame: np.ndarray) -> None:
    frames, flow = labelled_triplet(frame)
    big_frames, big_flow = aug.upscale2x(frames, flow)
    assert [f.shape for f in big_frames] == [(96, 128, 3)] * 3 and all(f.dtype == np.uint8 for f in big_frames)
    assert big_flow.shape == (96, 128, 4) and big_flow.dtype == np.float32
    assert np.allclose(big_flow, 2 * np.array(FLOW0 + FLOW1, np.float32), atol=1e-5)
    # the doubled label fits the upscaled frames (bilinear of bilinear is not exact), the old values do not
    good = label_errors(big_frames, big_flow, margin=2 * MARGIN)
    bad = label_errors(big_frames, flow.repeat(2, 0).repeat(2, 1), margin=2 * MARGIN)
    assert max(good) < 0.12 and min(bad) > 2 * max(good), (good, bad)
    assert aug.upscale2x(frames, None)[1] is None


def coordinate_case(h: int = 40, w: int = 50) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames and flow whose values say where they came from: row, column, and which frame/channel."""
    rows, cols = np.mgrid[0:h, 0:w]
    frames = [np.stack([rows, cols, np.full_like(rows, 10 * i)], axis=2).astype(np.uint8) for i in range(3)]
    flow = np.stack([rows * 1000.0 + cols + 0.1 * c for c in range(4)], axis=2).astype(np.float32)
    return frames, flow


def test_crop_takes_the_same_window_of_every_frame_and_the_flow() -> None:
    frames, flow = coordinate_case()
    only_crop = {f"p_{n}": 0.0 for n in ("upscale", "bgr", "vflip", "hflip", "transpose", "swap", "reverse")}
    corners = set()
    for seed in range(40):
        out = Augment(seed, crop=(16, 24), **only_crop)(frames, flow, 0.5)
        top, left = int(out.frames[0][0, 0, 0]), int(out.frames[0][0, 0, 1])
        corners.add((top, left))
        assert 0 <= top <= 40 - 16 and 0 <= left <= 50 - 24
        rows, cols = np.mgrid[top : top + 16, left : left + 24]
        for i, f in enumerate(out.frames):
            assert f.shape == (16, 24, 3) and f.flags.c_contiguous
            assert np.array_equal(f[..., 0], rows) and np.array_equal(f[..., 1], cols) and (f[..., 2] == 10 * i).all()
        assert out.flow.shape == (16, 24, 4)
        assert np.allclose(out.flow[..., 2], rows * 1000.0 + cols + 0.2)
    assert len(corners) > 20  # the window moves


def test_full_recipe_keeps_labels_valid(frame: np.ndarray) -> None:
    frames, flow = labelled_triplet(frame)
    every = Augment(3, crop=(32, 32), p_upscale=0.0, p_bgr=1, p_vflip=1, p_hflip=1, p_transpose=1, p_swap=1)
    out = every(frames, flow, 0.5)
    assert [f.shape for f in out.frames] == [(32, 32, 3)] * 3 and out.flow.shape == (32, 32, 4)
    assert_labels_match(out.frames, out.flow)
    assert out.t == 0.5
    for seed in range(8):  # and the default probabilities, whatever they draw
        out = Augment(seed, crop=(32, 32), p_upscale=0.0)(frames, flow, 0.5, time_reversal=True)
        assert_labels_match(out.frames, out.flow)


def test_swap_and_reversal_together_cancel() -> None:
    frames, flow = random_case()
    both = Augment(0, p_upscale=0, p_bgr=0, p_vflip=0, p_hflip=0, p_transpose=0, p_swap=1, p_reverse=1)
    out = both(frames, flow, 0.25, time_reversal=True)
    assert out.t == pytest.approx(0.25) and np.array_equal(out.flow, flow) and np.array_equal(out.frames[0], frames[0])
    assert both(frames, flow, 0.25).t == pytest.approx(0.75)  # reversal only for window datasets


def test_transpose_only_applies_to_square_frames() -> None:
    frames, flow = random_case(h=6, w=9)
    out = Augment(0, p_upscale=0, p_bgr=0, p_vflip=0, p_hflip=0, p_transpose=1, p_swap=0)(frames, flow)
    assert out.frames[0].shape == (6, 9, 3) and np.array_equal(out.frames[0], frames[0])
    square, sflow = random_case(h=8, w=8)
    out = Augment(0, p_upscale=0, p_bgr=0, p_vflip=0, p_hflip=0, p_transpose=1, p_swap=0)(square, sflow)
    assert np.array_equal(out.frames[0], square[0].transpose(1, 0, 2))


def test_upscale_happens_before_the_crop() -> None:
    frames, flow = coordinate_case()
    out = Augment(0, crop=(16, 24), p_upscale=1, p_bgr=0, p_vflip=0, p_hflip=0, p_transpose=0, p_swap=0)(frames, flow)
    assert out.frames[0].shape == (16, 24, 3)
    # rows of the x2 image advance by half a source row per pixel
    step = np.diff(out.frames[0][:, 5, 0].astype(float))
    assert 0.3 < step.mean() < 0.7


@pytest.mark.parametrize(
    ("name", "p"), [("upscale", 0.1), ("bgr", 0.5), ("vflip", 0.3), ("hflip", 0.5), ("transpose", 0.05), ("swap", 0.5)]
)
def test_default_probabilities(name: str, p: float) -> None:
    frames, flow = random_case(h=8, w=8)
    others = {f"p_{n}": 0.0 for n in ("upscale", "bgr", "vflip", "hflip", "transpose", "swap") if n != name}
    augment = Augment(crop=(8, 8), **others)
    assert getattr(augment, f"p_{name}") == p
    rng = np.random.default_rng(0)
    n = 2000
    changed = sum(not np.array_equal(augment(frames, flow, 0.5, rng=rng).frames[0], frames[0]) for _ in range(n))
    assert abs(changed / n - p) < 0.04


def test_same_seed_same_augmentation() -> None:
    frames, flow = random_case(h=20, w=20)
    a = Augment(7, crop=(12, 12))(frames, flow, 0.5)
    b = Augment(7, crop=(12, 12))(frames, flow, 0.5)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True)) and np.array_equal(a.flow, b.flow)
    outs = {Augment(s, crop=(12, 12))(frames, flow, 0.5).frames[0].tobytes() for s in range(10)}
    assert len(outs) > 5


def test_bad_settings_and_small_frames_are_input_errors() -> None:
    with pytest.raises(InputError, match="p_hflip"):
        Augment(p_hflip=1.5)
    with pytest.raises(InputError, match="crop"):
        Augment(crop=(0, 10))
    assert Augment(crop=16).crop == (16, 16)
    frames, flow = random_case(h=8, w=8)
    with pytest.raises(InputError, match="smaller than the 16x16"):
        Augment(0, crop=16)(frames, flow)


def moving_square_case(h: int = 96, w: int = 128) -> tuple[list[np.ndarray], np.ndarray]:
    """A still textured background with one 12x12 square that moves between the inputs."""
    rng = np.random.default_rng(3)
    background = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    frames = [background.copy() for _ in range(3)]
    for f, left in zip(frames, (100, 104, 108), strict=True):
        f[70:82, left : left + 12] = 255
    return frames, np.zeros((h, w, 4), np.float32)


def test_motion_crop_prefers_crops_where_the_inputs_change() -> None:
    frames, flow = moving_square_case()
    only_crop = {f"p_{n}": 0.0 for n in ("upscale", "bgr", "vflip", "hflip", "transpose", "swap", "reverse")}

    def moving_share(tries: int) -> float:
        hits = 0
        for seed in range(60):
            out = Augment(seed, crop=(32, 32), motion_tries=tries, **only_crop)(frames, flow, 0.5)
            hits += not np.array_equal(out.frames[0], out.frames[2])
        return hits / 60

    uniform, seeking = moving_share(1), moving_share(8)
    assert uniform < 0.35  # the square is a small part of the frame
    assert seeking > uniform + 0.3


def test_one_motion_try_is_the_uniform_crop() -> None:
    frames, flow = random_case(h=24, w=30)
    a = aug.random_crop(frames, flow, (16, 16), np.random.default_rng(5))
    b = aug.motion_crop(frames, flow, (16, 16), np.random.default_rng(5), tries=1)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0], strict=True)) and np.array_equal(a[1], b[1])


def test_motion_tries_option_of_a_dataset(tmp_path) -> None:
    from ifrnet.data import build_dataset

    from .videos import write_clip

    write_clip(tmp_path / "clip.avi", real_frames("opencv_vtest.avi", 6, (96, 64), start=60))
    shared = Augment(crop=32)
    ds = build_dataset(f"folder:{tmp_path}?window=3&motion_tries=5", augment=shared)
    assert ds.augment.motion_tries == 5 and shared.motion_tries == 1  # the caller's augment is not changed
    with pytest.raises(InputError, match="motion_tries"):
        build_dataset(f"folder:{tmp_path}?motion_tries=0", augment=shared)
    with pytest.raises(InputError, match="motion_tries"):
        Augment(motion_tries=2.5)
