"""The weights table, and the weights that ship with the package: found by default, and good on
held-out real footage.

The quality checks use frames of opencv_vtest.avi that training never saw (frames 0-299 are
held out, MODEL_CARD.md): the example triplet 200/201/202 and the first frames of the shipped
clip ``examples/vtest_4s.avi`` (frames 0-39).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ifrnet
from ifrnet import CheckpointError, Interpolator, load_model, pretrained
from ifrnet.cli import main
from ifrnet.io import read_image
from ifrnet.models import list_models
from ifrnet.weights import read_state_dict, resolve_checkpoint

from .conftest import EXAMPLES, REPO, seeded_model

DEFAULT = pretrained.DEFAULT

TAGS = [
    "IFRNet.vimeo90k",
    "IFRNet_L.vimeo90k",
    "IFRNet_S.vimeo90k",
    "IFRNet.gopro",
    "IFRNet_L.gopro",
    "IFRNet_S.gopro",
    "IFRNet_S.starter",
]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture
def nothing_official(tmp_path, monkeypatch):
    """A working folder and environment with none of the authors' checkpoints in reach."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IFRNET_CHECKPOINTS", raising=False)
    return tmp_path


def _place(folder: Path, entry: pretrained.Weights) -> Path:
    """An empty file where the authors' layout puts ``entry`` (resolution only looks for files)."""
    path = folder / entry.folder / entry.files[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


@pytest.fixture(scope="module")
def shipped_model() -> ifrnet.IFRNet:
    assert DEFAULT.find() is not None, (
        f"{DEFAULT.candidates()[0]} is missing: the package must ship its default weights"
    )
    return load_model(checkpoint=DEFAULT.name, device="cpu")


def test_the_table_has_one_entry_per_tag_with_its_facts():
    assert list(pretrained.WEIGHTS) == TAGS
    for name, entry in pretrained.WEIGHTS.items():
        assert name == f"{entry.variant}.{entry.tag}" and entry.variant in list_models()
        assert entry.files and entry.licence and entry.licence_notes and entry.trained_on and entry.source
        # the released Vimeo90K weights ignore t; GoPro (8x) and the starter weights honour it
        assert entry.uses_time == (entry.tag != "vimeo90k"), name
    folders = {w.variant: w.folder for w in pretrained.WEIGHTS.values() if not w.shipped}
    assert folders == {"IFRNet": "IFRNet", "IFRNet_L": "IFRNet_large", "IFRNet_S": "IFRNet_small"}
    assert pretrained.WEIGHTS["IFRNet_L.vimeo90k"].files[0] == "IFRNet_L_Vimeo90K.pth"
    assert [s.psnr for s in pretrained.WEIGHTS["IFRNet_L.vimeo90k"].scores] == [36.20]
    assert DEFAULT is pretrained.WEIGHTS["IFRNet_S.starter"] and DEFAULT.shipped


def test_starter_scores_are_the_model_cards():
    """The table's scores are the ifrnet rows of MODEL_CARD.md's four held-out tables, in order."""
    card = (REPO / "MODEL_CARD.md").read_text(encoding="utf-8")
    rows = [float(m) for m in re.findall(r"^\| ifrnet \| ([0-9.]+) \|", card, flags=re.MULTILINE)]
    assert [s.psnr for s in DEFAULT.scores] == rows[:4] and len(rows) == 4
    assert "IFRNet_S.starter" in card


def test_the_table_and_tag_resolution_do_not_import_torch(tmp_path):
    code = (
        "import sys; from ifrnet import pretrained; "
        "path, variant = pretrained.resolve(None, 'IFRNet_S.starter'); "
        "assert variant == 'IFRNet_S' and path.is_file(), (path, variant); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_tag_resolves_to_its_file(nothing_official, monkeypatch):
    user = nothing_official / "user"
    monkeypatch.setenv("IFRNET_CHECKPOINTS", str(user))
    for name, entry in pretrained.WEIGHTS.items():
        expected = DEFAULT.find() if entry.shipped else _place(user, entry)
        assert resolve_checkpoint(None, name) == (expected, entry.variant), name
        # any case, variant aliases, and the bare tag with --model
        assert resolve_checkpoint(None, name.upper().replace("_", "-")) == (expected, entry.variant), name
        assert resolve_checkpoint(entry.variant, entry.tag) == (expected, entry.variant), name
        assert resolve_checkpoint(entry.variant.lower(), name) == (expected, entry.variant), name
        assert pretrained.find(entry.variant, entry.tag) == expected


def test_a_tag_loads_those_weights(nothing_official):
    seeded = seeded_model("IFRNet_S", seed=4)
    torch.save(seeded.state_dict(), _place(nothing_official / "checkpoints", pretrained.WEIGHTS["IFRNet_S.gopro"]))
    for model, checkpoint in [(None, "IFRNet_S.gopro"), ("IFRNet_S", "gopro"), ("ifrnet-small", "GoPro")]:
        loaded = load_model(model, checkpoint, device="cpu")
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in seeded.state_dict().items()), checkpoint
    starter = load_model(checkpoint="IFRNet_S.starter", device="cpu")
    shipped = read_state_dict(DEFAULT.find())
    assert all(torch.equal(starter.state_dict()[k], v.float()) for k, v in shipped.items())


@pytest.mark.parametrize("spelling", ["Vimeo90K", "vimeo90k", "VIMEO90K", "GoPro", "gopro", "starter", "Starter"])
def test_old_spellings_are_bare_tags(nothing_official, spelling):
    checkpoints = nothing_official / "checkpoints"
    tag = spelling.lower()
    for entry in pretrained.WEIGHTS.values():
        if not entry.shipped:
            _place(checkpoints, entry)
    # without --model: the first variant, in table order, that has the tag
    first = next(w for w in pretrained.WEIGHTS.values() if w.tag == tag)
    assert resolve_checkpoint(None, spelling) == (first.find(), first.variant)
    for variant in list_models():
        entry = pretrained.WEIGHTS.get(f"{variant}.{tag}")
        if entry is not None:
            assert resolve_checkpoint(variant, spelling) == (entry.find(), variant)


def test_a_bare_tag_without_model_takes_the_first_variant_found(nothing_official):
    small = _place(nothing_official / "checkpoints", pretrained.WEIGHTS["IFRNet_S.vimeo90k"])
    assert resolve_checkpoint(None, "Vimeo90K") == (small, "IFRNet_S")
    large = _place(nothing_official / "checkpoints", pretrained.WEIGHTS["IFRNet_L.vimeo90k"])
    assert resolve_checkpoint(None, "Vimeo90K") == (large, "IFRNet_L")


@pytest.mark.parametrize("text", ["IFRNet.vimeo", "IFRNet_XL.vimeo90k", "vimeo", "IFRNet_S", "best"])
def test_an_unknown_tag_lists_the_known_ones(nothing_official, text):
    with pytest.raises(CheckpointError, match="neither a checkpoint file nor a weights tag") as caught:
        load_model(checkpoint=text, device="cpu")
    message = str(caught.value)
    assert "\n" not in message and all(tag in message for tag in TAGS), message
    if text == "IFRNet_S":
        assert "--model IFRNet_S" in message


def test_an_unknown_tag_is_one_line_on_the_command_line(nothing_official, capsys):
    a, b = EXAMPLES / "vtest_200.png", EXAMPLES / "vtest_202.png"
    code = main(["pair", str(a), str(b), "-o", str(nothing_official / "o"), "--checkpoint", "IFRNet.vimeo"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("ifrnet"), err
    assert "known tags: IFRNet.vimeo90k" in err and "IFRNet_S.starter" in err


def test_a_file_wins_over_a_tag_of_the_same_name(nothing_official):
    seeded = seeded_model("IFRNet_S", seed=5)
    for name in ("starter", "IFRNet_S.starter"):
        torch.save(seeded.state_dict(), nothing_official / name)
        loaded = load_model(checkpoint=name, device="cpu")
        assert torch.equal(loaded.decoder1.convblock[0][0].weight, seeded.decoder1.convblock[0][0].weight), name
        assert resolve_checkpoint(None, name) == (Path(name), None)
    # with a folder separator or a weights suffix it is a path, whether or not the file exists
    for path in ("sub/starter", "IFRNet_S.vimeo90k.pth", "gone.safetensors"):
        with pytest.raises(CheckpointError, match="no such checkpoint file"):
            load_model(checkpoint=path, device="cpu")


def test_tags_of_another_variant_are_refused(nothing_official):
    with pytest.raises(CheckpointError, match=r"IFRNet_S\.starter holds IFRNet_S weights, not IFRNet_L"):
        load_model("IFRNet_L", "IFRNet_S.starter", device="cpu")
    with pytest.raises(CheckpointError, match="are for IFRNet_S, not IFRNet_L"):
        load_model("IFRNet_L", checkpoint="starter", device="cpu")
    with pytest.raises(CheckpointError, match=r"IFRNet_L_GoPro\.pth in checkpoints/IFRNet_large/"):
        load_model("IFRNet_L", "gopro", device="cpu")


def test_default_order_when_nothing_is_given(nothing_official, monkeypatch):
    """Variant by variant (IFRNet, IFRNet_L, IFRNet_S); for each, the search folders in order, and
    in each folder Vimeo90K before GoPro; else the shipped starter weights."""
    local, user = nothing_official / "checkpoints", nothing_official / "user"
    monkeypatch.setenv("IFRNET_CHECKPOINTS", str(user))
    table = pretrained.WEIGHTS
    assert resolve_checkpoint(None, None) == (DEFAULT.find(), "IFRNet_S")
    steps = [  # placed there, then the expected winner and where it is
        (local, "IFRNet_S.gopro", local, "IFRNet_S.gopro"),
        (local, "IFRNet_S.vimeo90k", local, "IFRNet_S.vimeo90k"),  # Vimeo90K before GoPro
        (local, "IFRNet_L.gopro", local, "IFRNet_L.gopro"),  # a larger variant before a smaller one
        (user, "IFRNet_S.vimeo90k", local, "IFRNet_L.gopro"),  # the variant decides before the folder
        (user, "IFRNet_L.gopro", user, "IFRNet_L.gopro"),  # then the folder: $IFRNET_CHECKPOINTS first
        (local, "IFRNet_L.vimeo90k", user, "IFRNet_L.gopro"),  # ... even over a Vimeo90K in ./checkpoints
        (local, "IFRNet.gopro", local, "IFRNet.gopro"),
    ]
    for folder, placed, where, expected in steps:
        _place(folder, table[placed])
        entry = table[expected]
        assert resolve_checkpoint(None, None) == (where / entry.folder / entry.files[0], entry.variant), placed
    # with a model: only that variant's, and its shipped weights are still the fallback
    assert resolve_checkpoint("IFRNet_S", None)[0] == user / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"


def test_load_model_without_arguments_returns_the_shipped_weights(nothing_official):
    model = load_model(device="cpu")
    assert model.config.name == DEFAULT.variant == "IFRNet_S"
    stored = read_state_dict(DEFAULT.find())
    assert all(torch.equal(model.state_dict()[k], v.float()) for k, v in stored.items())
    # trained at random t, so the time input is used: no bisection fallback
    assert model.uses_time() and DEFAULT.uses_time
    # fp16 in the package keeps the wheel small
    assert {v.dtype for v in stored.values()} == {torch.float16}
    assert DEFAULT.find().stat().st_size < 8 * 2**20


def test_official_checkpoints_still_come_first(nothing_official):
    official = nothing_official / "checkpoints" / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"
    official.parent.mkdir(parents=True)
    seeded = seeded_model("IFRNet_S", seed=3)
    torch.save(seeded.state_dict(), official)
    found = load_model(device="cpu")
    assert all(torch.equal(found.state_dict()[k], v) for k, v in seeded.state_dict().items())
    # the shipped weights stay reachable by their tag
    tagged = load_model(checkpoint="starter", device="cpu")
    assert not torch.equal(tagged.state_dict()["decoder1.convblock.0.0.weight"], seeded.decoder1.convblock[0][0].weight)


def test_other_variants_say_what_ships(nothing_official):
    with pytest.raises(CheckpointError, match="ship with ifrnet are IFRNet_S") as caught:
        load_model("IFRNet", device="cpu")
    assert "checkpoints/IFRNet/" in str(caught.value)


def test_a_missing_shipped_file_is_named(nothing_official, monkeypatch):
    monkeypatch.setattr(pretrained, "PACKAGE_DIR", nothing_official / "gone")
    with pytest.raises(CheckpointError, match="checkpoints/IFRNet/") as caught:
        load_model(device="cpu")
    assert "ship with" not in str(caught.value)
    with pytest.raises(CheckpointError, match=r"gone/ifrnet_s_starter\.safetensors.*missing from this installation"):
        load_model(checkpoint="IFRNet_S.starter", device="cpu")


def test_info_lists_every_entry_and_where_it_was_found(nothing_official, monkeypatch, capsys):
    user = nothing_official / "user"
    monkeypatch.setenv("IFRNET_CHECKPOINTS", str(user))
    placed = _place(user, pretrained.WEIGHTS["IFRNet_L.gopro"])
    assert main(["info", "--size", "64x64"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip() and line.split()[0] in TAGS}
    assert list(lines) == TAGS
    assert lines["IFRNet_L.gopro"].rstrip().endswith(f"found: {placed}") and "any t" in lines["IFRNet_L.gopro"]
    assert lines["IFRNet.vimeo90k"].rstrip().endswith("not found") and "2x only" in lines["IFRNet.vimeo90k"]
    assert "35.80 dB" in lines["IFRNet.vimeo90k"] and "MIT" in lines["IFRNet.vimeo90k"]
    assert lines["IFRNet_S.starter"].rstrip().endswith(f"found: {DEFAULT.find()} (with a ready OpenVINO IR)")
    assert "31.84 dB" in lines["IFRNet_S.starter"]
    assert f"{user}, {nothing_official / 'checkpoints'}" in out
    # a broken installation says so; --model narrows the list to that variant
    monkeypatch.setattr(pretrained, "PACKAGE_DIR", nothing_official / "gone")
    assert main(["info", "--size", "64x64", "--model", "ifrnet-s"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0] in TAGS]
    assert listed == ["IFRNet_S.vimeo90k", "IFRNet_S.gopro", "IFRNet_S.starter"]
    assert "missing from this installation" in out


def test_beats_linear_blend_on_a_held_out_real_triplet(shipped_model):
    frame0, truth, frame1 = (read_image(EXAMPLES / f"vtest_{i}.png") for i in (200, 201, 202))
    (middle,) = Interpolator(shipped_model, device="cpu").interpolate(frame0, frame1, [0.5])
    blend = ((frame0.astype(np.float64) + frame1) / 2).round().astype(np.uint8)
    ours, theirs = _psnr(middle, truth), _psnr(blend, truth)
    assert ours > theirs + 0.5, f"shipped weights {ours:.2f} dB vs linear blend {theirs:.2f} dB"


def test_honours_t_on_held_out_windows(shipped_model, tmp_path):
    """Between frames 4k and 4k+4, the frame 4k+1 is t = 1/4 and 4k+3 is t = 3/4: predictions at
    those times must be closer to them than the t = 1/2 prediction is (a network that takes t but
    ignores it fails).
    ``honours_t`` is what ``scripts/evaluate_weights.py`` reports for MODEL_CARD.md."""
    from ifrnet.evaluation.footage import honours_t

    interpolator = Interpolator(shipped_model, device="cpu")
    gains = honours_t(interpolator, EXAMPLES / "vtest_4s.avi", windows=5, cache_dir=tmp_path)
    assert sorted(gains) == [0.25, 0.75] and all(len(per_window) == 5 for per_window in gains.values()), gains
    # Per window the walkers' motion is a few pixels, so single windows are noisy; on average each
    # time must be clearly better served by its own prediction than by the middle one.
    for t, per_window in gains.items():
        assert np.mean(per_window) > 0.25, (t, per_window)


def test_the_motion_probe_measures_pans_with_the_shipped_weights(shipped_model):
    """``--scale auto``'s probe (a quarter-scale pass of the weights) measures the motion of a
    held-out frame panned by known amounts: near zero when still, within 40% of the pan for 8 and
    16 pixels, and growing with it."""
    frame = read_image(EXAMPLES / "vtest_200.png")
    auto = Interpolator(shipped_model, device="cpu", scale_factor="auto")
    pans = (0, 8, 16)
    # the right part of the frame moves left by `shift` pixels: a pan without a wrapped edge
    before = np.stack([frame[:, : -max(pans)]] * len(pans))
    after = np.stack([frame[:, shift : frame.shape[1] - max(pans) + shift] for shift in pans])
    still, small, large = auto.motion(before, after)
    assert still < 2 < 0.6 * 8 < small < 1.4 * 8 and 0.6 * 16 < large < 1.4 * 16, (still, small, large)
    assert small < large
    assert auto.pair_scales(before[:1], after[:1]) == [1.0]
