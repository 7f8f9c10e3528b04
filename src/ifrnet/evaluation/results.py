"""Running methods over a benchmark protocol and writing the results: per-image rows and a summary.

:func:`evaluate` writes, under ``out_dir``:

* ``samples.csv`` -- one row per (sample, t, method) with every metric, appended and flushed row
  by row. A run that is killed loses at most the row in progress, and calling :func:`evaluate`
  again with the same folder resumes: rows already present are skipped (and a half-written last
  line is dropped). One folder holds one set of metric columns; asking for others is an error
  rather than a CSV with mixed columns. Two runs must not share a folder at the same time.
* ``methods.json`` -- ``{method: fingerprint}`` of the methods whose rows the folder holds (for
  IFRNet the engine and a digest of its weights). Resuming with a method whose fingerprint differs
  (other weights in the same folder) is an error rather than a table that silently mixes the old
  weights' rows with the new ones; ``overwrite=True`` drops that method's old rows (and its saved
  predictions) and recomputes them.
* ``summary.json`` -- ``{method: {metric: mean, ..., "n": rows}}``, the mean over that method's rows
  for the protocol's current samples (the paper's PSNR is this mean of per-image PSNR). A perfect
  prediction has infinite PSNR, and one such row makes the mean infinite; strict JSON has no
  infinity, so non-finite means are written as the strings ``"inf"``, ``"-inf"`` or ``"nan"``
  (:func:`load_summary` turns them back into floats). The returned summary holds real floats.
* ``summary.md`` -- the paper-style table (:func:`format_table`) with the metrics the protocol
  reports (IE only for Middlebury; any ``extra_metrics`` are always shown).
* ``predictions/<method>/<sample>_t<t>.png`` with ``save_predictions`` (8-bit, for looking at;
  the metrics use the unquantised floats).

Predictions are clamped to [0, 1] before scoring -- the metrics are defined on [0, 1] images and
IFRNet's output already is -- and moved to the CPU.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import torch
from torch import Tensor
from tqdm import tqdm

from .. import metrics as metrics_module
from ..errors import InputError
from ..io.files import atomic_output
from ..io.images import write_png
from .methods import Method, fingerprint
from .protocols import BenchmarkProtocol, EvalSample
from .report import to_uint8

#: Column name -> the function of :mod:`ifrnet.metrics` that computes it (looked up when used).
#: ``ssim`` is the paper's 3-D SSIM; ``ie`` is Middlebury's interpolation error.
METRIC_FUNCTIONS: dict[str, str] = {
    "psnr": "psnr",
    "ssim": "ssim_3d",
    "ie": "interpolation_error",
    "psnr_uint8": "psnr_uint8",
    "ssim_2d": "ssim_2d",
}
#: Decimals in the table, as the paper prints them (PSNR 2, SSIM 4, IE 2).
DECIMALS: dict[str, int] = {"psnr": 2, "ssim": 4, "ie": 2, "psnr_uint8": 2, "ssim_2d": 4}
HEADINGS: dict[str, str] = {
    "psnr": "PSNR",
    "ssim": "SSIM",
    "ie": "IE",
    "psnr_uint8": "PSNR (uint8)",
    "ssim_2d": "SSIM 2-D",
}
DEFAULT_METRICS = ("psnr", "ssim", "ie")
KEY_COLUMNS = ("sample", "t", "method")

Summary = dict[str, dict[str, float]]
MetricFunction = Callable[[Tensor, Tensor], Tensor]


def metric_function(name: str) -> MetricFunction:
    """The function that computes metric column ``name`` on (B, 3, H, W) [0, 1] images, one value per image."""
    function_name = METRIC_FUNCTIONS.get(name)
    if function_name is None:
        raise InputError(f"unknown metric {name!r}; choose from {', '.join(METRIC_FUNCTIONS)}")
    function = getattr(metrics_module, function_name, None)
    if function is None:
        raise InputError(f"metric {name!r} needs ifrnet.metrics.{function_name}, which this installation lacks")
    return function


def time_key(t: float) -> str:
    """How a time is written in ``samples.csv`` and matched when resuming (0.5, 0.125, 0.333333)."""
    return f"{float(t):.6g}"


def _read_existing(path: Path, header: list[str]) -> list[list[str]] | None:
    """The data rows of an existing ``samples.csv`` (``None`` when there is none yet).

    A last line without its newline is what a killed run leaves; it is cut off so that the
    append that follows starts on a fresh line.
    """
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)
        data = data[:keep]
    if not data:
        return None
    rows = list(csv.reader(data.decode("utf-8").splitlines()))
    if rows[0] != header:
        raise InputError(
            f"{path}: written with columns {', '.join(rows[0])}, not {', '.join(header)}; "
            "use another output folder or the same metrics"
        )
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}, line {number}: expected {len(header)} fields; got {len(row)}")
    return rows[1:]


def _check_fingerprints(
    out: Path, rows: list[list[str]], header: list[str], methods: Mapping[str, Method], overwrite: bool
) -> list[list[str]]:
    """The rows still valid for ``methods``; records their fingerprints in ``methods.json``."""
    path = out / "methods.json"
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); remove it or use another output folder") from None
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: expected a JSON object of method fingerprints")
    current = {name: fingerprint(method) for name, method in methods.items()}
    present = {row[2] for row in rows}
    stale = [name for name in current if name in present and recorded.get(name) != current[name]]
    if stale and not overwrite:
        name = stale[0]
        was = recorded.get(name, "not recorded (an older run)")
        raise InputError(
            f"{out / 'samples.csv'}: its {name} rows came from another engine or other weights ({was}; "
            f"now {current[name]}); pass --overwrite to recompute them, or use another output folder"
        )
    if stale:
        rows = [row for row in rows if row[2] not in stale]
        for name in stale:  # images the other weights predicted would pass for this run's
            shutil.rmtree(_prediction_folder(out, name), ignore_errors=True)
        with atomic_output(out / "samples.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *rows])
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({**recorded, **current}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return rows


def _prediction_folder(out: Path, method: str) -> Path:
    return out / "predictions" / method.replace("/", "_").replace(os.sep, "_")


def _prediction_path(out: Path, method: str, sample: str, t: float) -> Path:
    # sample names come from dataset paths: keep their folders, never leave the output folder
    parts = [p for p in PurePosixPath(sample).parts if p not in ("/", ".", "..")]
    return _prediction_folder(out, method).joinpath(*parts[:-1], f"{parts[-1]}_t{time_key(t)}.png")


def _mean(values: list[float]) -> float:
    if not values:
        return math.nan
    # fsum is exact for finite values but refuses inf - inf; plain sum gives nan there
    total = math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
    return total / len(values)


def summarize(
    rows: Sequence[Sequence[str]],
    header: Sequence[str],
    methods: Sequence[str],
    keys: set[tuple[str, str]] | None = None,
) -> Summary:
    """Per-method means of the metric columns of ``samples.csv`` rows, plus ``n`` (the row count).

    Only rows of ``methods`` count, and only those whose (sample, t) is in ``keys`` when given;
    a repeated (sample, t, method) counts once.
    """
    metric_columns = [c for c in header if c not in KEY_COLUMNS]
    seen: set[tuple[str, str, str]] = set()
    values: dict[str, dict[str, list[float]]] = {m: {c: [] for c in metric_columns} for m in methods}
    for row in rows:
        record = dict(zip(header, row, strict=True))
        key = (record["sample"], record["t"], record["method"])
        if record["method"] not in values or key in seen or (keys is not None and key[:2] not in keys):
            continue
        seen.add(key)
        for column in metric_columns:
            values[record["method"]][column].append(float(record[column]))
    summary: Summary = {}
    for method, columns in values.items():
        entry = {column: _mean(v) for column, v in columns.items()}
        entry["n"] = len(next(iter(columns.values()))) if columns else 0
        summary[method] = entry
    return summary


def _json_value(value: float) -> float | str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan"
    return value


def summary_json(summary: Mapping[str, Mapping[str, float]]) -> str:
    """Strict JSON for a summary: non-finite means become the strings "inf", "-inf", "nan"."""
    data = {m: {k: _json_value(v) for k, v in entry.items()} for m, entry in summary.items()}
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def load_summary(path: str | os.PathLike) -> Summary:
    """Read a ``summary.json``, turning "inf" / "-inf" / "nan" back into floats."""
    data = json.loads(Path(path).read_text())
    return {
        method: {k: float(v) if isinstance(v, str) else v for k, v in entry.items()} for method, entry in data.items()
    }


def _format_value(value: float, decimals: int) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{decimals}f}"


def format_table(summary: Mapping[str, Mapping[str, float]], columns: Sequence[str] | None = None) -> str:
    """A markdown table in the paper's style: one row per method, PSNR / SSIM / IE (2 / 4 / 2 decimals), n.

    ``columns`` chooses and orders the metrics (default: all of them, as in the summary).
    """
    if columns is None:
        columns = list(dict.fromkeys(k for entry in summary.values() for k in entry if k != "n"))
    head = ["Method", *(HEADINGS.get(c, c) for c in columns), "n"]
    lines = [
        "| " + " | ".join(head) + " |",
        "| --- | " + " | ".join("---:" for _ in head[1:]) + " |",
    ]
    for method, entry in summary.items():
        cells = [method.replace("|", "\\|")]
        cells += [_format_value(entry[c], DECIMALS.get(c, 4)) if c in entry else "" for c in columns]
        cells.append(str(int(entry.get("n", 0))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _predict(
    method: Method, method_name: str, sample: EvalSample, times: list[float]
) -> list[tuple[float, Tensor, Tensor]]:
    """(t, unpadded prediction, target) for each of ``times``: the method called once for all of them."""
    with torch.no_grad():
        preds = method(sample.img0, sample.img1, list(times))
    if len(preds) != len(times):
        raise InputError(f"method {method_name!r} returned {len(preds)} frames for {len(times)} times")
    targets = {time_key(t): target for t, target in sample.targets}
    out = []
    for t, pred in zip(times, preds, strict=True):
        pred = sample.unpad(pred.detach().float().cpu().clamp(0.0, 1.0))
        target = targets[time_key(t)]
        if pred.shape != target.shape:
            raise InputError(
                f"method {method_name!r} gave {tuple(pred.shape)} for {sample.name} at t={time_key(t)} "
                f"after unpadding, expected {tuple(target.shape)}"
            )
        out.append((t, pred, target))
    return out


def evaluate(
    protocol: BenchmarkProtocol,
    methods: Mapping[str, Method],
    out_dir: str | os.PathLike,
    metrics: Sequence[str] = DEFAULT_METRICS,
    extra_metrics: Sequence[str] = (),
    progress: bool = True,
    save_predictions: bool = False,
    overwrite: bool = False,
) -> Summary:
    """Score every method on every (sample, t) of ``protocol``; write and return the summary.

    Each method is called once per sample with the times it still lacks (IFRNet's engine is built
    at the protocol's ``scale_factor`` by the caller); its outputs are cropped with the sample's
    ``unpad`` and compared with the targets. Rows already in ``out_dir/samples.csv`` are not
    recomputed unless they came from a method with another fingerprint (see the module docstring).
    """
    if not methods:
        raise InputError("no methods to evaluate")
    columns = list(dict.fromkeys([*metrics, *extra_metrics]))
    if not columns:
        raise InputError("no metrics to compute")
    functions = {c: metric_function(c) for c in columns}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "samples.csv"
    header = [*KEY_COLUMNS, *columns]
    existing = _read_existing(csv_path, header)
    rows = _check_fingerprints(out, list(existing or []), header, methods, overwrite)
    done = {(r[0], r[1], r[2]) for r in rows}
    keys: set[tuple[str, str]] = set()

    with open(csv_path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if existing is None:
            writer.writerow(header)
            fh.flush()
        with tqdm(total=len(protocol), desc=protocol.label, unit="sample", disable=not progress) as bar:
            for index in range(len(protocol)):
                name, times = protocol.describe(index)
                keys.update((name, time_key(t)) for t in times)
                pending = {m: [t for t in times if (name, time_key(t), m) not in done] for m in methods}
                # a finished sample is not even read: resuming a long run starts where it stopped
                sample = protocol[index] if any(pending.values()) else None
                for method_name, todo in pending.items():
                    if sample is None or not todo:
                        continue
                    scored = _scored(methods[method_name], method_name, name, sample, todo, functions)
                    for row, pred in scored:
                        if save_predictions:  # before the row, so a resumed run rewrites a lost image
                            write_png(_prediction_path(out, method_name, name, float(row[1])), to_uint8(pred))
                        writer.writerow(row)
                        fh.flush()
                        rows.append(row)
                        done.add((row[0], row[1], row[2]))
                bar.update(1)

    summary = summarize(rows, header, list(methods), keys)
    _write_summary(out, protocol, summary, columns, extra_metrics)
    return summary


def _scored(method: Method, method_name: str, name: str, sample, todo: Sequence[float], functions: Mapping):
    """(row of ``samples.csv``, prediction) for each of ``todo`` on ``sample``, metrics in the
    order of ``functions``."""
    for t, pred, target in _predict(method, method_name, sample, todo):
        values = [float(function(pred, target)[0]) for function in functions.values()]
        yield [name, time_key(t), method_name, *(repr(v) for v in values)], pred


def _write_summary(
    out: Path, protocol: BenchmarkProtocol, summary: Summary, columns: Sequence[str], extra: Sequence[str]
) -> None:
    """``summary.json`` and ``summary.md``, the latter with the protocol's metrics and the extra ones."""
    shown = [c for c in columns if c in protocol.reported_metrics or c in extra] or columns
    with atomic_output(out / "summary.json") as tmp:
        tmp.write_text(summary_json(summary))
    with atomic_output(out / "summary.md") as tmp:
        tmp.write_text(f"# {protocol.label}\n\n{format_table(summary, shown)}\n")
