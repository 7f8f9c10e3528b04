"""Shared fixtures: small seeded models, generated frames, the example frames in the repo."""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ifrnet import IFRNet, Interpolator, create_model

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def smooth_frames(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """``n`` random but spatially smooth RGB frames, float (n, 3, H, W) in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(height // 8, 2), max(width // 8, 2), generator=gen)
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)


# Set before any test module is imported, so that the environments the subprocess tests copy
# (tests/test_faults.py) have them too:
# - exported graphs and compiled models go to a folder of this session, not the user's ~/.cache;
# - --backend auto is pinned to torch: on a CPU with native bf16 it would pick OpenVINO bf16 and
#   export every test's weights (a minute each), and the results the tests compare would differ
#   from machine to machine. The tests of auto itself (tests/test_engine.py) unpin it.
_CACHE = tempfile.mkdtemp(prefix="ifrnet-test-cache-")
os.environ["IFRNET_CACHE_DIR"] = _CACHE
os.environ["IFRNET_BACKEND"] = "torch"


@pytest.fixture(autouse=True, scope="session")
def _private_cache():
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """Whatever a test sets (``EngineSpec(threads=N).build()`` sets the process's thread count, as
    the command line wants), the next test starts with the thread count the session began with:
    results summed over another number of threads differ in their last bits."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _mapped(address: int) -> bool:
    """Whether ``address`` lies in a mapping of this process (``/proc/self/maps``)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            low, high = (int(part, 16) for part in line.split(None, 1)[0].split("-"))
            if low <= address < high:
                return True
    return False


@pytest.fixture(autouse=True)
def _signal_stack_stays_mapped():
    """After every test, the main thread's alternate signal stack must still be memory of this
    process: OpenVINO's CPU plugin once left it at pages it had unmapped (issue 34), and the suite
    then died at the next signal with a Python handler, tests later, far from the cause. A test
    that leaves it so fails here; the stack is switched off so that the tests after it still run."""
    from ifrnet.backends.openvino import _SS_DISABLE, _sigaltstack, _SignalStack, current_signal_stack

    yield
    stack = current_signal_stack()
    if stack is None or not os.path.exists("/proc/self/maps") or stack[1] & _SS_DISABLE or _mapped(stack[0]):
        return
    _sigaltstack()(ctypes.byref(_SignalStack(None, _SS_DISABLE, 0)), None)
    pytest.fail(f"the alternate signal stack points at unmapped memory ({stack[0]:#x}, {stack[2]} bytes)")


@pytest.fixture(autouse=True)
def _close_graph_engines(monkeypatch):
    """Every onnxruntime or OpenVINO engine a test opens is closed when it ends, so that no native
    session or compiled graph (with its thread pool) outlives the test that made it."""
    from ifrnet.backends.graph import GraphEngine

    opened: weakref.WeakSet = weakref.WeakSet()
    real_init = GraphEngine.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        opened.add(self)

    monkeypatch.setattr(GraphEngine, "__init__", init)
    yield
    for engine in list(opened):
        engine.close()


def seeded_model(name: str = "IFRNet_S", seed: int = 0) -> IFRNet:
    torch.manual_seed(seed)
    return create_model(name).eval()


def zero_time_weights(model: IFRNet) -> IFRNet:
    """Make the model ignore t, as the released Vimeo90K checkpoints do."""
    with torch.no_grad():
        model.decoder4.convblock[0][0].weight[:, -1].zero_()
    return model


@pytest.fixture
def model_s() -> IFRNet:
    return seeded_model("IFRNet_S")


@pytest.fixture
def checkpoint_s(tmp_path: Path, model_s: IFRNet) -> Path:
    path = tmp_path / "IFRNet_S_test.pth"
    torch.save(model_s.state_dict(), path)
    return path


@pytest.fixture
def example_pair() -> tuple[Path, Path]:
    return EXAMPLES / "vtest_200.png", EXAMPLES / "vtest_202.png"


def uint8_frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    frame = smooth_frames(1, height, width, seed)[0]
    return (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.fixture(scope="session")
def exported_s(tmp_path_factory) -> tuple[Path, Path, str]:
    """``seeded_model("IFRNet_S")``: its checkpoint, and its ONNX graph written by ``ifrnet export``
    (which also verifies it), with what the command printed. Exporting takes a minute here, so once."""
    import contextlib
    import io

    from ifrnet.cli import main

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    folder = tmp_path_factory.mktemp("onnx")
    checkpoint = folder / "IFRNet_S_seeded.pth"
    torch.save(seeded_model("IFRNet_S").state_dict(), checkpoint)
    graph = folder / "ifrnet_s.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--checkpoint", str(checkpoint), "-o", str(graph)]) == 0
    return checkpoint, graph, printed.getvalue()


class CountingInterpolator(Interpolator):
    """The real interpolator, recording every call's times."""

    def __init__(self, model) -> None:
        super().__init__(model)
        self.calls: list[list[float]] = []

    def interpolate(self, frame0, frame1, times=(0.5,)):
        self.calls.append(list(times))
        return super().interpolate(frame0, frame1, times)


@pytest.fixture(scope="module")
def interp():
    """A seeded IFRNet_S that counts its calls (shared by the tests of one module)."""
    return CountingInterpolator(seeded_model("IFRNet_S"))
