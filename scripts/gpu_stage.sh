#!/usr/bin/env bash
# Stage 21's recipe again, from today's shipped weights, for the next session whose task is lent a GPU.
#
# The shipped weights are the mean of a start and a run that travelled far from it on a lent GPU
# (stage 19, 94,720 captchas); that mean beat both, and no CPU stage since has moved the real sets.
# This script is that run, sized for one device call: it trains for MINUTES (default 7.5) from the
# shipped weights on the styles mix at batch 64, stops (SIGINT: last.pth is saved), and writes the
# run's last weights and their means with the shipped weights (0.3 / 0.4 / 0.5 of the run) to $OUT.
# The choice among them is made back on the CPU, on real captchas, as every stage's is:
#     python benchmarks/bench_real.py --sets spc --spc-split train --limit 300 --model SOUP.pth --out ...
#     python scripts/pick_by_real.py ...
#
# The device tool's call (46 MB travel; the device's own python3 holds torch and every dependency):
#     run(command="bash scripts/gpu_stage.sh", timeout_s=600,
#         carry=["data/photos/train", "data/art/train", "data/styles_model/val"])
# Any further arguments are `train` overrides (e.g. --set training.seed=141).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
out=${OUT:-checkpoints/gpu_stage/out}
run=checkpoints/gpu_stage
shipped=src/slidercaptcha/weights/default.safetensors
mkdir -p "$out"
head -n 150 data/styles_model/val/manifest.jsonl > data/styles_model/val/first150.jsonl  # validation in seconds

# 90,000 captchas if the loader keeps stage 19's 200 a second: one warm-up epoch, one cosine cycle over four.
timeout --preserve-status -s INT "${MINUTES:-7.5}m" python3 -m slidercaptcha train --config config/default_model.yaml \
    --init_from "$shipped" --set "model.input_size=[192,384]" --set loss.decoy.weight=0.3 \
    --set "data.art=[data/art/train]" --set data.val_manifest=data/styles_model/val/first150.jsonl \
    --set data.generator.gap_only_prob=0.35 --set data.num_workers=15 --set training.batch_size=64 \
    --set training.adaptive_batch_size=false --set training.seed=139 --set training.optimizer.lr=3e-4 \
    --set training.num_epochs=5 --set training.scheduler.T_0=4 --set data.samples_per_epoch=18000 \
    --set training.checkpoint_minutes=1 --set checkpoints.save_dir="$run" \
    --set logging.tensorboard_dir=runs/gpu_stage --set logging.progress_bar=false "$@" 2>&1 | tee "$out/train.log"

python3 scripts/average_weights.py --out "$out/run_last.pth" "$run/last.pth"
for share in 3:7 4:6 5:5; do  # tenths of the run : tenths of the shipped weights
    python3 scripts/average_weights.py --out "$out/soup_${share%:*}.pth" \
        "$run/last.pth:0.${share%:*}" "$shipped:0.${share#*:}"
done
if [ -f "$run/history.json" ]; then cp "$run/history.json" "$out/"; fi  # written after the first whole epoch
ls -l "$out"
