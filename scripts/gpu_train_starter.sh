#!/usr/bin/env bash
# One training call on a lent GPU machine (the device tool), resumable across calls while it is warm.
#
#   scripts/gpu_train_starter.sh MINUTES [--resume] [more ifrnet train flags]
#
# Needs the shared clips in .devdata/ of the checkout (copied there beforehand and carried, as the
# device README says; visp_castel.mkv may stay behind to fit the 64 MiB upload). Decodes them with
# OpenCV into PNG frame folders the first time (the machine's image has no PyAV), trains for
# MINUTES, and leaves the best and latest weights as fp16 safetensors in $OUT with train.log.
# MODEL_CARD.md, "Training on a GPU", has the whole procedure.
#
# Two modes:
# - from scratch (INIT unset): IFRNet by default with configs/starter_ifrnet_s.toml's data, a
#   variance-preserving initialisation and plain (not robust) distillation, as in the shipped CPU
#   run: the earlier CPU weights never learnt motion with the paper's (MODEL_CARD.md, Recipe);
#   DISTILLATION=robust restores the paper's loss, WEIGHT_INIT=default PyTorch's initialisation.
# - fine-tuning (INIT=weights, e.g. src/ifrnet/pretrained/ifrnet_s_starter.safetensors): CONFIG
#   defaults to configs/starter_stage5.toml, whose model, data mix, objective and initialisation
#   apply; LR (default 2e-4) and LR_MIN (1e-5) set the cosine.
# Settings (environment): DATA, RUN, OUT, DEVICE, CONFIG, INIT, MODEL, BATCH, CROP, ITERATIONS,
# WORKERS, LR, LR_MIN, SEED, SAVE_EVERY, VAL_EVERY, WEIGHT_INIT, DISTILLATION, PROBE, RESERVE.
#
# Sizing the schedule to the call (PROBE=P minutes): the cosine's length is only known once the
# iteration rate is, and on a lent machine that is the data loader's (DIS flow labels on the fly).
# With PROBE set, the script trains P minutes, reads the rate from the checkpoint times in the log,
# then resumes with --iterations sized so that the cosine ends when MINUTES minutes have passed
# since the script started (decoding included), RESERVE seconds (default 45) before that for the
# last validation and the conversions; the resumed run also stops itself there (--time-limit).
# The learning rate is a pure function of the iteration and the schedule's length, so the
# change of length at the probe's end only bends the curve where it is near its peak.
set -euo pipefail
minutes=${1:?usage: scripts/gpu_train_starter.sh MINUTES [--resume] [ifrnet train flags]}
shift
export PYTHONPATH=src PYTHONUNBUFFERED=1
# one OpenCV thread per process: each data worker is already one core's worth of DIS flow labels
export OPENCV_FOR_THREADS_NUM=${OPENCV_FOR_THREADS_NUM:-1}
DATA=${DATA:-/work/train_data}
RUN=${RUN:-/work/train_runs/gpu}
OUT=${OUT:-$RUN/out}
mkdir -p "$OUT"
if [ ! -d "$DATA/footage" ]; then
    python3 scripts/prepare_starter_data.py --frames --jobs 8 --shared .devdata --out "$DATA" 2>&1 \
        | grep -v "non-intra slice" || true
    echo "frames decoded after ${SECONDS} s" | tee -a "$OUT/train.log"
fi
args=(--batch-size "${BATCH:-24}" --crop "${CROP:-224}" --workers "${WORKERS:-14}" --device "${DEVICE:-cuda}"
      --val-every "${VAL_EVERY:-500}" --save-every "${SAVE_EVERY:-500}" --quiet)
if [ -n "${INIT:-}" ]; then
    config=${CONFIG:-configs/starter_stage5.toml}
    args+=(--init "$INIT" --lr "${LR:-2e-4}" --lr-min "${LR_MIN:-1e-5}")
    [ -n "${MODEL:-}" ] && args+=(--model "$MODEL")
else
    config=${CONFIG:-configs/starter_ifrnet_s.toml}
    args+=(--model "${MODEL:-IFRNet}" --weight-init "${WEIGHT_INIT:-kaiming}")
    [ "${DISTILLATION:-plain}" = plain ] && args+=(--plain-distillation --distillation-weight 0.01)
    [ -n "${LR:-}" ] && args+=(--lr "$LR")
fi
[ -n "${SEED:-}" ] && args+=(--seed "$SEED")
# the configs name /work/train_data; another DATA rewrites those paths in a flattened copy (bases merged)
if [ "$DATA" != /work/train_data ]; then
    mkdir -p "$(dirname "$RUN")"
    python3 -c 'import json, sys; from ifrnet.training.trainer import load_config_file
print(json.dumps(load_config_file(sys.argv[1]), indent=1).replace("/work/train_data", sys.argv[2]))' \
        "$config" "$DATA" > "$RUN.json"
    config=$RUN.json
fi
train() {
    python3 -m ifrnet.cli train --config "$config" --out "$RUN" "${args[@]}" "$@" 2>&1 | tee -a "$OUT/train.log"
}
if [ -n "${PROBE:-}" ]; then
    mkdir -p "$RUN"; probe_log=$RUN/probe.log
    train --iterations "${ITERATIONS:-12000}" --time-limit "$PROBE" "$@" | tee "$probe_log"
    reserve=${RESERVE:-45}
    # iterations per second between the probe's first and last checkpoints (log times, whole seconds)
    read -r reached total seconds_left < <(python3 - "$probe_log" "$minutes" "$SECONDS" "$reserve" <<'EOF'
import re, sys
log, minutes, elapsed, reserve = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
points = []
for line in open(log):
    m = re.match(r"(\d\d):(\d\d):(\d\d) checkpoint: iteration (\d+)", line)
    if m:
        h, mi, s, it = map(int, m.groups())
        points.append((h * 3600 + mi * 60 + s, it))
reached = points[-1][1]
(t0, i0), (t1, i1) = points[0], points[-1]
t1 += 86400 if t1 < t0 else 0
rate = (i1 - i0) / (t1 - t0) if t1 - t0 >= 20 else reached / 60.0
left = minutes * 60 - elapsed - reserve
# the resumed run spends ~20 s starting (imports, datasets, workers) before its clock starts
total = reached + int(rate * (left - 20))
print(reached, total, int(left))
print(f"probe: {reached} iterations, {rate:.2f} it/s between checkpoints; "
      f"schedule {total} iterations in the {left} s left", file=sys.stderr)
EOF
)
    echo "probe: reached $reached, resuming to $total iterations, ${seconds_left} s left" | tee -a "$OUT/train.log"
    if [ "$seconds_left" -gt 60 ] && [ "$total" -gt "$reached" ]; then
        train --resume --iterations "$total" --time-limit "$(python3 -c "print(($seconds_left - 20) / 60)")" "$@"
    else
        echo "no time left to resume: keeping the probe's weights" | tee -a "$OUT/train.log"
    fi
else
    train --iterations "${ITERATIONS:-12000}" --time-limit "$minutes" "$@"
fi
for name in best latest; do
    python3 -m ifrnet.cli convert "$RUN/$name.pth" "$OUT/${name}_fp16.safetensors" --fp16 --overwrite
done
echo "done after ${SECONDS} s" | tee -a "$OUT/train.log"
