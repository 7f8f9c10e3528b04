"""Benchmark protocols (padding, placement, crops, times, counts) and the resumable result files."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from ifrnet.data.gopro import GOPRO_TEST_VIDEOS, windows_in
from ifrnet.engine import Engine
from ifrnet.errors import InputError
from ifrnet.evaluation.protocols import (
    MIDDLEBURY_OTHER_SEQUENCES,
    PROTOCOLS,
    Adobe240Test,
    BenchmarkProtocol,
    EvalSample,
    GoProTest,
    MiddleburyOther,
    SNUFILMTest,
    UCF101Test,
    Vimeo90KTest,
    make_protocol,
)
from ifrnet.evaluation.results import evaluate, format_table, load_summary
from ifrnet.evaluation.run import run_evaluation
from ifrnet.io.images import read_image, write_png
from ifrnet.times import Padder

from .eval_fixtures import (
    ADOBE_VIDEOS,
    GOPRO_SIZE,
    GOPRO_VIDEOS,
    MIDDLEBURY_SIZE,
    SNU_SIZES,
    UCF_SIZE,
    VIMEO_IDS,
    VIMEO_SIZE,
    frame,
    make_adobe,
    make_gopro,
    make_middlebury,
    make_snu,
    make_ucf,
    make_vimeo,
)

GOPRO_CROP = 32


def as_tensor(path: Path) -> Tensor:
    return torch.from_numpy(read_image(path)).permute(2, 0, 1).unsqueeze(0).float() / 255.0


class LinearBlend:
    """The simplest baseline: (1 - t) img0 + t img1."""

    name = "blend"

    def __init__(self) -> None:
        self.calls: list[tuple[float, ...]] = []

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        self.calls.append(tuple(times))
        return [(1 - t) * img0 + t * img1 for t in times]


class Oracle:
    """Returns the ground truth (placed where ``unpad`` will look), found by the inputs' bytes."""

    name = "oracle"

    def __init__(self, protocol: BenchmarkProtocol) -> None:
        self.samples = {self.key(s.img0, s.img1): s for s in protocol}

    @staticmethod
    def key(img0: Tensor, img1: Tensor) -> bytes:
        return img0.numpy().tobytes() + img1.numpy().tobytes()

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        sample = self.samples[self.key(img0, img1)]
        targets = dict(sample.targets)
        top, left, height, width = sample.crop
        out = []
        for t in times:
            pred = torch.full_like(img0, 0.5)
            pred[..., top : top + height, left : left + width] = targets[t]
            out.append(pred)
        return out


# ---------------------------------------------------------------- protocols


def check_identity_sample(sample: EvalSample, size: tuple[int, int]) -> None:
    assert sample.img0.shape == sample.img1.shape == (1, 3, *size)
    assert sample.img0.dtype == torch.float32 and sample.img0.min() >= 0 and sample.img0.max() <= 1
    assert sample.times == [0.5]
    assert sample.unpad(sample.img0).shape == sample.targets[0][1].shape == (1, 3, *size)


def test_vimeo90k(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path)
    protocol = make_protocol("vimeo90k", root)
    assert isinstance(protocol, Vimeo90KTest) and len(protocol) == len(VIMEO_IDS) == protocol.num_targets
    samples = list(protocol)
    assert [s.name for s in samples] == list(VIMEO_IDS)
    for sample in samples:
        check_identity_sample(sample, VIMEO_SIZE)
    folder = root / "sequences" / VIMEO_IDS[0]
    assert torch.equal(samples[0].img0, as_tensor(folder / "im1.png"))
    assert torch.equal(samples[0].img1, as_tensor(folder / "im3.png"))
    assert torch.equal(samples[0].targets[0][1], as_tensor(folder / "im2.png"))
    # a list file chooses a subset
    (root / "one.txt").write_text(VIMEO_IDS[1] + "\n")
    assert [s.name for s in make_protocol("vimeo90k", root, "one.txt")] == [VIMEO_IDS[1]]


def test_ucf101(tmp_path: Path) -> None:
    root = make_ucf(tmp_path)
    protocol = make_protocol("ucf101", root)
    assert isinstance(protocol, UCF101Test) and len(protocol) == 2
    sample = protocol[0]
    check_identity_sample(sample, UCF_SIZE)
    assert torch.equal(sample.img1, as_tensor(root / "1" / "frame_02.png"))
    assert torch.equal(sample.targets[0][1], as_tensor(root / "1" / "frame_01_gt.png"))


def centred_padding(side: int) -> tuple[int, int]:
    padder = Padder(side, side, multiple=20, centred=True)
    return padder.top, padder.bottom


@pytest.mark.parametrize(("side", "expected"), [(45, (7, 8)), (40, (0, 0)), (67, (6, 7)), (21, (9, 10)), (39, (0, 1))])
def test_centred_padding(side: int, expected: tuple[int, int]) -> None:
    assert centred_padding(side) == expected
    assert (side + sum(expected)) % 20 == 0


def test_snu_film_padding_and_paths(tmp_path: Path) -> None:
    root = make_snu(tmp_path)
    protocol = make_protocol("snu-film", root, "easy")
    assert isinstance(protocol, SNUFILMTest) and len(protocol) == len(SNU_SIZES["easy"])
    for number, (sample, (h, w)) in enumerate(zip(protocol, SNU_SIZES["easy"], strict=True)):
        top, bottom = centred_padding(h)
        left, right = centred_padding(w)
        assert sample.img0.shape == (1, 3, h + top + bottom, w + left + right)
        assert sample.img0.shape[-2] % 20 == 0 and sample.img0.shape[-1] % 20 == 0
        assert protocol.scale_factor == 0.8 and sample.times == [0.5]
        assert tuple(sample.crop) == (top, left, h, w)
        assert sample.targets[0][1].shape == (1, 3, h, w)
        # unpad recovers the original frame; the border is replicated
        original = as_tensor(root / f"test/GOPRO_test/easy{number}/00000.png")
        assert torch.equal(sample.unpad(sample.img0), original)
        assert torch.equal(sample.img0[..., 0, left : left + w], original[..., 0, :])
        assert torch.equal(sample.img0[..., -1, left : left + w], original[..., -1, :])
    # the first easy triplet: 45x67 -> 60x80, 7 rows and 6 columns before
    assert tuple(protocol[0].crop) == (7, 6, 45, 67) and protocol[0].img0.shape[-2:] == (60, 80)
    # 'data/SNU-FILM/' prefixes are stripped; the name is relative to the root
    assert protocol[0].name == "easy/test/GOPRO_test/easy0/00004"
    everything = make_protocol("snu-film", root)
    assert len(everything) == sum(len(v) for v in SNU_SIZES.values())
    assert [everything.describe(i)[0].split("/")[0] for i in range(len(everything))] == [
        "easy",
        "easy",
        "medium",
        "hard",
        "extreme",
    ]
    hard = make_protocol("snu-film", root, "hard")[0]
    assert hard.img0.shape[-2:] == (40, 40) and tuple(hard.crop) == (9, 0, 21, 39)


def test_middlebury_canvas(tmp_path: Path) -> None:
    root = make_middlebury(tmp_path)
    protocol = make_protocol("middlebury-other", root)
    assert isinstance(protocol, MiddleburyOther) and len(protocol) == 12
    assert protocol.reported_metrics == ("ie",)
    sample = protocol[0]
    h, w = MIDDLEBURY_SIZE
    assert sample.name == MIDDLEBURY_OTHER_SEQUENCES[0]
    assert sample.img0.shape == (1, 3, 480, 640) and tuple(sample.crop) == (0, 0, h, w)
    original = as_tensor(root / "other-data" / sample.name / "frame10.png")
    assert torch.equal(sample.unpad(sample.img0), original)
    assert sample.img0[..., h:, :].abs().sum() == 0 and sample.img0[..., :, w:].abs().sum() == 0
    assert sample.targets[0][1].shape == (1, 3, h, w)


def test_middlebury_too_large(tmp_path: Path) -> None:
    root = make_middlebury(tmp_path)
    seq = MIDDLEBURY_OTHER_SEQUENCES[0]
    for name in ("frame10.png", "frame11.png"):
        write_png(root / "other-data" / seq / name, frame(481, 20, seed=1))
    write_png(root / "other-gt-interp" / seq / "frame10i11.png", frame(481, 20, seed=2))
    with pytest.raises(InputError, match=r"frame10\.png.*480"):
        make_protocol("middlebury-other", root)[0]


def test_gopro_windows(tmp_path: Path) -> None:
    root = make_gopro(tmp_path)
    protocol = make_protocol("gopro", root, "two.txt", crop_size=GOPRO_CROP)
    assert isinstance(protocol, GoProTest)
    expected = sum((n - 9) // 8 + 1 for n in GOPRO_VIDEOS.values())
    assert expected == sum(windows_in(n) for n in GOPRO_VIDEOS.values()) == 2 + 1
    assert len(protocol) == expected and protocol.num_targets == 7 * expected
    video = GOPRO_TEST_VIDEOS[0]
    assert [protocol.describe(i)[0] for i in range(len(protocol))] == [
        f"{video}/000000",
        f"{video}/000008",
        f"{GOPRO_TEST_VIDEOS[1]}/000000",
    ]
    sample = protocol[1]
    assert sample.times == [k / 8 for k in range(1, 8)] and protocol.scale_factor == 1.0
    h, w = GOPRO_SIZE
    top, left = h // 2 - GOPRO_CROP // 2, w // 2 - GOPRO_CROP // 2
    region = (..., slice(top, top + GOPRO_CROP), slice(left, left + GOPRO_CROP))
    assert sample.img0.shape == (1, 3, GOPRO_CROP, GOPRO_CROP) and tuple(sample.crop) == (0, 0, GOPRO_CROP, GOPRO_CROP)
    assert torch.equal(sample.img0, as_tensor(root / video / "000008.png")[region])
    assert torch.equal(sample.img1, as_tensor(root / video / "000016.png")[region])
    for k, (t, target) in enumerate(sample.targets, start=1):
        assert t == k / 8
        assert torch.equal(target, as_tensor(root / video / f"{8 + k:06d}.png")[region])


def test_gopro_needs_the_test_videos_and_a_large_enough_frame(tmp_path: Path) -> None:
    root = make_gopro(tmp_path)
    missing = next(v for v in GOPRO_TEST_VIDEOS if v not in GOPRO_VIDEOS)
    with pytest.raises(InputError, match=missing):
        make_protocol("gopro", root)
    with pytest.raises(InputError, match=r"000000\.png.*512x512"):
        make_protocol("gopro", root, "two.txt")[0]


def test_adobe240(tmp_path: Path) -> None:
    root = make_adobe(tmp_path)
    protocol = make_protocol("adobe240", root, crop_size=GOPRO_CROP)
    assert isinstance(protocol, Adobe240Test)
    assert len(protocol) == sum(windows_in(n) for n in ADOBE_VIDEOS.values()) == 1 + 3
    assert protocol.describe(0) == ("clip_a/000000", tuple(k / 8 for k in range(1, 8)))
    (root / "b.txt").write_text("clip_b\n")
    assert len(make_protocol("adobe240", root, "b.txt", crop_size=GOPRO_CROP)) == 3


# ---------------------------------------------------------------- bad layouts


def test_missing_root_names_it_and_the_layout(tmp_path: Path) -> None:
    for name in PROTOCOLS:
        with pytest.raises(InputError, match=r"nowhere.*layout"):
            make_protocol(name, tmp_path / "nowhere")
    with pytest.raises(InputError, match="unknown benchmark"):
        make_protocol("kitti", tmp_path)


@pytest.mark.parametrize(
    ("builder", "name", "remove", "split"),
    [
        (make_vimeo, "vimeo90k", "tri_testlist.txt", None),
        (make_vimeo, "vimeo90k", f"sequences/{VIMEO_IDS[1]}/im2.png", None),
        (make_ucf, "ucf101", "2/frame_01_gt.png", None),
        (make_snu, "snu-film", "test-medium.txt", None),
        (make_snu, "snu-film", "test/GOPRO_test/easy1/00008.png", "easy"),
        (make_middlebury, "middlebury-other", f"other-gt-interp/{MIDDLEBURY_OTHER_SEQUENCES[5]}/frame10i11.png", None),
        (make_gopro, "gopro", "two.txt", "two.txt"),
    ],
)
def test_missing_file_is_named(tmp_path: Path, builder, name: str, remove: str, split: str | None) -> None:
    root = builder(tmp_path)
    (root / remove).unlink()
    with pytest.raises(InputError, match=r"layout") as info:
        make_protocol(name, root, split)
    # the name as the list spells it, joined to the root
    assert str(root) in str(info.value) and Path(remove).name in str(info.value)


def test_mismatched_sizes_name_the_file(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path)
    odd = root / "sequences" / VIMEO_IDS[0] / "im2.png"
    write_png(odd, frame(VIMEO_SIZE[0] + 2, VIMEO_SIZE[1], seed=5))
    with pytest.raises(InputError, match=r"im2\.png.*differs"):
        make_protocol("vimeo90k", root)[0]


def test_empty_splits(tmp_path: Path) -> None:
    root = make_vimeo(tmp_path / "vimeo")
    (root / "tri_testlist.txt").write_text("\n\n")
    with pytest.raises(InputError, match="names nothing"):
        make_protocol("vimeo90k", root)
    (tmp_path / "ucf").mkdir()
    with pytest.raises(InputError, match="no samples"):
        make_protocol("ucf101", tmp_path / "ucf")
    snu = make_snu(tmp_path / "snu")
    (snu / "test-hard.txt").write_text("")
    with pytest.raises(InputError, match="no samples"):
        make_protocol("snu-film", snu, "hard")
    with pytest.raises(InputError, match="split must be one of"):
        make_protocol("snu-film", snu, "tricky")
    (tmp_path / "adobe").mkdir()
    with pytest.raises(InputError, match="no videos"):
        make_protocol("adobe240", tmp_path / "adobe")


# ---------------------------------------------------------------- evaluate and the result files


def read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "samples.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def strict_json(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_evaluate_writes_and_resumes(tmp_path: Path) -> None:
    root = make_gopro(tmp_path / "data")
    # one window (the 12-frame video) keeps the metric time down; the window logic is tested above
    (root / "one.txt").write_text(GOPRO_TEST_VIDEOS[1] + "\n")
    protocol = make_protocol("gopro", root, "one.txt", crop_size=GOPRO_CROP)
    blend = LinearBlend()
    methods = {"blend": blend, "oracle": Oracle(protocol)}
    out = tmp_path / "out"
    summary = evaluate(protocol, methods, out, extra_metrics=("psnr_uint8",), progress=False)

    rows = read_rows(out)
    assert list(rows[0]) == ["sample", "t", "method", "psnr", "ssim", "ie", "psnr_uint8"]
    assert len(rows) == 2 * protocol.num_targets == 2 * 7
    assert len({(r["sample"], r["t"], r["method"]) for r in rows}) == len(rows)
    assert {r["t"] for r in rows} == {f"{k / 8:.6g}" for k in range(1, 8)}
    # one call per sample with all seven times
    assert blend.calls == [tuple(k / 8 for k in range(1, 8))] * len(protocol)

    assert summary["oracle"]["psnr"] == math.inf and summary["oracle"]["psnr_uint8"] == math.inf
    assert summary["oracle"]["ssim"] == pytest.approx(1.0) and summary["oracle"]["ie"] == 0.0
    assert summary["oracle"]["n"] == summary["blend"]["n"] == 7
    blend_psnr = [float(r["psnr"]) for r in rows if r["method"] == "blend"]
    assert summary["blend"]["psnr"] == pytest.approx(np.mean(blend_psnr))
    assert math.isfinite(summary["blend"]["psnr"]) and 0 < summary["blend"]["ssim"] < 1

    data = strict_json(out / "summary.json")
    assert data["oracle"]["psnr"] == "inf" and data["blend"]["n"] == 7
    assert load_summary(out / "summary.json") == summary

    lines = (out / "summary.md").read_text().strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0].replace(" ", "") == "|Method|PSNR|SSIM|IE|PSNR(uint8)|n|"
    assert len(table) == 2 + 2 and table[2].startswith("| blend |") and "| inf |" in table[3]
    assert f"{summary['blend']['ssim']:.4f}" in table[2] and f"{summary['blend']['psnr']:.2f}" in table[2]
    assert format_table(summary) in (out / "summary.md").read_text()

    # a second call finds everything done: no method call, no new row, the same summary
    again = evaluate(protocol, methods, out, extra_metrics=("psnr_uint8",), progress=False)
    assert len(read_rows(out)) == len(rows) and len(blend.calls) == len(protocol)
    assert again == summary

    # a killed run: the last rows lost and half a row written; only the missing (sample, t) are redone
    text = (out / "samples.csv").read_text().splitlines(keepends=True)
    (out / "samples.csv").write_text("".join(text[:-5]) + text[-5][:7])
    evaluate(protocol, methods, out, extra_metrics=("psnr_uint8",), progress=False)
    resumed = read_rows(out)
    assert len(resumed) == len(rows)
    assert sorted(tuple(r.values()) for r in resumed) == sorted(tuple(r.values()) for r in rows)

    # other metric columns in the same folder would mix; refused
    with pytest.raises(InputError, match="columns"):
        evaluate(protocol, methods, out, progress=False)


class Fingerprinted(LinearBlend):
    """A blend that scales its output, standing in for weights: ``fingerprint`` names the scale."""

    name = "ifrnet"

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = gain
        self.fingerprint = f"gain {gain}"

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        return [self.gain * frame for frame in super().__call__(img0, img1, times)]


def test_evaluate_refuses_to_mix_results_of_other_weights(tmp_path: Path) -> None:
    root = make_gopro(tmp_path / "data")
    (root / "one.txt").write_text(GOPRO_TEST_VIDEOS[1] + "\n")
    protocol = make_protocol("gopro", root, "one.txt", crop_size=GOPRO_CROP)
    out = tmp_path / "out"
    first = evaluate(
        protocol, {"ifrnet": Fingerprinted(1.0), "blend": LinearBlend()}, out, progress=False, save_predictions=True
    )
    assert any((out / "predictions" / "ifrnet").rglob("*.png"))
    assert json.loads((out / "methods.json").read_text()) == {"ifrnet": "gain 1.0", "blend": "blend"}

    # the same weights resume (nothing recomputed); other weights would mix two models' rows: refused
    same = Fingerprinted(1.0)
    assert evaluate(protocol, {"ifrnet": same}, out, progress=False)["ifrnet"] == first["ifrnet"]
    assert same.calls == []
    other = Fingerprinted(0.5)
    with pytest.raises(
        InputError, match=r"samples\.csv: its ifrnet rows came from .*gain 1\.0.*gain 0\.5.*--overwrite"
    ):
        evaluate(protocol, {"ifrnet": other}, out, progress=False)
    assert other.calls == [] and len(read_rows(out)) == 2 * protocol.num_targets

    # --overwrite: only that method's rows (and saved images) are redone, the blend's are kept
    redone = evaluate(protocol, {"ifrnet": other, "blend": LinearBlend()}, out, overwrite=True, progress=False)
    assert not (out / "predictions" / "ifrnet").exists() and any((out / "predictions" / "blend").rglob("*.png"))
    assert len(other.calls) == len(protocol) and len(read_rows(out)) == 2 * protocol.num_targets
    fresh = evaluate(protocol, {"ifrnet": Fingerprinted(0.5)}, tmp_path / "fresh", progress=False)
    assert redone["ifrnet"] == fresh["ifrnet"] and redone["ifrnet"]["psnr"] != first["ifrnet"]["psnr"]
    assert redone["blend"] == first["blend"]
    assert json.loads((out / "methods.json").read_text())["ifrnet"] == "gain 0.5"

    # a folder from before fingerprints were recorded: its rows are of unknown origin
    (out / "methods.json").unlink()
    with pytest.raises(InputError, match="not recorded"):
        evaluate(protocol, {"ifrnet": other}, out, progress=False)


def test_evaluate_unpads_and_reports_ie_for_middlebury(tmp_path: Path) -> None:
    root = make_middlebury(tmp_path / "data")
    (root / "two.txt").write_text("\n".join(MIDDLEBURY_OTHER_SEQUENCES[:2]))
    protocol = make_protocol("middlebury-other", root, "two.txt")
    out = tmp_path / "out"
    summary = evaluate(protocol, {"oracle": Oracle(protocol), "blend": LinearBlend()}, out, progress=False)
    assert summary["oracle"]["ie"] == 0.0 and summary["blend"]["ie"] > 0
    header = (out / "summary.md").read_text().splitlines()[2].replace(" ", "")
    assert header == "|Method|IE|n|"
    assert set(strict_json(out / "summary.json")["blend"]) == {"psnr", "ssim", "ie", "n"}


class BlendEngine(Engine):
    """An engine that cross-fades float32 frames, recording the scale it was built at."""

    uses_time = True
    device_kind = "cpu"

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def interpolate(self, frame0, frame1, times=(0.5,)):
        return [((1 - t) * frame0 + t * frame1).astype(np.float32) for t in times]

    def describe(self) -> str:
        return f"blend at scale {self.scale}"


@pytest.mark.parametrize(("given", "expected"), [(None, 0.8), (0.5, 0.5)])
def test_snu_film_runs_ifrnet_at_its_scale_unless_one_is_given(tmp_path: Path, given, expected) -> None:
    root = make_snu(tmp_path / "data")
    built: list[float] = []

    def factory(scale: float) -> Engine:
        built.append(given if given is not None else scale)
        return BlendEngine(built[-1])

    run_evaluation(
        dataset="snu-film", root=str(root), split="easy", out=str(tmp_path / "out"), engine_factory=factory,
        progress=False,
    )  # fmt: skip
    assert built == [expected]
    summary = strict_json(tmp_path / "out" / "summary.json")
    assert summary["ifrnet"]["n"] == len(SNU_SIZES["easy"])


def test_evaluate_snu_film_and_predictions(tmp_path: Path) -> None:
    root = make_snu(tmp_path / "data")
    protocol = make_protocol("snu-film", root, "easy")
    out = tmp_path / "out"
    summary = evaluate(
        protocol, {"oracle": Oracle(protocol), "blend": LinearBlend()}, out, progress=False, save_predictions=True
    )
    assert summary["oracle"]["psnr"] == math.inf and summary["blend"]["n"] == len(SNU_SIZES["easy"])
    png = out / "predictions" / "oracle" / "easy" / "test" / "GOPRO_test" / "easy0" / "00004_t0.5.png"
    h, w = SNU_SIZES["easy"][0]
    assert read_image(png).shape == (h, w, 3)
    assert np.array_equal(read_image(png), read_image(root / "test/GOPRO_test/easy0/00004.png"))
