"""The settings of a training run: :class:`TrainConfig`, its options, and config files.

Each field carries its help, choices and range (an :class:`ifrnet.options.Option`, as the engine
options do), which ``ifrnet train`` turns into its flags and :meth:`TrainConfig.validate` into
its checks, so a default or a range is written once. Nothing here imports torch: ``ifrnet``
builds every subcommand's parser on each start, the train flags included.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..engine import PRECISIONS
from ..errors import InputError
from ..options import Option, options_of

#: Weights of the geometry and distillation terms relative to reconstruction (the paper's 0.01,
#: ``docs/IFRNET.md`` section 4); the losses' defaults too.
GEOMETRY_WEIGHT = 0.01
DISTILLATION_WEIGHT = 0.01
#: initial weights without ``init``: PyTorch's default (the authors'), or Kaiming's for the PReLUs
WEIGHT_INITS = ("default", "kaiming")


def _setting(default: Any = MISSING, *, factory: Any = MISSING, **option: Any) -> Any:
    return field(default=default, default_factory=factory, metadata={"option": Option(**option)})


@dataclass
class TrainConfig:
    """Every setting of a run. Defaults are the paper's Vimeo90K recipe (per process)."""

    model: str = _setting("IFRNet", metavar="NAME", help="variant to train: IFRNet, IFRNet_L or IFRNet_S")
    # _setting makes a dataclasses.field: a default_factory, not a shared list
    data: list[str] = _setting(  # noqa: RUF009
        factory=list,
        metavar="KIND:PATH",
        help="training set, repeatable: vimeo90k:, vimeo90k-septuplet:, gopro:, adobe240:, folder:",
    )
    val: list[str] = _setting(  # noqa: RUF009
        factory=list, metavar="KIND:PATH", help="validation set (its test split), repeatable"
    )
    out: str = _setting("runs/ifrnet", metavar="DIR", help="run folder for checkpoints, config and TensorBoard logs")
    init: str | None = _setting(None, metavar="WEIGHTS", help="start from these weights (e.g. an official checkpoint)")
    epochs: int = _setting(300, low=1, metavar="N", help="epochs")
    iterations: int | None = _setting(
        None,
        low=1,
        metavar="N",
        help="stop after N iterations and size the LR schedule to them (default: epochs x iterations per epoch)",
    )
    # The LR schedule keeps its length when the time limit stops a run: --resume continues it.
    time_limit: float | None = _setting(
        None,
        low=0.0,
        open_low=True,
        metavar="MINUTES",
        help="stop after this much training, checkpointed and validated; --resume continues (job time limits)",
    )
    batch_size: int = _setting(6, low=1, metavar="N", help="samples per process")
    crop: int = _setting(224, low=1, metavar="PIXELS", help="side of the square training crops")
    # lr and lr_min are checked together in validate (0 < lr-min <= lr)
    lr: float = _setting(1e-4, help="peak learning rate")
    lr_min: float = _setting(1e-5, help="final learning rate of the cosine schedule")
    weight_decay: float = _setting(0.0, low=0.0, metavar="WD", help="AdamW weight decay")
    precision: str = _setting(
        "fp32",
        choices=PRECISIONS,
        help="arithmetic of the forward pass and losses (autocast; weights and optimizer stay fp32): fp32, "
        "bf16 (GPU, or a CPU with native bf16), fp16 (GPU, with loss scaling)",
    )
    workers: int = _setting(2, low=0, metavar="N", help="data-loading processes")
    seed: int = _setting(0, help="seed of the initial weights, the data order and the augmentation")
    val_every: int = _setting(0, low=0, metavar="N", help="validate every N iterations, 0 for once per epoch")
    val_limit: int | None = _setting(None, low=1, metavar="N", help="validate on at most N samples (default: all)")
    save_every: int = _setting(500, low=1, metavar="N", help="checkpoint every N iterations")
    log_every: int = _setting(50, low=1, metavar="N", help="log losses to TensorBoard every N iterations")
    # the paper's weights, the losses' defaults too
    geometry_weight: float = _setting(GEOMETRY_WEIGHT, low=0.0, metavar="W", help="weight of the geometry loss")
    distillation_weight: float = _setting(
        DISTILLATION_WEIGHT, low=0.0, metavar="W", help="weight of the distillation loss"
    )
    # False weights every pixel alike: a warm-up that teaches a from-scratch network to estimate
    # motion (see losses.distillation)
    distillation_robust: bool = _setting(
        True,
        help="the paper's robust per-pixel weighting of the distillation loss; --no-distillation-robust "
        "(or --plain-distillation) weights every pixel alike, a from-scratch warm-up",
    )
    # not the paper's: exact labels (generated data) can supervise the flows that warp the frames
    distillation_final: bool = _setting(
        False,
        help="distil the final full-resolution flows too, not only levels 4-2 (for exact flow labels)",
    )
    # PyTorch's default leaves activations ~0.003 at depth on mean-subtracted frames, and a network
    # starting there learns motion slowly; Kaiming's keeps their variance through the PReLUs
    weight_init: str = _setting(
        "default",
        choices=WEIGHT_INITS,
        help="initial weights without --init: PyTorch's default (the authors') or kaiming (variance-preserving)",
    )
    skip_bad: bool = _setting(False, help="skip corrupt samples with a warning")
    device: str | None = _setting(
        None, help="cpu, cuda, cuda:N, mps (default: best available; under torchrun each rank its own GPU)"
    )

    def validate(self) -> None:
        """Check every field against its option (``InputError`` naming the flag); canonical model name."""
        if not self.data:
            raise InputError("no training data: pass --data KIND:PATH (e.g. vimeo90k:/data/vimeo_triplet)")
        from ..models import canonical_name

        self.model = canonical_name(self.model)
        for f in fields(self):
            option: Option = f.metadata["option"]
            try:
                option.check(f.name, getattr(self, f.name))
            except TypeError:  # a config file's string where a number belongs
                raise InputError(
                    f"--{f.name.replace('_', '-')} must be a number; got {getattr(self, f.name)!r}"
                ) from None
        if not 0 < self.lr_min <= self.lr:
            raise InputError(f"need 0 < lr-min <= lr; got lr {self.lr}, lr-min {self.lr_min}")


def options() -> list[tuple[str, Any, Option]]:
    """``(name, default, Option)`` of every :class:`TrainConfig` field, in declaration order
    (a list field's default is ``[]``)."""
    return options_of(TrainConfig)


def upgrade_settings(settings: dict, source: str) -> dict:
    """``settings`` with old names in today's: ``amp`` (none, bf16, fp16) is ``precision`` (fp32, ...).

    Config files and the ``config.json`` of runs written before the rename keep working."""
    if "amp" in settings:
        if "precision" in settings:
            raise InputError(f"{source}: amp is the old name of precision; give only precision")
        amp = settings.pop("amp")
        settings["precision"] = "fp32" if amp == "none" else amp
    return settings


def load_config_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """Settings from a TOML, YAML or JSON file (keys as in :class:`TrainConfig`, ``-`` or ``_``).

    ``base = "other.toml"`` (relative to this file) starts from that file's settings and overrides
    the keys given here; a list such as ``data`` is replaced whole, not extended, so a file reads
    as the complete value of each key it sets."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such config file")
    try:
        text = p.read_text()
        if p.suffix == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            raw = json.loads(text)
    except Exception as exc:  # each parser has its own error type (and reading, OSError or a bad encoding)
        # YAML's messages span lines (the position, a caret under it): one line, as every error here
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip() and line.strip() != "^")
        raise InputError(f"{p}: cannot parse config ({exc.__class__.__name__}: {reason})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{p}: expected a table of settings; got {type(raw).__name__}")
    settings = upgrade_settings({k.replace("-", "_"): v for k, v in raw.items()}, str(p))
    base = settings.pop("base", None)
    unknown = sorted(set(settings) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise InputError(f"{p}: unknown setting(s) {', '.join(unknown)}")
    if base is None:
        return settings
    if not isinstance(base, str):
        raise InputError(f"{p}: base must be the path of another config file; got {base!r}")
    seen = (*_seen, p.resolve())
    base_path = p.parent / base
    if base_path.resolve() in seen:
        raise InputError(f"{p}: base {base} leads back to {base_path.name} (a cycle of config files)")
    return {**load_config_file(base_path, seen), **settings}
