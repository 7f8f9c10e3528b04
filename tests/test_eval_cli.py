"""``ifrnet eval`` end to end: every benchmark layout, real footage with all baselines, the report."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from ifrnet.cli import main
from ifrnet.evaluation import run as run_module
from ifrnet.evaluation.baselines import Minterpolate
from ifrnet.evaluation.protocols import make_protocol

from .conftest import EXAMPLES
from .eval_fixtures import make_adobe, make_gopro, make_middlebury, make_snu, make_ucf, make_vimeo

#: Crop for the GoPro-style fixtures, whose frames are far smaller than the paper's 512x512 crop.
SMALL_CROP = 32


def _small_crop_protocol(name, root, split=None, **options):
    if name in ("gopro", "adobe240"):
        options.setdefault("crop_size", SMALL_CROP)
    return make_protocol(name, root, split, **options)


def _markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """Method -> {column header: cell} of a pipe table."""
    rows, header = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or set(cells[0]) <= {"-", ":"}:
            continue
        if cells[0].lower() == "method":
            header = [c.lower() for c in cells]
        else:
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def _check_outputs(out: Path, methods: set[str], samples: int) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == methods
    with open(out / "samples.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for method in methods:
        assert summary[method]["n"] == sum(r["method"] == method for r in rows) > 0
    assert len({r["sample"] for r in rows}) == samples
    table = _markdown_rows((out / "summary.md").read_text())
    assert set(table) == methods
    for method, cells in table.items():
        assert int(cells["n"]) == summary[method]["n"]
        for metric, decimals in (("psnr", 2), ("ssim", 4), ("ie", 2)):
            if metric in cells:
                assert float(cells[metric]) == pytest.approx(summary[method][metric], abs=0.6 * 10**-decimals)
    return summary


@pytest.mark.parametrize(
    ("dataset", "builder", "split", "samples"),
    [
        ("vimeo90k", make_vimeo, None, 3),
        ("ucf101", make_ucf, None, 2),
        ("snu-film", make_snu, "easy", 2),
        ("middlebury-other", make_middlebury, None, 12),
        ("gopro", make_gopro, "two.txt", 3),
        ("adobe240", make_adobe, None, 4),
    ],
)
def test_every_benchmark_runs_from_the_command_line(
    tmp_path, monkeypatch, capsys, checkpoint_s, dataset, builder, split, samples
):
    monkeypatch.setattr(run_module, "make_protocol", _small_crop_protocol)
    root = builder(tmp_path / "data")
    out = tmp_path / "out"
    # Middlebury's 480x640 canvas makes the model slow here; the protocol's padding is covered elsewhere.
    methods = "repeat,blend" if dataset == "middlebury-other" else "ifrnet,blend"
    argv = ["eval", "--dataset", dataset, "--root", str(root), "--methods", methods]
    argv += ["--checkpoint", str(checkpoint_s), "--out", str(out), "--device", "cpu", "-q"]
    argv += ["--split", split] if split else []
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = _check_outputs(out, set(methods.split(",")), samples)
    assert set(_markdown_rows(printed)) == set(methods.split(","))
    if dataset == "middlebury-other":
        assert set(summary["blend"]) == {"psnr", "ssim", "ie", "n"}
    # a second run finds every sample done and gives the same numbers
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text()) == summary


def test_bad_dataset_is_a_one_line_error(tmp_path, capsys, checkpoint_s):
    root = make_vimeo(tmp_path / "vimeo")
    (root / "tri_testlist.txt").unlink()
    code = main(["eval", "--dataset", "vimeo90k", "--root", str(root), "--checkpoint", str(checkpoint_s), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "tri_testlist.txt" in err, err
    code = main(["eval", "--dataset", "vimeo90k", "--root", str(root), "--methods", "bicubic", "-q"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def footage_run(tmp_path_factory) -> tuple[Path, Path, str]:
    """``ifrnet eval --video`` on the shipped excerpt of opencv_vtest.avi with every method."""
    from ifrnet.weights import save_safetensors

    from .conftest import seeded_model

    tmp = tmp_path_factory.mktemp("footage")
    weights = tmp / "IFRNet_S_seeded.safetensors"
    save_safetensors(seeded_model("IFRNet_S").state_dict(), weights)
    out, report = tmp / "eval", tmp / "report"
    argv = ["eval", "--video", str(EXAMPLES / "vtest_4s.avi"), "--limit", "4", "--start", "4"]
    argv += ["--methods", "ifrnet,repeat,blend,dis,minterpolate", "--checkpoint", str(weights)]
    argv += ["--out", str(out), "--report", str(report), "--device", "cpu", "-q"]
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return out, report, printed.getvalue()


def test_real_footage_with_all_baselines(footage_run):
    out, _, printed = footage_run
    methods = {"ifrnet", "repeat", "blend", "dis"} | ({"minterpolate"} if Minterpolate.available() else set())
    summary = _check_outputs(out, methods, 4)
    assert set(_markdown_rows(printed)) == methods
    assert "vtest_4s.avi (2x)" in printed
    # frames 4..12: windows 4-6, 6-8, ... each holding out its middle frame
    with open(out / "samples.csv", newline="") as fh:
        names = sorted({r["sample"] for r in csv.DictReader(fh)})
    assert names == [f"vtest_4s/frame_{first:06d}" for first in range(4, 12, 2)]
    # On real footage of walking people a flow-based method must beat holding the previous frame.
    assert summary["dis"]["psnr"] > summary["repeat"]["psnr"] + 1.0
    assert summary["dis"]["ssim"] > summary["repeat"]["ssim"]
    assert summary["blend"]["psnr"] > summary["repeat"]["psnr"]


def test_report_page_links_its_images(footage_run):
    _, report, _ = footage_run
    page = (report / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    # worst and median sample: inputs, truth, 4-5 methods, error map, two flows and the mask
    assert len(images) >= 2 * 9
    for name in images:
        assert (report / name).stat().st_size > 0
    for caption in ("ground truth", "flow t-&gt;0", "flow t-&gt;1", "occlusion mask", "dis"):
        assert caption in page
    assert "<table" in page and "repeat" in page
    # the side-by-side strip: inputs overlaid, truth and three methods at half size (768x576 frames)
    from PIL import Image

    strip = Image.open(report / "images" / "p00_strip.png")
    assert strip.size == (5 * 384 + 4 * 4, 288 + 18)


def _render_script():
    import importlib.util

    from .conftest import REPO

    spec = importlib.util.spec_from_file_location("render_report", REPO / "scripts" / "render_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_renders_in_headless_chromium(footage_run, tmp_path, capsys):
    render = _render_script()
    if render.find_browser() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium); scripts/render_report.py needs one")
    _, report, _ = footage_run
    shot = tmp_path / "shot.png"
    assert render.main([str(report / "index.html"), "-o", str(shot)]) == 0
    # Video frames, flow colours and error maps: far more colours than a page of text and tables.
    assert render.colour_count(shot) > 20000
    # A page whose images are gone renders as text only, and the script says so.
    for image in (report / "images").iterdir():
        image.rename(tmp_path / image.name)
    try:
        assert render.main([str(report / "index.html"), "-o", str(tmp_path / "bare.png")]) == 1
        assert "did not load" in capsys.readouterr().err
    finally:
        for image in tmp_path.glob("p*_*.png"):
            image.rename(report / "images" / image.name)


def test_eval_scale_changes_the_scores(tmp_path):
    """``--scale`` reaches the engine: at 0.5 the network sees other pixels, so other numbers."""
    from ifrnet.weights import save_safetensors

    from .conftest import seeded_model

    weights = tmp_path / "IFRNet_S_seeded.safetensors"
    save_safetensors(seeded_model("IFRNet_S").state_dict(), weights)
    scores = {}
    for scale in ("1", "0.5"):
        out = tmp_path / f"scale_{scale}"
        argv = ["eval", "--video", str(EXAMPLES / "vtest_4s.avi"), "--limit", "2", "--methods", "ifrnet"]
        argv += ["--checkpoint", str(weights), "--scale", scale, "--out", str(out), "--device", "cpu", "-q"]
        assert main(argv) == 0
        scores[scale] = json.loads((out / "summary.json").read_text())["ifrnet"]
    assert scores["1"]["n"] == scores["0.5"]["n"] == 2
    assert scores["1"]["psnr"] != scores["0.5"]["psnr"]
    # and the fingerprint tells the two apart: a run at one scale never resumes the other's rows
    assert "scale 0.5" in (tmp_path / "scale_0.5" / "methods.json").read_text()
