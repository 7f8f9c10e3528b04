"""The trainer end to end on small real-footage datasets: learning, exact resume, torchrun, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ifrnet import CheckpointError, InputError
from ifrnet.models import create_model
from ifrnet.training.trainer import PREVIOUS_STATE_FILE, STATE_FILE, TrainConfig, Trainer, cosine_lr, load_config_file

from .conftest import REPO
from .datasets import make_vimeo_septuplets, make_vimeo_triplets


@pytest.fixture(scope="module")
def vimeo(tmp_path_factory):
    return make_vimeo_triplets(tmp_path_factory.mktemp("vimeo"), n_train=8, n_test=2, with_flow=True)


def _config(out, data, **kw) -> TrainConfig:
    base = dict(
        model="IFRNet_S",
        data=data,
        out=str(out),
        batch_size=4,
        crop=32,
        workers=0,
        save_every=1000,
        log_every=1,
        device="cpu",
        seed=3,
    )
    return TrainConfig(**{**base, **kw})


def test_cosine_schedule_matches_the_paper():
    assert cosine_lr(0, 100, 1e-4, 1e-5) == pytest.approx(1e-4)
    assert cosine_lr(50, 100, 1e-4, 1e-5) == pytest.approx(5.5e-5)
    assert cosine_lr(100, 100, 1e-4, 1e-5) == pytest.approx(1e-5)


SHIPPED_CONFIGS = sorted((REPO / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_shipped_config_builds(path):
    # the model card's recipes run these files: a base chain that breaks, a setting renamed under
    # them or a repository file named as init that is not there would only show hours into a replay
    # (an absolute init is an earlier stage's output, made by the recipe itself)
    config = TrainConfig(**load_config_file(path))
    assert config.data, f"{path.name} trains on nothing"
    if config.init is not None and not Path(config.init).is_absolute():
        assert (REPO / config.init).is_file(), f"{path.name}: init {config.init} is not in the repository"


def test_shipped_configs_are_found():
    assert len(SHIPPED_CONFIGS) >= 2


def test_config_file_extends_its_base(tmp_path):
    (tmp_path / "stage1.toml").write_text('model = "IFRNet_S"\ndata = ["a", "b"]\nlr = 1e-3\nseed = 5\n')
    (tmp_path / "next").mkdir()
    stage2 = tmp_path / "next" / "stage2.yaml"
    stage2.write_text("base: ../stage1.toml\ndata: [c]\nlr: 3.0e-4\n")
    # later files win key by key; lists are replaced, not concatenated
    assert load_config_file(stage2) == {"model": "IFRNet_S", "data": ["c"], "lr": 3e-4, "seed": 5}

    (tmp_path / "stage1.toml").write_text('base = "next/stage2.yaml"\nlr = 1e-3\n')
    with pytest.raises(InputError, match=r"stage1\.toml: base next/stage2\.yaml leads back to stage2\.yaml"):
        load_config_file(stage2)
    (tmp_path / "stage1.toml").write_text("learning-rate = 1e-3\n")
    with pytest.raises(InputError, match=r"stage1\.toml: unknown setting\(s\) learning_rate"):
        load_config_file(stage2)
    stage2.write_text("base: 3\n")
    with pytest.raises(InputError, match=r"base must be the path of another config file; got 3$"):
        load_config_file(stage2)


def test_old_amp_setting_is_precision(tmp_path):
    # config files written before --precision: amp none|bf16|fp16, none meaning fp32
    (tmp_path / "old.toml").write_text('amp = "none"\nlr = 1e-3\n')
    (tmp_path / "child.yaml").write_text("base: old.toml\namp: bf16\n")
    assert load_config_file(tmp_path / "old.toml") == {"precision": "fp32", "lr": 1e-3}
    assert load_config_file(tmp_path / "child.yaml") == {"precision": "bf16", "lr": 1e-3}
    (tmp_path / "both.json").write_text('{"amp": "none", "precision": "bf16"}')
    with pytest.raises(InputError, match=r"both\.json: amp is the old name of precision"):
        load_config_file(tmp_path / "both.json")
    (tmp_path / "bad.yaml").write_text("a: [1\nb: 2\n")
    with pytest.raises(InputError, match=r"bad\.yaml: cannot parse config \(ParserError: [^\n]*\)$"):
        load_config_file(tmp_path / "bad.yaml")


def test_train_flags_are_generated_from_the_config_fields(capsys):
    from ifrnet.cli import build_parser
    from ifrnet.training.config import options

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help at the terminal's width
    for name, _, _ in options():
        assert f"--{name.replace('_', '-')}" in text, name
    # help, metavar, range and default all come from the field
    assert f"--batch-size N samples per process (default: {TrainConfig().batch_size})" in text
    assert "--precision {fp32,bf16,fp16}" in text and "--weight-init {default,kaiming}" in text
    assert "--no-skip-bad" in text and "(default: off)" in text
    parse = build_parser().parse_args
    # unset flags are None: a config file's value stands unless a flag is given
    unset = vars(parse(["train"]))
    assert all(unset[name] is None for name, _, _ in options())
    given = parse(["train", "--batch-size", "3", "--data", "a:x", "--data", "b:y", "--lr", "2e-4", "--skip-bad"])
    assert (given.batch_size, given.data, given.lr, given.skip_bad) == (3, ["a:x", "b:y"], 2e-4, True)
    for argv, fragment in [
        (["--epochs", "0"], "argument --epochs: must be at least 1; got 0"),
        (["--precision", "int8"], "invalid choice: 'int8'"),
        (["--workers", "two"], "expected an integer"),
    ]:
        with pytest.raises(SystemExit):
            parse(["train", *argv])
        assert fragment in capsys.readouterr().err
    with pytest.raises(InputError, match=r"--epochs must be a number; got '3'"):
        TrainConfig(data=["x"], epochs="3").validate()


def test_amp_flag_is_the_old_spelling_of_precision(capsys, monkeypatch):
    from ifrnet.cli import build_parser, main
    from ifrnet.training import trainer

    parse = build_parser().parse_args
    assert parse(["train", "--amp", "none"]).amp == "fp32"
    assert parse(["train", "--amp", "bf16"]).amp == "bf16"
    assert parse(["train", "--precision", "fp16"]).precision == "fp16"
    # what the run is configured with, and the note that names the new flag
    seen = []

    class Recorder:
        def __init__(self, config):
            seen.append(config.precision)

        def fit(self, resume=False, progress=True):
            return {}

    monkeypatch.setattr(trainer, "Trainer", Recorder)
    assert main(["train", "--data", "x:y", "--amp", "none", "-q"]) == 0
    assert "--amp is now --precision" in capsys.readouterr().err
    assert main(["train", "--data", "x:y", "--amp", "none", "--precision", "bf16", "-q"]) == 0
    assert seen == ["fp32", "bf16"]
    with pytest.raises(SystemExit):
        parse(["train", "--amp", "fp32"])  # --amp never had fp32: its values are none, bf16, fp16
    assert "must be none, bf16 or fp16" in capsys.readouterr().err


def test_parser_does_not_import_torch():
    # ifrnet builds every subcommand's parser on each start: the train flags come from a torch-free module
    code = "import sys; from ifrnet.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_training_on_real_footage_lowers_the_loss(tmp_path, vimeo):
    septs = make_vimeo_septuplets(tmp_path / "sept", n=6)
    config = _config(
        tmp_path / "run",
        [f"vimeo90k:{vimeo}", f"vimeo90k-septuplet:{septs}"],
        iterations=48,
        lr=1e-3,
        lr_min=1e-4,
        val=[f"vimeo90k:{vimeo}"],
        val_every=24,
    )
    trainer = Trainer(config)
    result = trainer.fit(progress=False)
    losses = [h["total"] for _, h in trainer.history]
    assert len(losses) == 48
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.8 * first, (first, last)
    assert any(h["dis"] > 0 for _, h in trainer.history)  # the Vimeo flow labels were used
    assert result["best_psnr"] > 10
    for name in (STATE_FILE, "latest.pth", "best.pth", "config.json"):
        assert (tmp_path / "run" / name).is_file()
    assert list((tmp_path / "run" / "tb").iterdir())
    from ifrnet import load_model

    assert load_model(checkpoint=tmp_path / "run" / "latest.pth", device="cpu").config.name == "IFRNet_S"


def _train_command(out, data, *extra) -> list[str]:
    """The `ifrnet train` line of `_config`, saving every 4 iterations of 12."""
    return [
        sys.executable, "-m", "ifrnet.cli", "train", "--model", "IFRNet_S", "--data", data, "--out", str(out),
        "--batch-size", "4", "--crop", "32", "--workers", "0", "--save-every", "4", "--iterations", "12",
        "--device", "cpu", "--seed", "3", "--quiet", *extra,
    ]  # fmt: skip


def test_kill_and_resume_reaches_the_same_state(tmp_path, vimeo):
    # All three runs are child processes: the pytest process's torch thread count is whatever an
    # earlier test's engine set it to, and a different count sums the convolution gradients in a
    # different order, which 8 Adam steps grow past any tolerance.
    data = f"vimeo90k:{vimeo}"
    subprocess.run(_train_command(tmp_path / "ref", data), check=True, timeout=300)

    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_command(run, data), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    for line in proc.stderr:
        if "checkpoint: iteration 8" in line or time.time() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = torch.load(run / STATE_FILE, weights_only=False)
    assert state["iteration"] == 8
    # saving every 4 leaves the reference's iteration-8 state as its previous state file
    at_8 = torch.load(tmp_path / "ref" / PREVIOUS_STATE_FILE, weights_only=False)
    assert at_8["iteration"] == 8
    for name, a in at_8["model"].items():
        torch.testing.assert_close(a, state["model"][name], rtol=1e-5, atol=1e-6, msg=f"at the kill: {name}")

    subprocess.run(_train_command(run, data, "--resume"), check=True, timeout=300)
    reference = torch.load(tmp_path / "ref" / STATE_FILE, weights_only=False)
    resumed = torch.load(run / STATE_FILE, weights_only=False)
    assert resumed["iteration"] == reference["iteration"] == 12
    for (name, a), b in zip(reference["model"].items(), resumed["model"].values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    # the same learning rate and batches after the resume leave the optimiser where the reference's is
    for a, b in zip(reference["optimizer"]["param_groups"], resumed["optimizer"]["param_groups"], strict=True):
        assert a["lr"] == b["lr"]


def test_time_limit_stops_resumably_on_the_same_schedule(tmp_path, vimeo):
    data, val = [f"vimeo90k:{vimeo}"], [f"vimeo90k:{vimeo}"]
    reference = Trainer(_config(tmp_path / "ref", data, iterations=4, val=val, val_every=100))
    reference.fit(progress=False)

    run = tmp_path / "limited"
    # a limit shorter than one step: the run stops after its first iteration
    stopped = Trainer(_config(run, data, iterations=4, val=val, val_every=100, time_limit=1e-6))
    result = stopped.fit(progress=False)
    assert (result["iteration"], result["iterations"]) == (1, 4)
    assert torch.load(run / STATE_FILE, weights_only=False)["iteration"] == 1
    assert (run / "best.pth").is_file()  # validated at the stop, though no validation was due

    resumed = Trainer(_config(run, data, iterations=4, val=val, val_every=100))
    resumed.fit(resume=True, progress=False)
    ref_steps = dict(reference.history)
    assert [i for i, _ in resumed.history] == [2, 3, 4]
    for iteration, values in resumed.history:  # the schedule kept its length: same rates, same batches
        assert values["lr"] == ref_steps[iteration]["lr"]
        assert values["total"] == pytest.approx(ref_steps[iteration]["total"], rel=1e-5)
    with pytest.raises(InputError, match="time-limit"):
        Trainer(_config(tmp_path / "bad", data, time_limit=0))


def test_two_processes_under_torchrun(tmp_path, vimeo):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "ifrnet.cli",
        "train",
        "--model",
        "IFRNet_S",
        "--data",
        f"vimeo90k:{vimeo}",
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--crop",
        "32",
        "--workers",
        "0",
        "--iterations",
        "3",
        "--device",
        "cpu",
        "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(out / STATE_FILE, weights_only=False)
    assert state["world"] == 2 and state["iteration"] == 3


def test_bad_input_is_explained(tmp_path, vimeo):
    with pytest.raises(InputError, match=r"tri_trainlist\.txt"):
        Trainer(_config(tmp_path / "x", [f"vimeo90k:{tmp_path / 'nowhere'}"]))
    with pytest.raises(InputError, match="unknown dataset"):
        Trainer(_config(tmp_path / "x", ["imagenet:/data"]))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        Trainer(_config(tmp_path / "empty", [f"vimeo90k:{vimeo}"], iterations=2)).fit(resume=True, progress=False)
    Trainer(_config(tmp_path / "small", [f"vimeo90k:{vimeo}"], iterations=1)).fit(progress=False)
    with pytest.raises(CheckpointError, match="incompatible: it trains IFRNet_S, this run IFRNet"):
        Trainer(_config(tmp_path / "small", [f"vimeo90k:{vimeo}"], model="IFRNet", iterations=2)).fit(resume=True)


def test_flow_and_train_commands(tmp_path, capsys):
    from ifrnet.cli import main

    root = make_vimeo_triplets(tmp_path / "v", n_train=4, n_test=1, with_flow=False)
    assert main(["flow", "--dataset", "vimeo90k", "--root", str(root), "--quiet"]) == 0
    assert "5 sequence(s) labelled" in capsys.readouterr().out
    assert len(list((root / "flow").rglob("*.flo"))) == 10
    assert main(["flow", "--dataset", "vimeo90k", "--root", str(root), "--quiet"]) == 0
    assert "0 sequence(s) labelled, 5 already done" in capsys.readouterr().out

    config = tmp_path / "run.toml"
    config.write_text(f'model = "IFRNet_S"\ndata = ["vimeo90k:{root}"]\nbatch-size = 2\ncrop = 32\nworkers = 0\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--iterations", "2", "--out", str(out), "--quiet"]) == 0
    resolved = __import__("json").loads((out / "config.json").read_text())
    assert resolved["batch_size"] == 2 and resolved["iterations"] == 2 and resolved["model"] == "IFRNet_S"
    assert resolved["distillation_robust"] is True  # the paper's loss unless asked otherwise
    capsys.readouterr()

    for argv, fragment in [
        (["flow", "--dataset", "vimeo90k", "--root", str(tmp_path / "none")], "none"),
        (["train", "--data", f"vimeo90k:{tmp_path / 'none'}", "--out", str(out)], "tri_trainlist.txt"),
        (["train", "--config", str(tmp_path / "missing.toml")], "missing.toml: no such config file"),
        (
            [
                "train",
                "--data",
                f"vimeo90k:{root}",
                "--out",
                str(out),
                "--model",
                "IFRNet",
                "--resume",
                "--batch-size",
                "2",
                "--crop",
                "32",
            ],
            "incompatible",
        ),
        (
            [
                "train",
                "--data",
                f"vimeo90k:{root}",
                "--out",
                str(tmp_path / "r2"),
                "--batch-size",
                "2",
                "--workers",
                "1",
            ],
            "smaller than the 224x224 training crop",
        ),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err, err


def test_old_amp_run_resumes(tmp_path, vimeo, capsys):
    from ifrnet.cli import main

    run, old = tmp_path / "run", tmp_path / "old.toml"
    old.write_text(
        f'model = "IFRNet_S"\ndata = ["vimeo90k:{vimeo}"]\nbatch-size = 4\ncrop = 32\nworkers = 0\n'
        'device = "cpu"\namp = "none"\n'
    )
    assert main(["train", "--config", str(old), "--iterations", "1", "--out", str(run), "-q"]) == 0
    # no --val: the summary says so instead of a best PSNR of -inf
    assert "no validation (--val)" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    assert saved["precision"] == "fp32" and "amp" not in saved
    # make the run folder one written before the rename: config.json and the state's config say amp
    del saved["precision"]
    (run / "config.json").write_text(json.dumps({**saved, "amp": "none", "iterations": 2}))
    state = torch.load(run / STATE_FILE, weights_only=True)
    state["config"] = {**{k: v for k, v in state["config"].items() if k != "precision"}, "amp": "none"}
    torch.save(state, run / STATE_FILE)
    (run / f"{STATE_FILE}.sha256").write_text(hashlib.sha256((run / STATE_FILE).read_bytes()).hexdigest() + "\n")
    capsys.readouterr()
    # replaying the run from its own config.json
    assert main(["train", "--config", str(run / "config.json"), "--resume", "-q"]) == 0
    assert "done: iteration 2 of 2" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["precision"] == "fp32"


def test_validation_runs_the_engine_on_the_training_model(tmp_path, vimeo):
    import torch.nn.functional as F

    from ifrnet.metrics import psnr
    from ifrnet.models.ops import padded_side

    data = [f"vimeo90k:{vimeo}"]
    trainer = Trainer(_config(tmp_path / "v", data, val=data, iterations=1))
    # an odd frame size, so that the engine's padding to the network's stride and crop back are used
    sample = trainer.val_set[0]
    sample = sample._replace(**{k: getattr(sample, k)[:, :45, :61] for k in ("img0", "imgt", "img1")})
    trainer.val_set = [sample]
    params = [(p, p.data_ptr()) for p in trainer.model.parameters()]
    trainer.model.train()
    score = trainer.validate()
    # the PSNR of the network run by hand on the padded frames, cropped back
    img0, imgt, img1 = (x.unsqueeze(0) for x in (sample.img0, sample.imgt, sample.img1))
    with torch.no_grad():
        padded = [F.pad(x, (0, 64 - 61, 0, 48 - 45), mode="replicate") for x in (img0, img1)]
        pred = trainer.model.inference(*padded, sample.embt.view(1, 1, 1, 1))
    assert (padded_side(45), padded_side(61)) == (48, 64)
    assert score == pytest.approx(psnr(pred[..., :45, :61], imgt).item(), abs=1e-4)
    # the engine left the model the optimizer trains as it was, and in training mode again
    assert trainer.model.training
    assert all(p is q and p.data_ptr() == ptr for (p, ptr), q in zip(params, trainer.model.parameters(), strict=True))
    assert all(
        p is q for p, q in zip(trainer.optimizer.param_groups[0]["params"], trainer.model.parameters(), strict=True)
    )


def test_init_starts_from_the_given_weights(tmp_path, vimeo, checkpoint_s):
    trainer = Trainer(_config(tmp_path / "ft", [f"vimeo90k:{vimeo}"], init=str(checkpoint_s), iterations=1))
    start = torch.load(checkpoint_s, weights_only=True)
    assert all(torch.equal(start[k], v) for k, v in trainer.model.state_dict().items())
    with pytest.raises(CheckpointError, match="holds IFRNet_S weights, not IFRNet"):
        Trainer(_config(tmp_path / "ft2", [f"vimeo90k:{vimeo}"], init=str(checkpoint_s), model="IFRNet"))


def test_plain_distillation_reaches_the_loss(tmp_path, vimeo):
    paper = Trainer(_config(tmp_path / "a", [f"vimeo90k:{vimeo}"], iterations=1))
    plain = Trainer(_config(tmp_path / "b", [f"vimeo90k:{vimeo}"], iterations=1, distillation_robust=False))
    assert paper.step_module.distillation_robust is True
    assert plain.step_module.distillation_robust is False
    from ifrnet.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["train", "--plain-distillation"]).distillation_robust is False
    assert parse(["train"]).distillation_robust is None  # unset: the config file or the paper's default decides
    final = Trainer(_config(tmp_path / "c", [f"vimeo90k:{vimeo}"], iterations=1, distillation_final=True))
    assert final.step_module.distillation_final is True and paper.step_module.distillation_final is False
    assert parse(["train", "--distillation-final"]).distillation_final is True


def test_kaiming_init_keeps_activations_alive_at_depth(tmp_path, vimeo):
    from ifrnet.training.trainer import kaiming_init

    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) - 0.5
    model = create_model("IFRNet_S")
    default = [f.abs().mean().item() for f in model.encoder(x)]
    kaiming_init(model)
    kaiming = [f.abs().mean().item() for f in model.encoder(x)]
    # PyTorch's default initialisation shrinks the activations level by level; Kaiming's does not.
    assert default[3] < 0.5 * default[0]
    assert kaiming[3] > 0.5 * kaiming[0] and kaiming[3] > 5 * default[3]

    trainer = Trainer(_config(tmp_path / "k", [f"vimeo90k:{vimeo}"], iterations=1, weight_init="kaiming"))
    assert all(m.bias.abs().max() == 0 for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    with pytest.raises(InputError, match="--weight-init must be one of default, kaiming; got 'xavier'"):
        Trainer(_config(tmp_path / "x", [f"vimeo90k:{vimeo}"], weight_init="xavier"))
