"""OpenVINO's throughput mode (2 streams of 1 thread, two infer requests in flight) against its
latency mode (1 stream of 2 threads, one request) on a shipped IFRNet_S IR (float or int8) at 1280x720.

    python benchmarks/openvino_streams.py [--frames 12] [--rounds 2] [--graph float|int8]

Random frames (the network's cost does not depend on their content), through
``openvino.AsyncInferQueue`` with OpenVINO's own ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``, the modes
interleaved A B A B. Throughput mode keeps one set of activations per stream, so it needs about
twice the memory, and each frame takes about twice as long from submit to result.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MODES = {
    "latency": {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1},
    "throughput": {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 2},
}


def per_frame_ms(core, path: str, precision: str, mode: str, frames: int, rng) -> tuple[float, int]:
    """Milliseconds per frame over ``frames`` frames in ``mode``, after one warm-up per request."""
    from ifrnet.backends.openvino import import_openvino

    ov = import_openvino()
    model = core.read_model(path)
    shapes = {i.get_any_name(): [1, 3, 720, 1280] if i.get_any_name().startswith("img") else [1, 1, 1, 1]
              for i in model.inputs}  # fmt: skip
    model.reshape(shapes)
    config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": 2, **MODES[mode]}
    compiled = core.compile_model(model, "CPU", config)
    feeds = [{name: rng.random(shape, dtype=np.float32) for name, shape in shapes.items()} for _ in range(4)]
    requests = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    queue = ov.AsyncInferQueue(compiled, requests)
    for i in range(requests):
        queue.start_async(feeds[i % 4])
    queue.wait_all()
    start = time.perf_counter()
    for i in range(frames):
        queue.start_async(feeds[i % 4])
    queue.wait_all()
    return (time.perf_counter() - start) * 1000 / frames, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--graph", choices=("float", "int8"), default="float", help="which shipped IR")
    args = parser.parse_args()
    from ifrnet.backends.openvino import native_precisions, openvino_core
    from ifrnet.bench import cpu_description
    from ifrnet.pretrained import PACKAGE_DIR

    core = openvino_core()
    path = str(PACKAGE_DIR / ("ifrnet_s_starter_int8.xml" if args.graph == "int8" else "ifrnet_s_starter.xml"))
    rng = np.random.default_rng(0)
    print(
        f"CPU: {cpu_description()}; IFRNet_S starter IR ({args.graph}), 1280x720, {args.frames} frames, "
        f"best of {args.rounds}"
    )
    precisions = ["bf16", "f32"] if "bf16" in native_precisions() else ["f32"]
    for precision in precisions:
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for mode in MODES:
                ms, requests = per_frame_ms(core, path, precision, mode, args.frames, rng)
                best[mode] = min(best.get(mode, ms), ms)
                print(f"  {precision:5} {mode:10} ({requests} request(s) in flight): {ms:6.0f} ms per frame")
        print(f"  {precision}: throughput mode {best['latency'] / best['throughput']:.3f}x latency mode's rate")


if __name__ == "__main__":
    main()
