"""Finding, safely reading, identifying and converting checkpoints.

Nothing here downloads anything. Which file a model name and ``--checkpoint`` (a path or a
weights tag) stand for is the weights table's business (:mod:`ifrnet.pretrained`); here files
are read without executing pickled code, matched to a variant by their tensor shapes, and
loaded strictly.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from . import pretrained
from .devices import resolve_device
from .errors import CheckpointError, InputError
from .io.files import atomic_output, check_output_path
from .models import IFRNet, canonical_name, create_model, list_models
from .models.registry import model_config


def find_checkpoint(model: str = "IFRNet", dataset: str | None = None) -> Path | None:
    """The first of the authors' checkpoints of ``model`` in the search folders, else ``None``.

    ``dataset`` (``"Vimeo90K"`` or ``"GoPro"``, any case; or any tag of the weights table)
    restricts the search to that entry, ``VARIANT.TAG``.
    """
    return pretrained.find(canonical_name(model), dataset)


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
    """The registered variant whose shapes the state dict has, judged by its first and last layers."""
    first = state.get("encoder.pyramid1.0.0.weight")
    coarse = state.get("decoder4.convblock.0.0.weight")
    if first is None or coarse is None:
        return None
    for name in list_models():
        cfg = model_config(name)
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


def resolve_checkpoint(name: str | None, checkpoint: str | os.PathLike | None) -> tuple[Path, str | None]:
    """The checkpoint file to read and the variant asked for (``None``: read it off the file).

    ``checkpoint`` is a path, a tag of the weights table (``IFRNet_S.starter``, ``IFRNet.vimeo90k``;
    or a bare ``vimeo90k``, ``gopro``, ``starter``, any case: that entry of ``name``, or of the
    first variant whose file is found), or ``None``: the
    first of the authors' checkpoints found (of ``name``, or of IFRNet, IFRNet_L, IFRNet_S in
    turn), else the shipped default weights when they fit ``name``. See :func:`ifrnet.pretrained.resolve`.
    """
    return pretrained.resolve(name, checkpoint)


def load_model(
    name: str | None = None,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
) -> IFRNet:
    """An IFRNet variant with weights, in eval mode, on ``device`` (default: the best available).

    ``checkpoint`` is a file path or a weights tag (``"IFRNet.vimeo90k"``, ``"IFRNet_S.starter"``;
    the bare ``"Vimeo90K"``/``"GoPro"``/``"starter"`` pick that entry of ``name``, or of the first
    variant that has it found; ``ifrnet info`` lists them). ``None`` takes the first official
    checkpoint found (IFRNet, then IFRNet_L, then IFRNet_S when no ``name`` is given) and otherwise
    the shipped weights (:data:`ifrnet.pretrained.DEFAULT`), so ``load_model()`` works on a fresh
    machine. With a file, ``name`` may be omitted: the variant is then read off the tensor shapes.
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
