"""Pseudo-label flow: the DIS estimator, estimator plug-ins and the Vimeo90K labelling job."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ifrnet.data.pseudo_flow import DIS_PRESETS, DISFlow, LabelSummary, get_estimator, label_dataset
from ifrnet.errors import InputError
from ifrnet.io.flo import read_flo
from ifrnet.io.images import write_png
from ifrnet.models.ops import warp

from .conftest import uint8_frame

MARGIN = 8
HEIGHT, WIDTH = 96, 128


def shifted_pair(u: int, v: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A target frame and a source frame with ``target(x, y) = source(x + u, y + v)`` exactly.

    Both are windows of one larger smooth texture, so no pixel is invented at the borders.
    """
    big = uint8_frame(height + 2 * MARGIN, width + 2 * MARGIN, seed)
    target = big[MARGIN : MARGIN + height, MARGIN : MARGIN + width]
    source = big[MARGIN - v : MARGIN - v + height, MARGIN - u : MARGIN - u + width]
    return np.ascontiguousarray(target), np.ascontiguousarray(source)


def interior(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


def median_flow(flow: np.ndarray) -> tuple[float, float]:
    inner = interior(flow)
    return float(np.median(inner[..., 0])), float(np.median(inner[..., 1]))


# --- plug-in estimators, imported by name as "tests.test_pseudo_flow:<Name>" ---


class ZeroFlow:
    """A trivial estimator class: built without arguments, then called per frame pair."""

    def __call__(self, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        return np.zeros((*target.shape[:2], 2), np.float32)


def make_zero_flow() -> ZeroFlow:
    return ZeroFlow()


def constant_flow(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    flow = np.empty((*target.shape[:2], 2), np.float32)
    flow[...] = (1.5, -0.5)
    return flow


class NeedsArguments:
    def __init__(self, weights: str) -> None:
        self.weights = weights


def make_nothing() -> int:
    return 3


class WrongShapeFlow:
    def __call__(self, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        return np.zeros((*target.shape[:2], 3), np.float32)


NOT_AN_ESTIMATOR = 42


# --- DIS ---


@pytest.mark.parametrize("preset", DIS_PRESETS)
def test_dis_recovers_a_known_shift_with_the_right_sign(preset: str) -> None:
    # Different magnitudes and signs in x and y, so a swapped channel or a flipped sign fails.
    target, source = shifted_pair(u=3, v=-2)
    flow = DISFlow(preset)(target, source)

    assert flow.dtype == np.float32
    assert flow.shape == (HEIGHT, WIDTH, 2)
    u, v = median_flow(flow)
    assert abs(u - 3) < 0.5, (u, v)
    assert abs(v + 2) < 0.5, (u, v)


def test_backward_warp_by_the_dis_flow_reproduces_the_target() -> None:
    target, source = shifted_pair(u=-2, v=3, seed=1)
    flow = DISFlow()(target, source)

    def as_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()

    src, tgt = as_tensor(source), as_tensor(target)

    def error(image: torch.Tensor) -> float:
        return float(interior((image - tgt).abs()[0].permute(1, 2, 0).numpy()).mean())

    unwarped = error(src)
    warped = error(warp(src, as_tensor(flow)))
    wrong_sign = error(warp(src, -as_tensor(flow)))
    assert warped < 0.2 * unwarped, (warped, unwarped)
    assert warped < 0.2 * wrong_sign, (warped, wrong_sign)


def test_dis_survives_pickling_after_use() -> None:
    target, source = shifted_pair(u=1, v=1)
    dis = DISFlow("fast")
    first = dis(target, source)  # builds the OpenCV object, which must not be pickled
    clone = pickle.loads(pickle.dumps(dis))
    assert clone.preset == "fast"
    np.testing.assert_array_equal(clone(target, source), first)


def test_dis_refuses_bad_frames_and_presets() -> None:
    target, source = shifted_pair(u=1, v=1)
    with pytest.raises(InputError, match="differ in size"):
        DISFlow()(target, source[:-1])
    with pytest.raises(InputError, match="uint8"):
        DISFlow()(target.astype(np.float32), source)
    with pytest.raises(InputError, match="preset"):
        DISFlow("slow")


# --- get_estimator ---


@pytest.mark.parametrize(("spec", "preset"), [("dis", "medium"), ("dis:fast", "fast"), ("dis:ultrafast", "ultrafast")])
def test_get_estimator_builds_dis(spec: str, preset: str) -> None:
    estimator = get_estimator(spec)
    assert isinstance(estimator, DISFlow)
    assert estimator.preset == preset


def test_get_estimator_plugs_in_a_class_a_factory_and_a_function() -> None:
    target, source = shifted_pair(u=1, v=1)
    from_class = get_estimator("tests.test_pseudo_flow:ZeroFlow")
    from_factory = get_estimator("tests.test_pseudo_flow:make_zero_flow")
    assert isinstance(from_class, ZeroFlow)
    assert isinstance(from_factory, ZeroFlow)
    np.testing.assert_array_equal(from_class(target, source), np.zeros((HEIGHT, WIDTH, 2), np.float32))
    assert get_estimator("tests.test_pseudo_flow:constant_flow") is constant_flow


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("raft", "unknown flow estimator"),
        ("dis:slow", "unknown flow estimator"),
        ("no_such_module_for_ifrnet:Flow", "cannot import module 'no_such_module_for_ifrnet'"),
        ("tests.test_pseudo_flow:Missing", "no attribute 'Missing'"),
        ("tests.test_pseudo_flow:NOT_AN_ESTIMATOR", "not a class, factory or function"),
        ("tests.test_pseudo_flow:NeedsArguments", "cannot be built without arguments"),
        ("tests.test_pseudo_flow:make_nothing", "cannot be called"),
    ],
)
def test_get_estimator_refuses_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        get_estimator(spec)


# --- the Vimeo90K labelling job ---

#: Per sequence, the true flows (u0, v0) imgt -> img0 and (u1, v1) imgt -> img1.
SEQUENCES = {
    "00001/0001": (2, 1, -2, -1),
    "00001/0002": (-3, 2, 3, -2),
    "00002/0001": (1, -3, -1, 2),
}
SEQ_H, SEQ_W = 64, 96


def make_vimeo(root: Path) -> Path:
    """A tiny Vimeo90K layout whose end frames are exact shifts of the middle one."""
    for index, (seq, (u0, v0, u1, v1)) in enumerate(SEQUENCES.items()):
        imgt, img0 = shifted_pair(u0, v0, SEQ_H, SEQ_W, seed=index)
        _, img1 = shifted_pair(u1, v1, SEQ_H, SEQ_W, seed=index)
        folder = root / "sequences" / seq
        write_png(folder / "im1.png", img0)
        write_png(folder / "im2.png", imgt)
        write_png(folder / "im3.png", img1)
    ids = list(SEQUENCES)
    # A blank line and stray whitespace, as in the real lists.
    (root / "tri_trainlist.txt").write_text(f"{ids[0]}\n\n{ids[1]}  \n")
    (root / "tri_testlist.txt").write_text(f"{ids[2]}\n")
    return root


def flow_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "flow").rglob("*.flo"))}


def test_label_dataset_writes_correct_labels_and_resumes(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    summary = label_dataset("vimeo90k", root, progress=False)

    assert isinstance(summary, LabelSummary)
    assert (summary.written, summary.skipped, summary.total) == (3, 0, 3)
    assert summary.seconds > 0
    for seq, (u0, v0, u1, v1) in SEQUENCES.items():
        flow_t0 = read_flo(root / "flow" / seq / "flow_t0.flo")
        flow_t1 = read_flo(root / "flow" / seq / "flow_t1.flo")
        assert flow_t0.shape == flow_t1.shape == (SEQ_H, SEQ_W, 2)
        # The labels point from im2 into im1 and im3 respectively, not the other way round.
        assert np.allclose(median_flow(flow_t0), (u0, v0), atol=0.5), (seq, median_flow(flow_t0))
        assert np.allclose(median_flow(flow_t1), (u1, v1), atol=0.5), (seq, median_flow(flow_t1))
    assert not list((root / "flow").rglob("*partial*"))

    again = label_dataset("vimeo90k", root, progress=False)
    assert (again.written, again.skipped, again.total) == (0, 3, 3)

    # A job killed between the two files of a sequence: only that sequence is redone.
    before = {p: p.stat().st_mtime_ns for p in (root / "flow").rglob("*.flo")}
    (root / "flow" / "00001/0002" / "flow_t1.flo").unlink()
    resumed = label_dataset("vimeo90k", root, progress=False)
    assert (resumed.written, resumed.skipped, resumed.total) == (1, 2, 3)
    for path, mtime in before.items():
        if "00001/0002" not in str(path):
            assert path.stat().st_mtime_ns == mtime, path


def test_parallel_workers_write_the_same_files(tmp_path: Path) -> None:
    serial = make_vimeo(tmp_path / "serial")
    parallel = make_vimeo(tmp_path / "parallel")
    label_dataset("vimeo90k", serial, estimator="dis:fast", workers=1, progress=False)
    summary = label_dataset("vimeo90k", parallel, estimator="dis:fast", workers=2, progress=False)

    assert (summary.written, summary.skipped, summary.total) == (3, 0, 3)
    assert len(flow_files(serial)) == 6
    assert flow_files(parallel) == flow_files(serial)


def test_label_dataset_uses_a_plugged_in_estimator_in_workers(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    summary = label_dataset("vimeo90k", root, estimator="tests.test_pseudo_flow:constant_flow", workers=2)
    assert summary.written == 3
    for seq in SEQUENCES:
        for name in ("flow_t0.flo", "flow_t1.flo"):
            flow = read_flo(root / "flow" / seq / name)
            assert (flow[..., 0] == 1.5).all() and (flow[..., 1] == -0.5).all()


def test_only_the_given_list_is_labelled(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    summary = label_dataset("vimeo90k", root, estimator="tests.test_pseudo_flow:ZeroFlow", lists=["tri_testlist.txt"])
    assert summary.total == 1
    assert sorted(flow_files(root)) == ["flow/00002/0001/flow_t0.flo", "flow/00002/0001/flow_t1.flo"]


def test_missing_image_is_named_before_any_work(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    missing = root / "sequences" / "00001/0002" / "im3.png"
    missing.unlink()
    with pytest.raises(InputError, match=re.escape(str(missing))) as info:
        label_dataset("vimeo90k", root, progress=False)
    assert "sequences/<id>/im1.png" in str(info.value)  # the expected layout is spelt out
    assert not (root / "flow").exists()


def test_frames_of_different_sizes_are_refused(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    odd = root / "sequences" / "00002/0001" / "im1.png"
    write_png(odd, uint8_frame(SEQ_H, SEQ_W + 16))
    with pytest.raises(InputError, match=re.escape(str(odd))):
        label_dataset("vimeo90k", root, estimator="tests.test_pseudo_flow:ZeroFlow", progress=False)


def test_missing_root_lists_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "nowhere"))):
        label_dataset("vimeo90k", tmp_path / "nowhere", progress=False)
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "tri_trainlist.txt"))):
        label_dataset("vimeo90k", tmp_path, progress=False)

    root = make_vimeo(tmp_path / "vimeo")
    with pytest.raises(InputError, match="unknown dataset layout"):
        label_dataset("ucf101", root, progress=False)
    with pytest.raises(InputError, match="workers"):
        label_dataset("vimeo90k", root, workers=0, progress=False)
    with pytest.raises(InputError, match="unknown flow estimator"):
        label_dataset("vimeo90k", root, estimator="raft", progress=False)
    with pytest.raises(InputError, match="shape"):
        label_dataset("vimeo90k", root, estimator="tests.test_pseudo_flow:WrongShapeFlow", progress=False)

    (root / "tri_testlist.txt").write_text("../../escape\n")
    with pytest.raises(InputError, match="line 1"):
        label_dataset("vimeo90k", root, lists=["tri_testlist.txt"], progress=False)
