"""The weights table: every set of weights ifrnet knows, where it is found and what is known about it.

Kept apart from the architecture, as timm keeps its pretrained configs: one :class:`Weights` per
entry, addressed ``VARIANT.TAG`` (``IFRNet.vimeo90k``, ``IFRNet_S.starter``). The authors'
released checkpoints are looked for in the search folders (:func:`search_dirs`); the weights
that ship with the package are files inside this folder. Nothing is ever downloaded.

:func:`resolve` turns ``--checkpoint`` (a path or a tag) and ``--model`` into the file to read.
With neither, the authors' checkpoints are preferred (:data:`PREFERRED_VARIANTS`), and otherwise
:data:`DEFAULT`, the shipped starter weights, so ``ifrnet.load_model()`` works on a fresh
machine. ``MODEL_CARD.md`` at the repository root documents the starter weights.

Nothing here imports torch: the onnxruntime path and ``ifrnet info`` read this table too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import CheckpointError, InputError
from ..names import normalise, official_variant

#: Environment variable naming a user-wide checkpoint folder (several joined by os.pathsep).
CHECKPOINTS_ENV = "IFRNET_CHECKPOINTS"

#: Where the shipped weights files are (a module global, so that tests can point it elsewhere).
PACKAGE_DIR = Path(__file__).parent


class Score(NamedTuple):
    """A PSNR the weights reach, and on what."""

    on: str
    psnr: float

    def __str__(self) -> str:
        return f"{self.psnr:.2f} dB {self.on}"


@dataclass(frozen=True)
class Weights:
    """One entry of the table: a set of weights for one variant, and what is known about it."""

    variant: str
    #: the entry's name within its variant; ``--checkpoint`` takes ``VARIANT.TAG``, or the bare tag
    tag: str
    #: the file names it may have, the preferred first
    files: tuple[str, ...]
    #: the authors' sub-folder inside a search folder (the files may also lie flat there);
    #: ``None`` for weights that ship inside this package
    folder: str | None
    #: whether the network was trained to honour t (arbitrary-time interpolation)
    uses_time: bool
    #: short form, for tables
    licence: str
    licence_notes: str
    trained_on: str
    source: str
    scores: tuple[Score, ...] = ()
    #: ready graphs of shipped weights, beside them in this package, so the graph engines need no
    #: export and no torch: an OpenVINO IR (``.xml`` with its ``.bin``, fp16-compressed weights)...
    graph: str | None = None
    #: ...and the same quantised by ``ifrnet export --precision int8`` (calibration: MODEL_CARD.md)
    int8_graph: str | None = None

    @property
    def name(self) -> str:
        return f"{self.variant}.{self.tag}"

    @property
    def shipped(self) -> bool:
        return self.folder is None

    def candidates(self, roots: list[Path] | None = None) -> list[Path]:
        """Every path the weights may have, in the order they are looked for."""
        if self.folder is None:
            return [PACKAGE_DIR / f for f in self.files]
        paths = []
        for root in search_dirs() if roots is None else roots:
            for sub in (root / self.folder, root):
                paths.extend(sub / f for f in self.files)
        return paths

    def find(self, roots: list[Path] | None = None) -> Path | None:
        """The first of :meth:`candidates` (in ``roots``, default the search folders) that is a file, else ``None``."""
        return next((p for p in self.candidates(roots) if p.is_file()), None)


_AUTHORS = "Kong et al., IFRNet (CVPR 2022), released with github.com/ltkong218/IFRNet"
_AUTHORS_LICENCE = (
    "MIT: the licence of the authors' repository, which releases them and names no other for the "
    "weights; the training sets have terms of their own"
)
_VIMEO90K = "Vimeo90K triplets (Xue et al., IJCV 2019), training split: 2x, t = 1/2 only"
_GOPRO = "GoPro (Nah et al., CVPR 2017) 240 fps training clips, 9-frame windows: 8x, t = k/8"


def _authors(variant: str, dataset: str, folder: str, psnr: float | None) -> Weights:
    stem = f"{variant}_{dataset}"
    return Weights(
        variant=variant,
        tag=dataset.lower(),
        # converted copies (ifrnet convert) are found under the same name
        files=(f"{stem}.pth", f"{stem}.safetensors"),
        folder=folder,
        # the released Vimeo90K weights on the time input are zero: they return one frame for every t
        uses_time=dataset == "GoPro",
        licence="MIT",
        licence_notes=_AUTHORS_LICENCE,
        trained_on=_VIMEO90K if dataset == "Vimeo90K" else _GOPRO,
        source=_AUTHORS,
        scores=(Score("Vimeo90K test (paper)", psnr),) if psnr is not None else (),
    )


#: Every entry, by name. The authors' checkpoints keep the file names and sub-folders of their
#: release (checkpoints/IFRNet/IFRNet_Vimeo90K.pth, checkpoints/IFRNet_small/IFRNet_S_GoPro.pth).
WEIGHTS: dict[str, Weights] = {
    w.name: w
    for w in (
        _authors("IFRNet", "Vimeo90K", "IFRNet", psnr=35.80),
        _authors("IFRNet_L", "Vimeo90K", "IFRNet_large", psnr=36.20),
        _authors("IFRNet_S", "Vimeo90K", "IFRNet_small", psnr=35.59),
        _authors("IFRNet", "GoPro", "IFRNet", psnr=None),
        _authors("IFRNet_L", "GoPro", "IFRNet_large", psnr=None),
        _authors("IFRNet_S", "GoPro", "IFRNet_small", psnr=None),
        Weights(
            variant="IFRNet_S",
            tag="starter",
            files=("ifrnet_s_starter.safetensors",),
            folder=None,
            graph="ifrnet_s_starter.xml",
            int8_graph="ifrnet_s_starter_int8.xml",
            uses_time=True,
            licence="MIT",
            licence_notes=(
                "weights: MIT, as the code; trained on OpenCV sample videos (Apache-2.0 AND BSD-3-Clause), "
                "ViSP image sequences (GPL-2) and scikit-image's photographs (see MODEL_CARD.md)"
            ),
            trained_on=(
                "real footage from the project's shared data (OpenCV sample videos, ViSP sequences) and "
                "synthetic layered motion over scikit-image photographs, at random t; see MODEL_CARD.md"
            ),
            source="trained by this project with 'ifrnet train' (recipe in MODEL_CARD.md)",
            # held-out footage only (MODEL_CARD.md, Scores); FFmpeg's minterpolate scores
            # 31.45 / 28.52 / 38.30 / 35.39 dB on the same frames
            scores=(
                Score("held-out opencv_vtest 2x", 31.84),
                Score("held-out opencv_vtest 4x", 29.65),
                Score("held-out visp_castel 2x", 38.85),
                Score("held-out visp_castel 4x", 35.81),
            ),
        ),
    )
}

#: With no ``--checkpoint``: the variants whose authors' checkpoints are looked for, in order.
PREFERRED_VARIANTS: tuple[str, ...] = ("IFRNet", "IFRNet_L", "IFRNet_S")

#: What ``load_model()`` uses when it is given nothing and finds none of the authors' checkpoints.
DEFAULT: Weights = WEIGHTS["IFRNet_S.starter"]

#: Suffixes that make ``--checkpoint`` a file name rather than a tag, even when no such file exists.
_FILE_SUFFIXES = frozenset({".pth", ".pt", ".safetensors", ".onnx", ".ckpt", ".bin", ".tar", ".pkl"})


def shipped_graph(weights_file: str | os.PathLike, int8: bool = False) -> Path | None:
    """The ready OpenVINO IR shipped for ``weights_file`` (its int8 one with ``int8``) when that is
    a file this package ships and the IR is present, else ``None``."""
    path = Path(weights_file).resolve()
    for entry in WEIGHTS.values():
        if entry.shipped and path in {p.resolve() for p in entry.candidates()}:
            name = entry.int8_graph if int8 else entry.graph
            ready = PACKAGE_DIR / name if name else None
            if ready is not None and ready.is_file() and ready.with_suffix(".bin").is_file():
                return ready
    return None


def search_dirs() -> list[Path]:
    """Folders searched for the authors' checkpoints: ``$IFRNET_CHECKPOINTS`` entries, then ``./checkpoints``."""
    dirs = [Path(p).expanduser() for p in os.environ.get(CHECKPOINTS_ENV, "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "checkpoints")
    return dirs


def find(variant: str, tag: str | None = None) -> Path | None:
    """The file of ``variant``'s entry ``tag``, or with no tag the first of its authors'
    checkpoints found; ``None`` when there is none.

    With no tag the search folders are taken one by one, and in each the entries in table order
    (Vimeo90K before GoPro), so an entry in ``$IFRNET_CHECKPOINTS`` wins over one in ``./checkpoints``.
    """
    if tag is not None:
        entry = WEIGHTS.get(f"{variant}.{tag.lower()}")
        return entry.find() if entry is not None else None
    entries = _authors_entries(variant)
    for root in search_dirs():
        for entry in entries:
            path = entry.find([root])
            if path is not None:
                return path
    return None


def _authors_entries(variant: str) -> list[Weights]:
    """``variant``'s entries looked for in the search folders (not shipped), in table order."""
    return [w for w in WEIGHTS.values() if w.variant == variant and not w.shipped]


def looks_like_tag(text: str) -> bool:
    """Whether ``--checkpoint TEXT`` that names no existing file is taken as a tag: no folder
    separator and no weights-file suffix (``IFRNet_S.starter`` is a tag, ``gone.pth`` a file)."""
    if any(sep and sep in text for sep in ("/", os.sep, os.altsep)):
        return False
    return Path(text).suffix.lower() not in _FILE_SUFFIXES


def lookup(text: str, variant: str | None = None) -> list[Weights]:
    """The entries a tag names, narrowed to ``variant`` (an official name) when given.

    ``text`` is ``VARIANT.TAG`` (``IFRNet_S.starter``, variant aliases accepted) or a bare tag
    (``vimeo90k``, ``gopro``, ``starter``): with ``variant`` that variant's entry, without it
    every variant's in table order. Case never matters. Raises :class:`CheckpointError` for a
    tag not in the table (naming the known ones) and for weights of another variant.
    """
    wanted = normalise(text)
    if "." in wanted:
        head, tag = wanted.rsplit(".", 1)
        try:
            owner = official_variant(head)
        except InputError:
            raise CheckpointError(_unknown_tag(text)) from None
        entry = WEIGHTS.get(f"{owner}.{tag}")
        if entry is None:
            raise CheckpointError(_unknown_tag(text))
        if variant is not None and owner != variant:
            raise CheckpointError(
                f"{entry.name} holds {owner} weights, not {variant}: use --model {owner}, or leave out --model"
            )
        return [entry]
    entries = [w for w in WEIGHTS.values() if w.tag == wanted]
    if not entries:
        raise CheckpointError(_unknown_tag(text))
    if variant is None:
        return entries
    own = [w for w in entries if w.variant == variant]
    if not own:
        owners = ", ".join(dict.fromkeys(w.variant for w in entries))
        raise CheckpointError(
            f"the {wanted!r} weights are for {owners}, not {variant}: use --model {entries[0].variant} "
            f"or --checkpoint {entries[0].name}, or give an {variant} checkpoint"
        )
    return own


def _unknown_tag(text: str) -> str:
    bare = ", ".join(dict.fromkeys(w.tag for w in WEIGHTS.values()))
    hint = ""
    try:
        named = official_variant(text)
        hint = f" ({named} is a model: --model {named}, or --checkpoint {named}.TAG)"
    except InputError:
        pass
    return (
        f"{text!r} is neither a checkpoint file nor a weights tag{hint}; known tags: {', '.join(WEIGHTS)} "
        f"(also the bare {bare}; see 'ifrnet info')"
    )


def resolve(model: str | None, checkpoint: str | os.PathLike | None) -> tuple[Path, str | None]:
    """The file to read and its variant (``None``: read it off the file).

    ``checkpoint`` is a path, a tag (:func:`lookup`; the old spellings ``Vimeo90K``, ``GoPro`` and
    ``starter`` are bare tags), or ``None``: the first of the authors' checkpoints found, of
    ``model`` or of each of :data:`PREFERRED_VARIANTS` in turn, else :data:`DEFAULT` when it fits
    ``model``. A string that names an existing file is that file, even if it is also a tag; one
    with a folder separator or a weights-file suffix is a path whether or not it exists.
    """
    variant = official_variant(model) if model else None
    if checkpoint is None:
        return _default(variant)
    text = os.fspath(checkpoint)
    if not isinstance(checkpoint, str) or Path(text).is_file() or not looks_like_tag(text):
        return Path(text), variant
    entries = lookup(text, variant)
    for entry in entries:
        path = entry.find()
        if path is not None:
            return path, entry.variant
    if entries[0].shipped:
        raise CheckpointError(
            f"{entries[0].candidates()[0]}: the shipped {entries[0].name} weights are missing from this installation"
        )
    raise CheckpointError(_not_found(", ".join(w.name for w in entries), entries))


def _default(variant: str | None) -> tuple[Path, str]:
    variants = [variant] if variant else list(PREFERRED_VARIANTS)
    for name in variants:
        path = find(name)
        if path is not None:
            return path, name
    fallback = DEFAULT.find()
    if fallback is not None and variant in (None, DEFAULT.variant):
        return fallback, DEFAULT.variant
    entries = _authors_entries(variants[0])
    message = _not_found(variants[0], entries)
    if fallback is not None:
        message += (
            f"; the weights that ship with ifrnet are {DEFAULT.variant} ({DEFAULT.name}: leave out --model to use them)"
        )
    raise CheckpointError(message)


def _not_found(what: str, entries: list[Weights]) -> str:
    """Where the authors' files of ``entries`` go, in one line."""
    dirs = ", ".join(str(d) for d in search_dirs())
    if not entries:
        return f"no weights found for {what}: pass --checkpoint FILE; nothing is downloaded"
    by_folder: dict[str, list[str]] = {}
    for w in entries:
        by_folder.setdefault(str(w.folder), []).append(w.files[0])
    places = ", ".join(
        files[0] + "".join(f" (or {f})" for f in files[1:]) + f" in checkpoints/{folder}/"
        for folder, files in by_folder.items()
    )
    return (
        f"no weights found for {what}: put the authors' {places} or in a folder named by ${CHECKPOINTS_ENV}, "
        f"or pass --checkpoint FILE (searched: {dirs}); nothing is downloaded"
    )
