"""``ifrnet eval``: build the protocol and the methods, score them, print the table, draw the report."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..engine import Engine, FlowEngine
from ..errors import InputError
from ..io.files import check_writable
from ..video.scenes import DEFAULT_SCENE_THRESHOLD
from .methods import IFRNetMethod, Method
from .protocols import BenchmarkProtocol, EvalSample, make_protocol
from .report import Panel, error_map, flow_to_color, markdown_table_to_html, to_uint8, write_report
from .results import evaluate, format_table

#: Methods compared on real footage when none are named.
VIDEO_METHODS = ("ifrnet", "repeat", "blend", "dis", "minterpolate")


@dataclass
class EvalRun:
    """What an evaluation produced."""

    table: str
    out: Path
    report: Path | None = None
    notices: list[str] = field(default_factory=list)


def build_methods(names: Sequence[str], engine: Callable[[], Engine], notices: list[str]) -> dict[str, Method]:
    """Methods by name; ``minterpolate`` is skipped with a notice where FFmpeg's filter is missing."""
    from .baselines import Minterpolate, make_baseline

    methods: dict[str, Method] = {}
    for name in names:
        if name == "ifrnet":
            methods[name] = IFRNetMethod(engine())
        elif name == "minterpolate" and not Minterpolate.available():
            notices.append("FFmpeg's minterpolate filter is not available here; that baseline is skipped")
        else:
            methods[name] = make_baseline(name)
    return methods


def run_evaluation(
    *,
    dataset: str | None = None,
    root: str | None = None,
    split: str | None = None,
    video: str | None = None,
    factor: int = 2,
    start: int = 0,
    limit: int | None = None,
    scene_threshold: float | None = DEFAULT_SCENE_THRESHOLD,
    methods: str | None = None,
    out: str | None = None,
    extra_metrics: Sequence[str] = (),
    save_predictions: bool = False,
    report: str | None = None,
    engine_factory: Callable[[float], Engine],
    progress: bool = True,
    overwrite: bool = False,
) -> EvalRun:
    """Score ``methods`` on a benchmark (``dataset`` + ``root``) or on held-out frames of ``video``.

    ``engine_factory(scale)`` builds IFRNet's engine, given the network scale the benchmark
    prescribes (the protocol's ``scale_factor``: 0.8 on SNU-FILM, else 1); a caller with a scale
    of its own (``ifrnet eval --scale``) builds it at that scale instead. It is called only when
    ``ifrnet`` is among the methods, after the data have been checked.
    """
    notices: list[str] = []
    if report is not None:
        check_writable(report)  # before any scoring: a report that cannot be written wastes the run
    if video is not None:
        protocol, out_dir, default_methods = _footage(video, factor, start, limit, scene_threshold, out, notices)
    else:
        if root is None:
            raise InputError(f"--dataset {dataset} needs --root, the benchmark's folder")
        protocol = make_protocol(dataset, root, split)
        out_dir = Path(out or Path("eval") / (dataset + (f"_{split}" if split else "")))
        default_methods = ("ifrnet",)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else list(default_methods)
    built = build_methods(names, lambda: engine_factory(protocol.scale_factor), notices)
    summary = evaluate(
        protocol,
        built,
        out_dir,
        extra_metrics=extra_metrics,
        progress=progress,
        save_predictions=save_predictions,
        overwrite=overwrite,
    )
    columns = [*protocol.reported_metrics, *extra_metrics]
    table = f"{protocol.label}\n" + format_table(summary, columns)
    report_path = None
    if report is not None:
        report_path = draw_report(Path(report), protocol, built, out_dir, table)
    return EvalRun(table=table, out=out_dir, report=report_path, notices=notices)


def _footage(
    video: str, factor: int, start: int, limit: int | None, threshold: float | None, out: str | None, notices: list
) -> tuple[BenchmarkProtocol, Path, Sequence[str]]:
    """The held-out-frames protocol of ``video``, its results folder and its default methods."""
    from .footage import FootageProtocol

    out_dir = Path(out or Path("eval") / f"{Path(video).stem}_{factor}x")
    protocol = FootageProtocol(
        video, factor=factor, start=start, limit=limit, scene_threshold=threshold, cache_dir=out_dir / ".frames"
    )
    if protocol.skipped_cuts:
        notices.append(f"{protocol.skipped_cuts} window(s) with a scene cut skipped")
    return protocol, out_dir, VIDEO_METHODS


def _chosen_samples(csv_path: Path, method: str) -> list[tuple[str, str]]:
    """(label, sample name) of the worst and the median sample by ``method``'s PSNR."""
    per_sample: dict[str, list[float]] = {}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["method"] == method:
                per_sample.setdefault(row["sample"], []).append(float(row["psnr"]))
    if not per_sample:
        return []
    ranked = sorted(per_sample, key=lambda s: statistics.fmean(per_sample[s]))
    chosen = [("worst", ranked[0]), ("median", ranked[len(ranked) // 2])]
    return chosen if ranked[0] != ranked[len(ranked) // 2] else chosen[:1]


def _panel(label: str, sample: EvalSample, methods: dict[str, Method], lead: str) -> Panel:
    t, target = min(sample.targets, key=lambda item: abs(item[0] - 0.5))
    crop = sample.unpad
    truth = to_uint8(target)
    panel = Panel(f"{label}: {sample.name}, t = {t:g}")
    panel.tiles.append(("inputs overlaid", to_uint8(crop((sample.img0 + sample.img1) / 2))))
    panel.tiles.append(("ground truth", truth))
    predictions = {}
    with torch.inference_mode():
        for name, method in methods.items():
            predictions[name] = to_uint8(crop(method(sample.img0, sample.img1, [t])[0].cpu()))
            panel.tiles.append((name, predictions[name]))
    panel.tiles.append((f"{lead} error (x4)", error_map(predictions[lead], truth)))
    ifrnet = methods.get("ifrnet")
    if isinstance(ifrnet, IFRNetMethod) and isinstance(ifrnet.engine, FlowEngine):
        frames = (sample.img0.float().numpy(), sample.img1.float().numpy())
        flow0, flow1, mask = ifrnet.engine.flows_and_mask(*frames, t)
        box = sample.crop
        rows, cols = slice(box.top, box.top + box.height), slice(box.left, box.left + box.width)
        largest = max(float(abs(flow0[rows, cols]).max()), float(abs(flow1[rows, cols]).max()), 1e-6)
        panel.tiles.append(("flow t->0", flow_to_color(flow0[rows, cols], largest)))
        panel.tiles.append(("flow t->1", flow_to_color(flow1[rows, cols], largest)))
        grey = (mask[rows, cols] * 255).round().clip(0, 255).astype("uint8")
        panel.tiles.append(("occlusion mask (white: frame 0)", grey[..., None].repeat(3, axis=2)))
    return panel


def draw_report(
    folder: Path, protocol: BenchmarkProtocol, methods: dict[str, Method], out_dir: Path, table: str
) -> Path:
    """An HTML page with the table and panels for the worst and the median sample of the lead method."""
    lead = "ifrnet" if "ifrnet" in methods else next(iter(methods))
    by_name = {protocol.describe(i)[0]: i for i in range(len(protocol))}
    panels = [
        _panel(label, protocol[by_name[name]], methods, lead)
        for label, name in _chosen_samples(out_dir / "samples.csv", lead)
        if name in by_name
    ]
    title, _, markdown = table.partition("\n")
    return write_report(folder, f"{title}: {', '.join(methods)}", markdown_table_to_html(markdown), panels)
