#!/usr/bin/env bash
# One training call on a lent GPU machine (the device tool), resumable across calls while it is warm.
#
#   scripts/gpu_train_starter.sh MINUTES [--resume]
#
# Needs the shared clips in .devdata/ of the checkout (copied there beforehand and carried, as the
# device README says; visp_castel.mkv may stay behind to fit the 64 MiB upload). Decodes them with
# OpenCV into PNG frame folders the first time (the machine's image has no PyAV), trains IFRNet with
# the starter recipe for MINUTES, and leaves the best and latest weights as fp16 safetensors in $OUT.
# MODEL_CARD.md, "Training on a GPU", has the whole procedure. Settings: DATA, RUN, DEVICE,
# MODEL, BATCH, CROP, ITERATIONS, WORKERS, WEIGHT_INIT, DISTILLATION (environment), with the
# defaults below. From scratch the run starts with a variance-preserving initialisation and plain
# (not robust) distillation, as in the shipped CPU run: the earlier CPU weights never learnt motion
# with the paper's (MODEL_CARD.md, Recipe); DISTILLATION=robust restores the paper's loss.
set -euo pipefail
minutes=${1:?usage: scripts/gpu_train_starter.sh MINUTES [--resume]}
shift
export PYTHONPATH=src PYTHONUNBUFFERED=1
DATA=${DATA:-/work/train_data}
RUN=${RUN:-/work/train_runs/gpu}
OUT=${OUT:-$RUN/out}
mkdir -p "$OUT"
if [ ! -d "$DATA/footage" ]; then
    python3 scripts/prepare_starter_data.py --frames --shared .devdata --out "$DATA"
fi
# the config names /work/train_data; another DATA rewrites those paths in a copy
config=configs/starter_ifrnet_s.toml
if [ "$DATA" != /work/train_data ]; then
    sed "s#/work/train_data#$DATA#g" "$config" > "$RUN.toml"
    config=$RUN.toml
fi
python3 -m ifrnet.cli train --config "$config" --out "$RUN" \
    --model "${MODEL:-IFRNet}" --batch-size "${BATCH:-24}" --crop "${CROP:-224}" \
    --iterations "${ITERATIONS:-12000}" --workers "${WORKERS:-14}" --device "${DEVICE:-cuda}" \
    --weight-init "${WEIGHT_INIT:-kaiming}" $([ "${DISTILLATION:-plain}" = plain ] && echo --plain-distillation --distillation-weight 0.01) \
    --val-every 500 --save-every 500 --time-limit "$minutes" --quiet "$@" 2>&1 | tee -a "$OUT/train.log"
for name in best latest; do
    python3 -m ifrnet.cli convert "$RUN/$name.pth" "$OUT/${name}_fp16.safetensors" --fp16 --overwrite
done
