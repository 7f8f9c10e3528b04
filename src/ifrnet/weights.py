"""Finding, safely reading, identifying and converting checkpoints.

Nothing here downloads anything. Checkpoints are looked up by their official names in
``$IFRNET_CHECKPOINTS`` and in ``./checkpoints`` (the authors' layout), read without
executing pickled code, matched to a variant by their tensor shapes, and loaded strictly.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from . import pretrained
from .devices import resolve_device
from .errors import CheckpointError, InputError
from .io.files import atomic_output, check_output_path
from .models import IFRNet, IFRNetConfig, canonical_name, create_model, list_models
from .models.ifrnet import IFRNET, IFRNET_L, IFRNET_S

#: Environment variable naming a user-wide checkpoint folder (several joined by os.pathsep).
CHECKPOINTS_ENV = "IFRNET_CHECKPOINTS"

_CONFIGS: dict[str, IFRNetConfig] = {c.name: c for c in (IFRNET, IFRNET_L, IFRNET_S)}


@dataclass(frozen=True)
class CheckpointInfo:
    """Metadata of an official checkpoint, kept apart from the architecture."""

    model: str
    dataset: str
    folder: str
    uses_time: bool
    paper_psnr: float | None
    source: str = "Kong et al., IFRNet (CVPR 2022), released with github.com/ltkong218/IFRNet"

    @property
    def filename(self) -> str:
        return f"{self.model}_{self.dataset}.pth"


#: The authors' released checkpoints, in the order they are preferred when several are found:
#: the Vimeo90K ones are the best 2x models; the GoPro ones honour any t.
OFFICIAL_CHECKPOINTS: tuple[CheckpointInfo, ...] = (
    CheckpointInfo("IFRNet", "Vimeo90K", "IFRNet", uses_time=False, paper_psnr=35.80),
    CheckpointInfo("IFRNet_L", "Vimeo90K", "IFRNet_large", uses_time=False, paper_psnr=36.20),
    CheckpointInfo("IFRNet_S", "Vimeo90K", "IFRNet_small", uses_time=False, paper_psnr=35.59),
    CheckpointInfo("IFRNet", "GoPro", "IFRNet", uses_time=True, paper_psnr=None),
    CheckpointInfo("IFRNet_L", "GoPro", "IFRNet_large", uses_time=True, paper_psnr=None),
    CheckpointInfo("IFRNet_S", "GoPro", "IFRNet_small", uses_time=True, paper_psnr=None),
)

_SUFFIXES = (".pth", ".safetensors")


def search_dirs() -> list[Path]:
    """Folders searched for checkpoints: ``$IFRNET_CHECKPOINTS`` entries, then ``./checkpoints``."""
    dirs = [Path(p).expanduser() for p in os.environ.get(CHECKPOINTS_ENV, "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "checkpoints")
    return dirs


def _candidates(model: str, dataset: str | None) -> list[Path]:
    infos = [
        i
        for i in OFFICIAL_CHECKPOINTS
        if i.model == model and (dataset is None or i.dataset.lower() == dataset.lower())
    ]
    paths = []
    for root in search_dirs():
        for info in infos:
            stem = info.filename[: -len(".pth")]
            for sub in (root / info.folder, root):
                paths.extend(sub / (stem + suffix) for suffix in _SUFFIXES)
    return paths


def find_checkpoint(model: str = "IFRNet", dataset: str | None = None) -> Path | None:
    """The first official checkpoint of ``model`` present in :func:`search_dirs`, else ``None``.

    ``dataset`` (``"Vimeo90K"`` or ``"GoPro"``) restricts the search to that training set.
    """
    for path in _candidates(canonical_name(model), dataset):
        if path.is_file():
            return path
    return None


def missing_checkpoint_message(model: str) -> str:
    """A one-line explanation of where the official checkpoints go."""
    name = canonical_name(model)
    folder = next(i.folder for i in OFFICIAL_CHECKPOINTS if i.model == name)
    dirs = ", ".join(str(d) for d in search_dirs())
    return (
        f"no weights found for {name}: put the authors' {name}_Vimeo90K.pth (or {name}_GoPro.pth) in "
        f"checkpoints/{folder}/ or in a folder named by ${CHECKPOINTS_ENV}, or pass --checkpoint FILE "
        f"(searched: {dirs}); nothing is downloaded"
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a ``.pth`` or ``.safetensors`` checkpoint as a dict of CPU tensors, without running code.

    ``.pth`` files are read with ``torch.load(weights_only=True)``: a pickle that would build
    arbitrary Python objects (or run code) is refused. Wrappers that training scripts add
    (``{"state_dict": ...}``, ``{"model": ...}``, DDP's ``module.`` prefix) are removed.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint file")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a directory, expected a .pth or .safetensors file")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(p), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    else:
        import re
        import warnings

        try:
            with warnings.catch_warnings(record=True) as caught:  # torch warns on stderr otherwise
                warnings.simplefilter("always")
                state = torch.load(p, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # The weights-only unpickler names the global it refused; other unpickling errors
            # (bad opcodes, truncation) mean the file is damaged rather than dangerous.
            refused = [ln.strip().rstrip(".") for ln in str(exc).splitlines() if "global" in ln.lower()]
            protocol = next(
                (m.group(1) for w in caught if (m := re.search(r"pickle protocol (\d+)", str(w.message)))), None
            )
            if protocol is not None and "Unsupported operand" in str(exc):
                raise CheckpointError(
                    f"{p}: written with pickle protocol {protocol}, which the safe loader (torch.load with "
                    "weights_only=True) cannot read; save it again with torch.save's default protocol, "
                    "or as .safetensors"
                ) from None
            if not refused:
                raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({_last_line(exc)})") from None
            raise CheckpointError(
                f"{p}: refused to load: the file holds pickled Python objects other than tensors, "
                f"which could run code ({refused[0]}); only plain state dicts are accepted"
            ) from None
        except Exception as exc:  # a damaged file can fail anywhere inside the unpickler
            raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({_last_line(exc)})") from None
    return _unwrap(state, p)


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{exc.__class__.__name__}: {lines[-1]}" if lines else exc.__class__.__name__


def _unwrap(state: object, path: Path) -> dict[str, Tensor]:
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state:
        raise CheckpointError(
            f"{path}: expected a state dict (a mapping of names to tensors); got {type(state).__name__}"
        )
    tensors = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        tensors[key.removeprefix("module.")] = value
    return tensors


def identify_variant(state: dict[str, Tensor]) -> str | None:
    """The variant whose shapes the state dict has, judged by its first and last layers."""
    first = state.get("encoder.pyramid1.0.0.weight")
    coarse = state.get("decoder4.convblock.0.0.weight")
    if first is None or coarse is None:
        return None
    for name, cfg in _CONFIGS.items():
        c4 = cfg.widths[3]
        k = cfg.first_kernel
        if tuple(first.shape) == (cfg.widths[0], 3, k, k) and tuple(coarse.shape) == (2 * c4, 2 * c4 + 1, 3, 3):
            return name
    return None


def _require_variant(state: dict[str, Tensor], path: str | os.PathLike) -> str:
    variant = identify_variant(state)
    if variant is None:
        raise CheckpointError(
            f"{path}: not an IFRNet checkpoint (no variant among {', '.join(list_models())} has its shapes)"
        )
    return variant


def load_state_into(model: IFRNet, state: dict[str, Tensor], source: str = "checkpoint") -> IFRNet:
    """Load strictly, turning shape and key mismatches into one clear sentence."""
    expected = model.config.name
    found = identify_variant(state)
    if found is not None and found != expected:
        raise CheckpointError(f"{source} holds {found} weights, not {expected}: load it as model {found!r}")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]})")
        raise CheckpointError(f"{source} is not an {expected} checkpoint: " + ", ".join(parts))
    model.load_state_dict(state, strict=True)
    return model


#: Variants tried, in order, when neither a model name nor a checkpoint file is given.
DEFAULT_SEARCH_ORDER = ("IFRNet", "IFRNet_L", "IFRNet_S")


def _shipped_path(weights: pretrained.ShippedWeights, name: str | None) -> tuple[Path, str]:
    if name and canonical_name(name) != weights.model:
        raise CheckpointError(
            f"the {weights.tag!r} weights that ship with ifrnet are for {weights.model}, not {canonical_name(name)}; "
            f"use --model {weights.model} or give a {canonical_name(name)} checkpoint"
        )
    if not weights.available():
        raise CheckpointError(f"{weights.path}: the shipped {weights.tag!r} weights are missing from this installation")
    return weights.path, weights.model


def resolve_checkpoint(name: str | None, checkpoint: str | os.PathLike | None) -> tuple[Path, str | None]:
    """The checkpoint file to read and the variant asked for (``None``: read it off the file).

    ``checkpoint`` is a path, ``"Vimeo90K"``/``"GoPro"`` (that official checkpoint from the search
    folders), the tag of weights that ship with the package (``"starter"``), or ``None``: the first
    official checkpoint found (of ``name``, or of any variant), else the shipped default weights
    when they fit ``name``.
    """
    tag = str(checkpoint).lower() if checkpoint is not None else None
    if tag is not None and (weights := pretrained.shipped(tag)) is not None:
        return _shipped_path(weights, name)
    if checkpoint is not None and tag not in {"vimeo90k", "gopro"}:
        return Path(checkpoint), canonical_name(name) if name else None
    names = [canonical_name(name)] if name else list(DEFAULT_SEARCH_ORDER)
    for model_name in names:
        path = find_checkpoint(model_name, tag)
        if path is not None:
            return path, model_name
    default = pretrained.DEFAULT
    if tag is None and default.available() and (name is None or canonical_name(name) == default.model):
        return default.path, default.model
    message = missing_checkpoint_message(names[0])
    if tag is None and default.available():
        message += f"; the weights that ship with ifrnet are {default.model} (leave out --model to use them)"
    raise CheckpointError(message)


def load_model(
    name: str | None = None,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
) -> IFRNet:
    """An IFRNet variant with weights, in eval mode, on ``device`` (default: the best available).

    ``checkpoint`` is a file path, ``"Vimeo90K"``/``"GoPro"`` to pick that official checkpoint
    from the search folders, or ``"starter"`` for the weights that ship with the package;
    ``None`` takes the first official checkpoint found (IFRNet, then IFRNet_L, then IFRNet_S when
    no ``name`` is given) and otherwise the shipped weights (:data:`ifrnet.pretrained.DEFAULT`),
    so ``load_model()`` works on a fresh machine. With a file, ``name`` may be omitted: the
    variant is then read off the tensor shapes.
    """
    dev = resolve_device(device)
    path, model_name = resolve_checkpoint(name, checkpoint)
    state = read_state_dict(path)
    if model_name is None:
        model_name = _require_variant(state, path)
    model = load_state_into(create_model(model_name), state, source=str(path))
    return model.to(dev).eval()


def save_safetensors(
    state: dict[str, Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None, half: bool = False
) -> Path:
    """Write a state dict as ``.safetensors`` atomically; ``half`` stores float tensors as fp16."""
    from safetensors.torch import save_file

    tensors = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in state.items()}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata or {})
    return Path(path)


def convert_checkpoint(
    src: str | os.PathLike | Sequence[str | os.PathLike],
    dst: str | os.PathLike,
    half: bool = False,
    overwrite: bool = False,
) -> tuple[Path, str]:
    """Convert an IFRNet checkpoint (``.pth`` or ``.safetensors``) to ``.safetensors``.

    Several sources are averaged tensor by tensor (in fp32, before any fp16 rounding): the
    weight average of checkpoints from one training lineage, which often scores above each of
    them. They must be the same variant. The state dict is validated against its variant
    first, so a converted file always loads. Returns the written path and the variant name.
    """
    sources = [src] if isinstance(src, (str, os.PathLike)) else list(src)
    if not sources:
        raise InputError("convert: no source checkpoint given")
    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise InputError(f"{dst}: output must end in .safetensors")
    check_output_path(dst, sources, overwrite=overwrite)
    states = [read_state_dict(s) for s in sources]
    variant = _require_variant(states[0], sources[0])
    model = create_model(variant)  # one instance validates every source: loading is strict
    for s, state in zip(sources, states, strict=True):
        load_state_into(model, state, source=str(s))
    state = _average(states, sources) if len(states) > 1 else states[0]
    origin = ",".join(Path(s).name for s in sources)
    key = "averaged_from" if len(states) > 1 else "converted_from"
    save_safetensors(state, dst, {"model": variant, key: origin}, half=half)
    return dst, variant


def _average(states: list[dict[str, Tensor]], sources: list[str | os.PathLike]) -> dict[str, Tensor]:
    averaged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            # fp32 whatever the inputs: ``half`` rounds once, after averaging
            averaged[key] = sum(state[key].float() for state in states) / len(states)
            continue
        for s, state in zip(sources[1:], states[1:], strict=True):
            if not torch.equal(state[key], first):
                raise CheckpointError(f"{s}: integer tensor {key!r} differs from {sources[0]}'s; cannot average")
        averaged[key] = first
    return averaged
