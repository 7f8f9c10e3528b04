"""Synthetic training triplets with exact flow: textured layers in known affine motion (FlyingChairs-style).

Why: a small network learns to *warp* rather than to blend only when it sees large motion with a
flow label it can trust, and learns to honour the time t only when targets lie at arbitrary t.
Real footage has neither an exact label nor free choice of t; a rendered scene has both.

Each item is a background layer (a crop of a photograph, bigger than the frame so that it can
move, possibly zoomed) in smooth global motion, with one or more foreground layers on top (crops of
photographs cut out by a soft-edged ellipse, polygon or blob), each in its own affine motion:
translation up to ``max_shift`` pixels from t=0 to t=1, a few degrees of rotation, some zoom.

Geometry. Layer k has a *sprite* (RGB, plus alpha for foreground layers) and two 3x3 affine maps
``M0``, ``M1`` from sprite pixels to frame pixels at times 0 and 1. At time s the map is
``M(s) = (1 - s) M0 + s M1``, so every sprite point moves on a straight line at constant speed and
the frame at s = t lies genuinely between the other two. Frames are rendered by backward mapping
(each frame pixel p samples the sprite bilinearly at ``M(s)^-1 p``) and composited back to front.

The flow label at pixel p of imgt comes from the top-most layer covering p (alpha >= 0.5) at time
t: the sprite point there is ``c = M(t)^-1 p``, it sits at ``M0 c`` at time 0 and at ``M1 c`` at
time 1, so ``flow_t0(p) = M0 M(t)^-1 p - p`` and ``flow_t1(p) = M1 M(t)^-1 p - p`` exactly. The
label is also defined where that point is hidden at time 0 or 1 (as the pseudo-labels of a flow
network are).

``style="cel"`` draws animation instead of photographs, with the same geometry and labels: a
painted background (a gradient sky, flat-coloured hills and buildings with dark outlines, as
background art is), and foreground layers filled with one flat colour and its shadow tone (cel
shading), ringed by a dark line. ``"mixed"`` draws either, half and half.

Textures default to photographs bundled inside the scikit-image wheel (public domain or CC0 per
scikit-image's documentation; nothing is downloaded); any list of uint8 images or image files
(frames of your own footage, say) can be given instead.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter

from ..errors import InputError
from ..io.images import read_image
from .augment import Augment, Frames, TripletDataset
from .types import FlowEstimator

#: Images of the scikit-image wheel used by default. All are public domain, CC0 or "no known
#: copyright restrictions" according to scikit-image's ``skimage.data`` documentation; the stereo
#: pair (unclear licence) and images that are nearly flat (retina, Hubble deep field, moon) or
#: motion-blurred (clock) are left out: flat areas carry no visible motion to learn from.
SKIMAGE_TEXTURES: tuple[str, ...] = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "ihc.png",
    "camera.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "coins.png",
)
#: Smallest frame side: the renderer normalises pixel coordinates by ``side - 1``.
MIN_SIZE = 16
#: Smallest texture side that still gives a crop worth moving.
MIN_TEXTURE = 8
#: Maximum number of foreground layers (the bookkeeping stores layer numbers as int8).
MAX_LAYERS = 64
NO_TEXTURES = (
    "the synthetic dataset needs textures: install the training extras (pip install 'ifrnet[train]', "
    "which brings scikit-image and its bundled photographs) or pass textures=[images or image files]"
)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Alpha above which a layer owns a pixel's flow label, and the bounds that make a pixel "solid"
# (one layer alone, no blending with what is below or above).
#: what a scene is drawn from: photographs, animation cels, or either by chance
STYLES = ("photo", "cel", "mixed")
#: side of a painted background (cel style); the renderer zooms it as it zooms a photograph
_PAINTED_SIDE = 384
_OWNER_ALPHA = 0.5
_SOLID_ALPHA = 0.99
_CLEAR_ALPHA = 0.01


class SyntheticItem(NamedTuple):
    """One rendered scene with the bookkeeping behind it (what :meth:`SyntheticMotion.render` returns).

    ``frames``: ``[img0, imgt, img1]`` uint8 ``(H, W, 3)``. ``flow``: float32 ``(H, W, 4)``
    ``[u0, v0, u1, v1]`` from imgt to img0 and img1. ``t``: time of imgt. ``owner``: int8
    ``(3, H, W)``, per frame the top-most layer with alpha >= 0.5 at each pixel (0 = background,
    k = k-th foreground layer). ``solid``: bool ``(3, H, W)``, pixels that show the owner alone
    (its alpha >= 0.99, every layer above it <= 0.01). ``shift``: float64 ``(layers, 2)``, how far
    each layer's anchor (frame centre for the background, shape centre otherwise) moves from t=0
    to t=1, x then y; with rotation and zoom disabled it is the layer's whole motion.
    """

    frames: Frames
    flow: np.ndarray
    t: float
    owner: np.ndarray
    solid: np.ndarray
    shift: np.ndarray


class _Layer(NamedTuple):
    sprite: torch.Tensor  # float32 (C, h, w): RGB, plus alpha for foreground layers
    m0: np.ndarray  # 3x3, sprite pixel -> frame pixel at time 0
    m1: np.ndarray  # 3x3, the same at time 1
    shift: np.ndarray  # (2,) motion of the layer's anchor from time 0 to 1


# -- textures ----------------------------------------------------------------------------------------


def _skimage_data_dir() -> Path | None:
    """Where the scikit-image wheel keeps its bundled images, without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.lru_cache(maxsize=1)
def default_textures() -> tuple[np.ndarray, ...]:
    """The bundled scikit-image photographs as uint8 ``(H, W, 3)`` (grey ones repeated to RGB).

    Read once per process from the installed wheel's files; scikit-image's own loaders are not
    used because for images missing from the wheel they would try to download them.
    """
    folder = _skimage_data_dir()
    if folder is None:
        raise InputError(NO_TEXTURES)
    images = []
    for name in SKIMAGE_TEXTURES:
        path = folder / name
        if path.is_file():
            image = read_image(path)
            image.setflags(write=False)  # shared by every item of the process
            images.append(image)
    if not images:
        raise InputError(
            f"{folder}: none of scikit-image's bundled photographs were found; "
            "reinstall scikit-image or pass textures=[images or image files]"
        )
    return tuple(images)


@functools.lru_cache(maxsize=16)
def _read_texture(path: str) -> np.ndarray:
    # A few decoded files are kept because small texture sets are drawn from again and again.
    image = read_image(path)
    image.setflags(write=False)
    return image


def _check_texture_array(image: np.ndarray, where: str) -> np.ndarray:
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InputError(f"{where}: textures must be uint8 (H, W, 3) or (H, W) arrays; got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < MIN_TEXTURE:
        raise InputError(f"{where}: texture of {image.shape[1]}x{image.shape[0]} is too small (min side {MIN_TEXTURE})")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image)


def _normalise_textures(textures: Sequence[np.ndarray | str | os.PathLike]) -> list[np.ndarray | str]:
    """Arrays are checked and kept; paths must exist (folders expand to their image files) and are read on use."""
    if isinstance(textures, (str, os.PathLike, np.ndarray)):
        textures = [textures]
    out: list[np.ndarray | str] = []
    for i, item in enumerate(textures):
        if isinstance(item, np.ndarray):
            out.append(_check_texture_array(item, f"textures[{i}]"))
            continue
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"textures[{i}]: expected a uint8 image array or an image path; got {type(item).__name__}")
        path = Path(os.path.expanduser(item))
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{path}: texture folder holds no image files")
            out.extend(str(p) for p in files)
        elif path.is_file():
            out.append(str(path))
        else:
            raise InputError(f"{path}: no such texture file or folder")
    if not out:
        raise InputError("textures is empty; pass images or image files, or leave it unset for the default photographs")
    return out


#: Standard normal samples drawn once per process (fixed seed): per-frame noise is a random window of
#: them, since drawing ~600k fresh normals per item would cost as much as rendering the scene.
_NOISE_BANK_SIZE = 1 << 22


@functools.lru_cache(maxsize=1)
def _noise_bank() -> torch.Tensor:
    return torch.randn(_NOISE_BANK_SIZE, generator=torch.Generator().manual_seed(20240607))


def _noise(shape: torch.Size, seed: int) -> torch.Tensor:
    """Standard normal noise of ``shape``, a pure function of ``seed`` (possibly a view of the bank: read only)."""
    n = math.prod(shape)
    if n > _NOISE_BANK_SIZE // 2:  # too big to draw windows from the bank without much overlap
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    start = seed % (_NOISE_BANK_SIZE - n + 1)
    return _noise_bank()[start : start + n].view(shape)


# -- small affine helpers (3x3 homogeneous, acting on column vectors (x, y, 1)) --------------------------


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _rotate_scale(angle: float, scale: float) -> np.ndarray:
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:2, :2].T + m[:2, 2]


def _at(m0: np.ndarray, m1: np.ndarray, s: float) -> np.ndarray:
    """The layer's map at time s: the element-wise blend, which moves every point linearly in s."""
    return (1.0 - s) * m0 + s * m1


def _pixel_to_unit(height: int, width: int) -> np.ndarray:
    # grid_sample / affine_grid with align_corners=True put pixel centre 0 at -1 and n-1 at +1.
    return np.array([[2.0 / (width - 1), 0.0, -1.0], [0.0, 2.0 / (height - 1), -1.0], [0.0, 0.0, 1.0]])


# -- the dataset -------------------------------------------------------------------------------------------


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair):
        raise InputError(f"{name} must be an integer or a pair of integers; got {value!r}")
    return int(pair[0]), int(pair[1])


class SyntheticMotion(TripletDataset):
    """Rendered triplets of textured layers in linear affine motion, with exact flow labels and random t.

    ``length`` items per epoch, each ``size`` = (height, width). ``textures``: uint8 images
    and/or image files or folders to cut layers from; default: the photographs bundled with
    scikit-image. ``max_shift``: largest translation of a layer from t=0 to t=1, in pixels (in
    any direction; the magnitude is uniform in [0, max_shift]). ``layers``: (min, max) number of
    foreground layers, or one number. t is uniform in ``t_range`` (never exactly 0 or 1) unless
    ``fixed_t`` is given. ``max_rotation`` (degrees) and ``max_scale`` (relative) bound the
    foreground layers' rotation and zoom from t=0 to t=1; the background moves with half of
    each. ``noise``: largest standard deviation of the per-frame Gaussian noise (in [0, 1] units;
    each item draws one in [0, noise]); ``brightness``: largest gain and offset change from t=0
    to t=1 (linear in time, so imgt stays consistent). Set both to 0 for noise-free frames.
    ``style``: ``"photo"`` (layers cut from the textures), ``"cel"`` (animation: painted
    background, flat-shaded outlined layers; no textures needed) or ``"mixed"`` (each item either).

    An item is a pure function of the generator the base class derives from (seed, epoch, index).
    """

    def __init__(
        self,
        length: int = 10000,
        size: tuple[int, int] | int = (256, 256),
        textures: Sequence[np.ndarray | str | os.PathLike] | None = None,
        max_shift: float = 24.0,
        layers: tuple[int, int] | int = (1, 3),
        t_range: tuple[float, float] = (0.0, 1.0),
        fixed_t: float | None = None,
        augment: Augment | None = None,
        *,
        seed: int | None = None,
        skip_bad: bool = False,
        flow_estimator: FlowEstimator | None = None,
        max_rotation: float = 3.0,
        max_scale: float = 0.1,
        noise: float = 2.0 / 255.0,
        brightness: float = 0.05,
        style: str = "photo",
    ) -> None:
        super().__init__(augment, seed, skip_bad, flow_estimator)
        if style not in STYLES:
            raise InputError(f"style must be one of {', '.join(STYLES)}; got {style!r}")
        self.style = style
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise InputError(f"length must be a positive integer; got {length!r}")
        self.length = int(length)
        self.size = _pair(size, "size")
        if min(self.size) < MIN_SIZE:
            raise InputError(f"size must be at least {MIN_SIZE}x{MIN_SIZE}; got {self.size[1]}x{self.size[0]} (WxH)")
        self.layers = _pair(layers, "layers")
        if not 0 <= self.layers[0] <= self.layers[1] <= MAX_LAYERS:
            raise InputError(f"layers must be (min, max) with 0 <= min <= max <= {MAX_LAYERS}; got {layers!r}")
        lo, hi = (float(v) for v in t_range)
        if not 0.0 <= lo < hi <= 1.0:
            raise InputError(f"t_range must be (low, high) with 0 <= low < high <= 1; got {t_range!r}")
        self.t_range = (lo, hi)
        if fixed_t is not None and not 0.0 < float(fixed_t) < 1.0:
            raise InputError(f"fixed_t must lie strictly between 0 and 1; got {fixed_t!r}")
        self.fixed_t = None if fixed_t is None else float(fixed_t)
        for name, value, top in (
            ("max_shift", max_shift, math.inf),
            ("max_rotation", max_rotation, 45.0),
            ("max_scale", max_scale, 0.5),
            ("noise", noise, 0.25),
            ("brightness", brightness, 0.5),
        ):
            if not 0.0 <= float(value) <= top:
                raise InputError(f"{name} must lie in [0, {top}]; got {value!r}")
        self.max_shift = float(max_shift)
        self.max_rotation = math.radians(float(max_rotation))
        self.max_scale = float(max_scale)
        self.noise = float(noise)
        self.brightness = float(brightness)
        if textures is None:
            if style != "cel" and _skimage_data_dir() is None:  # fail at construction, not in a DataLoader worker
                raise InputError(NO_TEXTURES)
            self.textures: list[np.ndarray | str] | None = None
        else:
            self.textures = _normalise_textures(textures)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        h, w = self.size
        source = "scikit-image photographs" if self.textures is None else f"{len(self.textures)} textures"
        return (
            f"SyntheticMotion(length={self.length}, size={w}x{h} (WxH), {source}, max_shift={self.max_shift}, "
            f"layers={self.layers}, t={self.t_range if self.fixed_t is None else self.fixed_t}"
            + (f", style={self.style})" if self.style != "photo" else ")")
        )

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        item = self.render(rng)
        return item.frames, item.flow, item.t

    # -- scene drawing ---------------------------------------------------------------------------------

    def _texture(self, rng: np.random.Generator) -> np.ndarray:
        pool: Sequence[np.ndarray | str] = default_textures() if self.textures is None else self.textures
        chosen = pool[int(rng.integers(0, len(pool)))]
        if isinstance(chosen, np.ndarray):
            return chosen
        return _check_texture_array(_read_texture(chosen), chosen)

    def _draw_t(self, rng: np.random.Generator) -> float:
        if self.fixed_t is not None:
            return self.fixed_t
        lo, hi = self.t_range
        t = float(rng.uniform(lo, hi))
        while not 0.0 < t < 1.0:  # t_range may touch 0; the end frames themselves are no target
            t = float(rng.uniform(lo, hi))
        return t

    def _motion(self, rng: np.random.Generator, anchor: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
        """A random affine motion from t=0 to t=1 about ``anchor`` (frame pixels), and the anchor's shift.

        ``share`` scales rotation and zoom (the background gets half of what a foreground layer gets).
        """
        direction = rng.uniform(0.0, 2.0 * math.pi)
        shift = rng.uniform(0.0, self.max_shift) * np.array([math.cos(direction), math.sin(direction)])
        angle = rng.uniform(-1.0, 1.0) * self.max_rotation * share
        scale = 1.0 + rng.uniform(-1.0, 1.0) * self.max_scale * share
        motion = _translate(*(anchor + shift)) @ _rotate_scale(angle, scale) @ _translate(*(-anchor))
        return motion, shift

    @staticmethod
    def _sprite(pixels: np.ndarray, rng: np.random.Generator, alpha: np.ndarray | None = None) -> torch.Tensor:
        # A per-layer colour cast multiplies the variety of few textures and tints the grey ones.
        gain = torch.from_numpy(rng.uniform(0.85, 1.15, size=3).astype(np.float32)) / 255.0
        h, w = pixels.shape[:2]
        # Kept channel-last in memory (a (C, h, w) view of (h, w, C)): grid_sample reads it faster.
        sprite = torch.empty(h, w, 3 if alpha is None else 4)
        # np.require copies only when it must: crops of shared read-only textures are often views
        torch.mul(torch.from_numpy(np.require(pixels, requirements=["C", "W"])), gain, out=sprite[:, :, :3])
        if alpha is not None:
            sprite[:, :, 3] = torch.from_numpy(alpha)
        return sprite.permute(2, 0, 1)

    def _background(self, rng: np.random.Generator, t: float, cel: bool = False) -> _Layer:
        h, w = self.size
        tex = _painted(rng) if cel else self._texture(rng)
        th, tw = tex.shape[:2]
        zoom = math.exp(rng.uniform(math.log(0.8), math.log(1.6)))
        tilt = rng.uniform(-0.15, 0.15)
        centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
        motion, shift = self._motion(rng, centre, 0.5)
        # Texture region the frame sees at any time, at unit zoom, relative to the texture point
        # under the frame centre; its corners' paths are sampled in time (they bend slightly
        # under rotation) and a pixel of margin covers the bilinear neighbours.
        place = _translate(*centre) @ _rotate_scale(tilt, 1.0)
        corners = np.array([[-1.0, -1.0], [w, -1.0], [-1.0, h], [w, h]])
        seen = np.concatenate(
            [_apply(np.linalg.inv(_at(place, motion @ place, s)), corners) for s in (0.0, 0.25, t, 0.5, 0.75, 1.0)]
        )
        lo, hi = seen.min(axis=0), seen.max(axis=0)
        room = np.array([tw - 3.0, th - 3.0])
        zoom = max(zoom, float(((hi - lo) / room).max()))  # zoom in until the region fits the texture
        lo, hi = lo / zoom, hi / zoom
        anchor = rng.uniform(1.0 - lo, np.maximum(1.0 - lo, room + 1.0 - hi))
        x0, y0 = (max(0, int(v)) for v in np.floor(anchor + lo) - 1)
        x1, y1 = (int(v) for v in np.minimum(np.ceil(anchor + hi) + 2, [tw, th]))
        m0 = place @ _rotate_scale(0.0, zoom) @ _translate(*(np.array([x0, y0]) - anchor))
        return _Layer(self._sprite(tex[y0:y1, x0:x1], rng), m0, motion @ m0, shift)

    def _foreground(self, rng: np.random.Generator, cel: bool = False) -> _Layer:
        h, w = self.size
        # the draws in the order they always had, so that photographs' scenes stay as they were
        tex = None if cel else self._texture(rng)
        radius = rng.uniform(0.12, 0.35) * min(h, w)
        zoom = math.exp(rng.uniform(math.log(0.7), math.log(1.6)))
        if tex is None:  # a drawn shape: crisp edges, room for its outline, no texture to fit inside
            soft = rng.uniform(0.3, 0.7)
            pad = math.ceil(3.0 * soft) + 2 + _OUTLINE_MAX
            inner = radius / zoom
            half = math.ceil(inner) + pad
            pixels, alpha = _cel(self._shape(rng, half, inner, soft), rng)
        else:
            th, tw = tex.shape[:2]
            soft = rng.uniform(0.4, 1.5)  # edge blur in sprite pixels
            pad = math.ceil(3.0 * soft) + 2
            zoom = max(zoom, 2.0 * radius / max(1.0, min(th, tw) - 2.0 * pad - 4.0))
            inner = radius / zoom
            half = min(math.ceil(inner) + pad, (min(th, tw) - 1) // 2)
            cx = int(rng.integers(half, tw - half))
            cy = int(rng.integers(half, th - half))
            alpha = self._shape(rng, half, min(inner, half - pad), soft)
            pixels = tex[cy - half : cy + half + 1, cx - half : cx + half + 1]
        position = rng.uniform([0.0, 0.0], [w - 1.0, h - 1.0])
        spin = rng.uniform(-math.pi, math.pi)
        m0 = _translate(*position) @ _rotate_scale(spin, zoom) @ _translate(-half, -half)
        motion, shift = self._motion(rng, position, 1.0)
        return _Layer(self._sprite(pixels, rng, alpha), m0, motion @ m0, shift)

    @staticmethod
    def _shape(rng: np.random.Generator, half: int, radius: float, soft: float) -> np.ndarray:
        """A soft-edged ellipse, polygon or blob of about ``radius`` centred in a ``2 half + 1`` square."""
        kind = int(rng.integers(0, 3))
        if kind == 0:  # ellipse
            angles = np.linspace(0.0, 2.0 * math.pi, 64, endpoint=False)
            a, b, tilt = radius, radius * rng.uniform(0.45, 1.0), rng.uniform(0.0, math.pi)
            local = np.stack([a * np.cos(angles), b * np.sin(angles)], axis=1)
            outline = local @ _rotate_scale(tilt, 1.0)[:2, :2].T
        else:
            if kind == 1:  # star-shaped polygon with 3-8 corners
                n = int(rng.integers(3, 9))
                angles = (np.arange(n) + rng.uniform(-0.35, 0.35, n)) * (2.0 * math.pi / n) + rng.uniform(0, math.pi)
                radii = radius * rng.uniform(0.55, 1.0, n)
            else:  # blob: a radius wobbling with a few low harmonics
                angles = np.linspace(0.0, 2.0 * math.pi, 64, endpoint=False)
                wobble = np.ones_like(angles)
                for k in (2, 3, 4, 5):
                    wobble += rng.uniform(0.0, 0.7 / k) * np.cos(k * angles + rng.uniform(0.0, 2 * math.pi))
                wobble = np.maximum(wobble, 0.2)
                radii = radius * wobble / wobble.max()
            outline = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
        side = 2 * half + 1
        mask = Image.new("L", (side, side), 0)
        ImageDraw.Draw(mask).polygon([(float(x), float(y)) for x, y in outline + half], fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(soft))
        return np.asarray(mask, dtype=np.float32) / np.float32(255.0)

    # -- rendering -------------------------------------------------------------------------------------

    def render(self, rng: np.random.Generator) -> SyntheticItem:
        """Draw and render one scene from ``rng``: the triplet, its exact flow label, t and the bookkeeping."""
        t = self._draw_t(rng)
        scene, look = self._scene(rng, t)
        frames, owner, solid, flow = self._compose(scene, (0.0, t, 1.0), look, label=1)
        return SyntheticItem(
            frames=frames,
            flow=flow,
            t=t,
            owner=owner,
            solid=solid,
            shift=np.stack([layer.shift for layer in scene]),
        )

    def render_clip(self, rng: np.random.Generator, frames: int) -> list[np.ndarray]:
        """One scene as a continuous shot of ``frames`` frames at s = k / (frames - 1), uint8
        ``(H, W, 3)``: each layer moves by ``max_shift`` at most over the whole shot, so by
        ``max_shift / (frames - 1)`` a frame (held-out clips for ``ifrnet eval --video``)."""
        if frames < 2:
            raise InputError(f"a clip needs at least 2 frames; got {frames}")
        scene, look = self._scene(rng, 0.5)
        times = tuple(k / (frames - 1) for k in range(frames))
        return self._compose(scene, times, look)[0]

    def _scene(self, rng: np.random.Generator, t: float) -> tuple[list[_Layer], tuple[float, float, float, int]]:
        """The layers of a scene (background first) and its look: gain and offset drift, noise, noise seed."""
        # (photographs draw nothing more: their scenes stay what they were before styles existed)
        cel = self.style == "cel" or (self.style == "mixed" and bool(rng.integers(0, 2)))
        count = int(rng.integers(self.layers[0], self.layers[1] + 1))
        scene = [self._background(rng, t, cel)] + [self._foreground(rng, cel) for _ in range(count)]
        gain_change, offset_change = rng.uniform(-1.0, 1.0, size=2) * self.brightness
        sigma = rng.uniform(0.0, self.noise)
        noise_seed = int(rng.integers(0, 2**63 - 1))
        return scene, (float(gain_change), float(offset_change), float(sigma), noise_seed)

    def _compose(
        self,
        scene: list[_Layer],
        times: Sequence[float],
        look: tuple[float, float, float, int],
        label: int | None = None,
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray | None]:
        """The scene at each of ``times``: uint8 frames, which layer owns each pixel, where a layer
        is alone, and the exact flow label at ``times[label]`` (``None`` without a label)."""
        h, w = self.size
        n = len(times)
        gain_change, offset_change, sigma, noise_seed = look
        xs = torch.arange(w, dtype=torch.float32)
        ys = torch.arange(h, dtype=torch.float32)
        canvas = torch.empty(3, n, h, w)  # (channel, time, H, W): grid_sample's layout for all times at once
        owner = torch.zeros(n, h, w, dtype=torch.int8)
        solid = torch.ones(n, h, w, dtype=torch.bool)
        flow = torch.empty(h, w, 4) if label is not None else None
        for k, layer in enumerate(scene):
            box = (0, h, 0, w) if k == 0 else _footprint(layer, times, h, w)
            if box is None:  # a layer that never enters the frame
                continue
            y0, y1, x0, x1 = box
            rgb, alpha = _sample(layer, times, xs[x0:x1], ys[y0:y1], reflect=k == 0)
            here = _label(layer, times[label], xs[x0:x1], ys[y0:y1]) if flow is not None else None
            if alpha is None:
                canvas.copy_(rgb)
                if flow is not None:
                    flow.copy_(here)
                continue
            canvas[:, :, y0:y1, x0:x1].lerp_(rgb, alpha.unsqueeze(0))
            covers = alpha >= _OWNER_ALPHA
            owner[:, y0:y1, x0:x1].masked_fill_(covers, k)
            region = solid[:, y0:y1, x0:x1]
            region.copy_(torch.where(alpha >= _SOLID_ALPHA, True, region & (alpha <= _CLEAR_ALPHA)))
            if flow is not None:
                patch = flow[y0:y1, x0:x1]
                patch.copy_(torch.where(covers[label].unsqueeze(-1), here, patch))

        frames = canvas.transpose(0, 1)  # (time, channel, H, W)
        # brightness and contrast drift linearly in time, so imgt is their in-between too
        change = torch.tensor(times, dtype=torch.float32).view(n, 1, 1, 1)
        frames.mul_(255.0 * (1.0 + change * gain_change)).add_(255.0 * offset_change * change)
        if sigma > 0:
            frames.add_(_noise(frames.shape, noise_seed), alpha=255.0 * sigma)
        pixels = frames.round_().clamp_(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        return list(pixels.numpy()), owner.numpy(), solid.numpy(), None if flow is None else flow.numpy()


#: widest dark outline of a cel layer, in sprite pixels
_OUTLINE_MAX = 3


def _colour(rng: np.random.Generator, lightness: tuple[float, float] = (0.35, 0.95)) -> np.ndarray:
    """A saturated colour, as animation paints with (RGB in 0-255, float)."""
    hue, sat, val = rng.uniform(0.0, 1.0), rng.uniform(0.35, 0.9), rng.uniform(*lightness)
    rgb = np.clip(np.abs((hue * 6.0 + np.array([0.0, 4.0, 2.0])) % 6.0 - 3.0) - 1.0, 0.0, 1.0)
    return 255.0 * val * (1.0 - sat + sat * rgb)


def _cel(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A flat-shaded cel for the soft shape ``alpha``: a base colour, its shadow tone on the side
    away from a light, and a dark line round the edge; returns (uint8 pixels, the wider alpha)."""
    side = alpha.shape[0]
    inside = Image.fromarray((alpha >= 0.5).astype(np.uint8) * 255)
    width = int(rng.integers(1, _OUTLINE_MAX + 1))
    outer = np.asarray(inside.filter(ImageFilter.MaxFilter(2 * width + 1)), dtype=np.float32) / 255.0
    inner = np.asarray(inside.filter(ImageFilter.MinFilter(3)), dtype=np.float32) / 255.0
    base = _colour(rng)
    shadow = base * rng.uniform(0.55, 0.8)
    line = _colour(rng, (0.05, 0.2))
    # the shadow: the shape shifted towards the light, subtracted (a hard terminator, as cels have)
    lit = np.roll(inner, tuple(int(v) for v in rng.integers(-side // 6, side // 6 + 1, size=2)), axis=(0, 1))
    pixels = np.where((lit >= 0.5)[..., None], base, shadow)
    pixels = np.where((inner >= 0.5)[..., None], pixels, line)
    soft = Image.fromarray((outer * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.5))
    return np.clip(pixels, 0, 255).astype(np.uint8), np.asarray(soft, dtype=np.float32) / np.float32(255.0)


def _painted(rng: np.random.Generator) -> np.ndarray:
    """A painted background: a gradient sky and flat-coloured hills and blocks with dark outlines."""
    side = _PAINTED_SIDE
    top, bottom = _colour(rng, (0.6, 1.0)), _colour(rng, (0.4, 0.9))
    ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None, None]
    image = Image.fromarray(((1.0 - ramp) * top + ramp * bottom).repeat(side, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 11))):
        fill = tuple(int(c) for c in _colour(rng, (0.2, 0.9)))
        outline = tuple(int(c) for c in _colour(rng, (0.05, 0.2)))
        if rng.integers(0, 2):  # a hill: a wide ellipse rising from below
            cx, cy = rng.uniform(0, side), rng.uniform(side * 0.4, side * 1.1)
            rx, ry = rng.uniform(side * 0.15, side * 0.6), rng.uniform(side * 0.08, side * 0.35)
            draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill, outline=outline, width=2)
        else:  # a building or rock: a quadrilateral
            x, y = rng.uniform(0, side), rng.uniform(side * 0.2, side)
            bw, bh = rng.uniform(side * 0.05, side * 0.3), rng.uniform(side * 0.1, side * 0.5)
            corners = [(x, y), (x + bw, y + rng.uniform(-4, 4)), (x + bw, y - bh), (x, y - bh + rng.uniform(-8, 8))]
            draw.polygon([(float(a), float(b)) for a, b in corners], fill=fill, outline=outline, width=2)
    # brush softness: a painted background is not pixel-sharp
    return np.asarray(image.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.uint8)


def _footprint(layer: _Layer, times: Sequence[float], h: int, w: int) -> tuple[int, int, int, int] | None:
    """Rows y0:y1 and columns x0:x1 of the frame a foreground sprite touches at any of ``times`` (None if none).

    Sampling only there matters: foreground layers cover a fraction of the frame, and bilinear
    sampling is most of an item's cost.
    """
    sh, sw = layer.sprite.shape[1:]
    corners = np.array([[-1.0, -1.0], [sw, -1.0], [-1.0, sh], [sw, sh]])
    seen = np.concatenate([_apply(_at(layer.m0, layer.m1, s), corners) for s in times])
    x0, y0 = np.maximum(np.floor(seen.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(seen.max(axis=0)).astype(int) + 2, [w, h])
    if x0 >= x1 or y0 >= y1:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def _sample(
    layer: _Layer, times: Sequence[float], xs: torch.Tensor, ys: torch.Tensor, reflect: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layer seen at frame pixels ``ys x xs`` at each of the T ``times``: RGB ``(3, T, h, w)``, alpha ``(T, h, w)``.

    Backward mapping: each pixel samples the sprite bilinearly where ``M(s)^-1`` sends it.
    Alpha is None for the (opaque) background.
    """
    channels, sh, sw = layer.sprite.shape
    # frame pixel -> sprite coordinates in grid_sample's unit square, per time
    thetas = np.stack([_pixel_to_unit(sh, sw) @ np.linalg.inv(_at(layer.m0, layer.m1, s)) for s in times])
    n = len(times)
    th = torch.from_numpy(thetas[:, :2].astype(np.float32)).view(n, 2, 3, 1, 1)
    grid = torch.empty(n, len(ys), len(xs), 2)
    for i in (0, 1):
        grid[..., i] = xs * th[:, i, 0] + ys.unsqueeze(1) * th[:, i, 1] + th[:, i, 2]
    sampled = F.grid_sample(
        layer.sprite.unsqueeze(0),
        grid.view(1, n * len(ys), len(xs), 2),
        mode="bilinear",
        # outside a foreground sprite alpha is 0; the background region was chosen inside its
        # texture, so reflection only guards against rounding at the edge
        padding_mode="reflection" if reflect else "zeros",
        align_corners=True,
    )[0].view(channels, n, len(ys), len(xs))
    return (sampled, None) if channels == 3 else (sampled[:3], sampled[3])


def _label(layer: _Layer, t: float, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """The layer's exact flow ``(h, w, 4)`` at imgt pixels ``ys x xs``.

    Where the layer point under each pixel at time t sits at time 0 and at time 1, minus the pixel.
    """
    back = np.linalg.inv(_at(layer.m0, layer.m1, t))
    coef = np.concatenate([(layer.m0 @ back)[:2], (layer.m1 @ back)[:2]]) - np.tile(np.eye(3)[:2], (2, 1))
    c = torch.from_numpy(coef.astype(np.float32))
    return xs.view(1, -1, 1) * c[:, 0] + ys.view(-1, 1, 1) * c[:, 1] + c[:, 2]
