"""The training loop: the paper's recipe by default, resumable to the iteration, DDP-ready.

One process per device; ``torchrun`` starts several (on one node or many) and each trains on
its share of every batch (``DistributedSampler``). Rank 0 alone logs, validates and writes
checkpoints. Everything a resumed run needs (weights, optimizer, scaler, iteration, data
position, RNG states, config) sits in one file written atomically, so ``kill -9`` at any
moment loses at most ``save_every`` iterations and never the last good checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from ..backends.torch import Interpolator
from ..devices import native_bf16
from ..errors import CheckpointError, IFRNetError, InputError
from ..io.files import atomic_output, file_sha256
from ..metrics import psnr
from ..models import IFRNet, create_model
from ..weights import load_state_into, read_state_dict
from .config import TrainConfig, load_config_file  # noqa: F401 (load_config_file: here too for callers)
from .distributed import Context, barrier, mean_over_processes, setup, teardown
from .losses import LossForward

log = logging.getLogger("ifrnet.train")

STATE_FILE = "training_state.pt"
PREVIOUS_STATE_FILE = "training_state.prev.pt"
#: 2: plain types only (``torch.load(weights_only=True)``), a SHA-256 digest beside the file
STATE_FORMAT = 2
#: what a state must hold, and of which type, before any of it is used
_STATE_KEYS = {
    "format": int,
    "model_name": str,
    "model": dict,
    "optimizer": dict,
    "scaler": dict,
    "iteration": int,
    "best_psnr": float,
    "world": int,
    "rng": dict,
}
LATEST_WEIGHTS = "latest.pth"
BEST_WEIGHTS = "best.pth"
CONFIG_FILE = "config.json"


def kaiming_init(model: nn.Module, slope: float = 0.25) -> None:
    """Re-initialise every convolution for unit activation variance through PReLUs of ``slope``
    (PyTorch's PReLU starts at 0.25); biases at zero. Transposed convolutions count their fan
    from the output side, which is what each output pixel sums over."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            mode = "fan_out" if isinstance(module, nn.ConvTranspose2d) else "fan_in"
            nn.init.kaiming_normal_(module.weight, a=slope, mode=mode, nonlinearity="leaky_relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def cosine_lr(iteration: int, total: int, lr: float, lr_min: float) -> float:
    """``lr_min + (lr - lr_min) * 0.5 * (1 + cos(pi * i / total))``, i from 0."""
    return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * iteration / total))


class _SkipSampler(Sampler[int]):
    """The wrapped sampler's indices from position ``skip`` on: resuming inside an epoch."""

    def __init__(self, sampler: Sampler[int], skip: int) -> None:
        self.sampler, self.skip = sampler, skip

    def __iter__(self) -> Iterator[int]:
        it = iter(self.sampler)
        for _ in range(self.skip):
            next(it, None)
        yield from it

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)  # type: ignore[arg-type]


class _Seeded(Dataset):
    """Seeds every RNG from (seed, epoch, index) before each item: augmentation is a pure function
    of those, whichever worker process draws it, so a resumed run sees exactly the same batches."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        seed = (self.seed * 1_000_003 + self.epoch * 7_919 + index) % (2**32)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        return self.dataset[index]


def _build_datasets(specs: Sequence[str], split: str, config: TrainConfig, train: bool) -> Dataset:
    from ..data import Augment, build_dataset

    parts = []
    for spec in specs:
        augment = Augment(crop=(config.crop, config.crop)) if train else None
        parts.append(build_dataset(spec, split=split, augment=augment, skip_bad=config.skip_bad))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


class Trainer:
    """Builds everything from a :class:`TrainConfig` and runs it: ``Trainer(config).fit(resume)``."""

    def __init__(self, config: TrainConfig) -> None:
        config.validate()
        self.config = config
        torch.manual_seed(config.seed)  # the initial weights, too, follow from the seed
        self.ctx: Context = setup(config.device)
        self.out = Path(config.out)
        self.model: IFRNet = create_model(config.model).to(self.ctx.device)
        if config.weight_init == "kaiming":
            kaiming_init(self.model)
        if config.init:
            load_state_into(self.model, read_state_dict(config.init), source=config.init)
        self.step_module = LossForward(
            self.model,
            config.geometry_weight,
            config.distillation_weight,
            config.distillation_robust,
            config.distillation_final,
        )
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.step_module = torch.nn.parallel.DistributedDataParallel(self.step_module, device_ids=ids)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if config.precision == "bf16" and self.ctx.device.type == "cpu" and not native_bf16(self.ctx.device):
            log.warning("this CPU has no native bf16 (avx512_bf16/AMX): --precision bf16 will be far slower than fp32")
        use_scaler = config.precision == "fp16" and self.ctx.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.train_set = _Seeded(_build_datasets(config.data, "train", config, train=True), config.seed)
        self.val_set = _build_datasets(config.val, "test", config, train=False) if config.val else None
        self.sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.ctx.world,
            rank=self.ctx.rank,
            shuffle=True,
            seed=config.seed,
            drop_last=True,
        )
        self.per_epoch = len(self.sampler) // config.batch_size
        if self.per_epoch == 0:
            raise InputError(
                f"{len(self.train_set)} training samples give no full batch of {config.batch_size} "
                f"on each of {self.ctx.world} process(es); lower --batch-size"
            )
        self.total = config.iterations or config.epochs * self.per_epoch
        # one sample here, in this process: a data problem (crop larger than the frames, unreadable
        # files) is reported as itself, not wrapped in a DataLoader worker's traceback
        self.train_set[0]
        self.iteration = 0
        self.best_psnr = -math.inf
        self.writer = None
        #: (iteration, losses) of every step this process ran: cheap, and what tests and scripts read
        self.history: list[tuple[int, dict[str, float]]] = []

    # -- checkpoints --

    def _state(self) -> dict:
        """Everything ``--resume`` needs, in types ``torch.load(weights_only=True)`` reads: tensors,
        numbers, strings, lists and dicts (no pickled objects, so a state file cannot run code)."""
        version, mt, gauss = random.getstate()
        _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
        return {
            "format": STATE_FORMAT,
            "model_name": self.config.model,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "iteration": self.iteration,
            "best_psnr": float(self.best_psnr),
            "world": self.ctx.world,
            "config": json.loads(json.dumps(dataclasses.asdict(self.config), default=str)),
            "rng": {
                "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
                "numpy": {
                    "keys": torch.from_numpy(np_keys.astype(np.int64)),
                    "pos": int(np_pos),
                    "has_gauss": int(np_has_gauss),
                    "gauss": float(np_gauss),
                },
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    def save(self) -> None:
        """Write the training state and the latest weights atomically.

        The state goes with a SHA-256 digest beside it (``training_state.pt.sha256``); the state it
        replaces is kept as ``training_state.prev.pt`` (with its digest), so a damaged latest file
        never loses the run.
        """
        if not self.ctx.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        state, previous = self.out / STATE_FILE, self.out / PREVIOUS_STATE_FILE
        with atomic_output(state) as tmp:
            torch.save(self._state(), tmp)
            digest = file_sha256(tmp)
            if state.is_file() and _digest_path(state).is_file():
                # the state being replaced was verified when written: it becomes the fallback
                os.replace(state, previous)
                os.replace(_digest_path(state), _digest_path(previous))
        with atomic_output(_digest_path(state)) as tmp:
            tmp.write_text(digest + "\n")
        with atomic_output(self.out / LATEST_WEIGHTS) as tmp:
            torch.save(self.model.state_dict(), tmp)
        log.info("checkpoint: iteration %d -> %s", self.iteration, state)

    def resume(self) -> None:
        """Continue from the training state in ``out``: the latest, or the previous one if the latest
        fails its checks. Raises :class:`CheckpointError` (one line) when neither is usable; no file
        is changed either way."""
        latest, previous = self.out / STATE_FILE, self.out / PREVIOUS_STATE_FILE
        if not latest.is_file() and not previous.is_file():
            raise CheckpointError(f"{latest}: nothing to resume (no training state in {self.out})")
        problems = []
        for path in (latest, previous):
            if not path.is_file():
                continue
            try:
                state = read_training_state(path)
                self._check_compatible(path, state)
            except CheckpointError as exc:
                problems.append(str(exc))
                continue
            if problems:
                log.warning("%s; resuming from the previous state %s", problems[0], path)
            self._restore(path, state)
            return
        hint = "" if previous.is_file() else f"; no {PREVIOUS_STATE_FILE} to fall back on"
        raise CheckpointError(
            "; ".join(problems) + hint + f" (drop --resume to start over, or --init {self.out / LATEST_WEIGHTS})"
        )

    def _check_compatible(self, path: Path, state: dict) -> None:
        if state.get("model_name") != self.config.model:
            raise CheckpointError(
                f"{path}: incompatible: it trains {state.get('model_name')}, this run {self.config.model}; "
                "use the same --model or another --out"
            )

    def _restore(self, path: Path, state: dict) -> None:
        load_state_into(self.model, state["model"], source=str(path))
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scaler.load_state_dict(state["scaler"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path}: incompatible optimizer state ({exc})") from None
        self.iteration = int(state["iteration"])
        self.best_psnr = float(state["best_psnr"])
        rng = state["rng"]
        py = rng["python"]
        random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
        np_rng = rng["numpy"]
        keys = np_rng["keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, np_rng["pos"], np_rng["has_gauss"], np_rng["gauss"]))
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if state["world"] != self.ctx.world:
            log.warning(
                "resuming a %d-process run with %d processes: the data order from here on differs",
                state["world"],
                self.ctx.world,
            )
        log.info("resumed from %s at iteration %d of %d", path, self.iteration, self.total)

    # -- validation --

    @torch.no_grad()
    def validate(self) -> float | None:
        if self.val_set is None or not self.ctx.is_main:
            return None
        # The engine every other caller uses: it pads to the network's stride and crops back. It
        # takes the bare network (DDP wraps step_module, not self.model), which it leaves where it
        # is (contiguous, as trained: channels_last=False) and puts in eval mode; train() follows.
        # Made anew each time: whether the weights honour t (else dyadic t by bisection) can change.
        engine = Interpolator(self.model, channels_last=False)
        scores = []
        limit = self.config.val_limit or len(self.val_set)
        try:
            for index in range(min(limit, len(self.val_set))):
                sample = self.val_set[index]
                img0, imgt, img1 = (x.unsqueeze(0).to(self.ctx.device) for x in (sample.img0, sample.imgt, sample.img1))
                (pred,) = engine.interpolate(img0, img1, [float(sample.embt)])
                scores.append(psnr(pred, imgt).item())
                if index == 0 and self.writer is not None:
                    grid = torch.cat([(img0 + img1) / 2, pred, imgt], dim=3)[0]
                    self.writer.add_image("val/overlay_pred_truth", grid.clamp(0, 1), self.iteration)
        finally:
            self.model.train()
        return float(np.mean(scores))

    # -- the loop --

    def _loader(self, epoch: int, skip_batches: int) -> DataLoader:
        self.sampler.set_epoch(epoch)
        self.train_set.epoch = epoch
        from ..data import collate

        return DataLoader(
            self.train_set,
            batch_size=self.config.batch_size,
            sampler=_SkipSampler(self.sampler, skip_batches * self.config.batch_size),
            drop_last=True,
            collate_fn=collate,
            num_workers=self.config.workers,
            pin_memory=self.ctx.device.type == "cuda",
            persistent_workers=False,
        )

    def _autocast(self):
        if self.config.precision == "fp32":
            return torch.autocast(self.ctx.device.type, enabled=False)
        dtype = torch.bfloat16 if self.config.precision == "bf16" else torch.float16
        return torch.autocast(self.ctx.device.type, dtype=dtype)

    def fit(self, resume: bool = False, progress: bool = True) -> dict[str, float]:
        """Train until ``total`` iterations; returns the last losses and the best validation PSNR."""
        if resume:
            self.resume()
        bar = self._open_outputs(progress)
        val_every = self.config.val_every or self.per_epoch
        last: dict[str, float] = {}
        started, start_iteration = time.perf_counter(), self.iteration
        self.model.train()
        try:
            out_of_time = False
            while self.iteration < self.total and not out_of_time:
                epoch, position = divmod(self.iteration, self.per_epoch)
                for batch in self._loader(epoch, position):
                    last = self._step(batch)
                    self.iteration += 1
                    self.history.append((self.iteration, last))
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{last['total']:.4f}", lr=f"{last['lr']:.2e}")
                    self._after_step(last, val_every)
                    out_of_time = self._out_of_time(started)
                    if self.iteration >= self.total or out_of_time:
                        break
            if self.iteration < self.total:  # stopped by the time limit: validate what --resume continues from
                log.info("time limit reached at iteration %d of %d; continue with --resume", self.iteration, self.total)
                if self.iteration % val_every:
                    self._validate_and_keep_best()
            if self.iteration % self.config.save_every:
                self.save()
        except IFRNetError as exc:
            # a DataLoader worker's error arrives with its whole traceback in the message: keep its last line
            text = str(exc).strip()
            if "DataLoader worker" in text:
                raise type(exc)(text.splitlines()[-1].split(": ", 1)[-1]) from None
            raise
        finally:
            if bar is not None:
                bar.close()
            if self.writer is not None:
                self.writer.close()
            barrier(self.ctx)
            teardown(self.ctx)
        seconds = time.perf_counter() - started
        done = self.iteration - start_iteration
        samples = done * self.config.batch_size * self.ctx.world
        return {
            **last,
            "best_psnr": self.best_psnr,
            "seconds": seconds,
            "samples_per_second": samples / max(seconds, 1e-9),
            "iteration": self.iteration,
            "iterations": self.total,
        }

    def _open_outputs(self, progress: bool):
        """On the main process: the run's config file, its TensorBoard writer and (with
        ``progress``) its progress bar, which is returned (None elsewhere)."""
        if not self.ctx.is_main:
            return None
        self.out.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.out / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.out / "tb"))
        if not progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.total, initial=self.iteration, unit="it", desc="training", dynamic_ncols=True)

    def _step(self, batch) -> dict[str, float]:
        lr = cosine_lr(self.iteration, self.total, self.config.lr, self.config.lr_min)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        dev = self.ctx.device
        img0, imgt, img1 = (x.to(dev, non_blocking=True) for x in (batch.img0, batch.imgt, batch.img1))
        embt = batch.embt.to(dev)
        flow = batch.flow.to(dev) if batch.flow is not None else None
        with self._autocast():
            out = self.step_module(img0, img1, embt, imgt, flow)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out["total"].float()).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values = {
            k: mean_over_processes(out[k].detach().float(), self.ctx).item() for k in ("total", "rec", "geo", "dis")
        }
        values["lr"] = lr
        return values

    def _after_step(self, values: dict[str, float], val_every: int) -> None:
        it = self.iteration
        if self.writer is not None and (it % self.config.log_every == 0 or it == 1):
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, it)
        if it % val_every == 0 or it == self.total:
            self._validate_and_keep_best()
        if it % self.config.save_every == 0:
            self.save()

    def _validate_and_keep_best(self) -> None:
        score = self.validate()
        if score is not None:
            log.info("iteration %d: validation PSNR %.3f dB", self.iteration, score)
            if self.writer is not None:
                self.writer.add_scalar("val/psnr", score, self.iteration)
            if score > self.best_psnr:
                self.best_psnr = score
                with atomic_output(self.out / BEST_WEIGHTS) as tmp:
                    torch.save(self.model.state_dict(), tmp)
        barrier(self.ctx)

    def _out_of_time(self, started: float) -> bool:
        """Whether the time limit has passed, decided alike on every process (any one over stops all)."""
        if self.config.time_limit is None:
            return False
        over = time.perf_counter() - started >= 60.0 * self.config.time_limit
        flag = torch.tensor(float(over), device=self.ctx.device)
        return bool(mean_over_processes(flag, self.ctx).item() > 0)


def _digest_path(state: Path) -> Path:
    return state.with_name(state.name + ".sha256")


def read_training_state(path: Path) -> dict:
    """A training state, verified before use: its digest, then a load that cannot run code, then
    its keys and types. Raises :class:`CheckpointError` with one line naming the file and the fault."""
    digest_file = _digest_path(path)
    try:
        expected = digest_file.read_text().split()[0] if digest_file.is_file() else None
        size = path.stat().st_size
    except (OSError, IndexError) as exc:
        raise CheckpointError(f"{path}: unreadable training state ({exc})") from None
    if expected is None:
        raise CheckpointError(
            f"{path}: no digest beside it ({digest_file.name}): not a state this version wrote, or its "
            "writing was cut short; not loaded"
        )
    if size == 0 or file_sha256(path) != expected:
        raise CheckpointError(f"{path}: damaged training state (its SHA-256 does not match {digest_file.name})")
    try:
        with warnings.catch_warnings():  # torch's own warnings would make the error more than one line
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler's own errors are many; each means the same here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(f"{path}: unreadable training state ({reason[:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a training state (a {type(state).__name__})")
    for key, kind in _STATE_KEYS.items():
        value = state.get(key)
        if kind is float and isinstance(value, int):
            continue
        if not isinstance(value, kind):
            raise CheckpointError(f"{path}: not a training state: {key!r} is missing or not a {kind.__name__}")
    if state["format"] != STATE_FORMAT:
        raise CheckpointError(f"{path}: training state format {state['format']}, this version reads {STATE_FORMAT}")
    return state
