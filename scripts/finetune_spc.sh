#!/usr/bin/env bash
# The README's "Train on your own captchas" figures: fine-tune the shipped model on the spc
# train split (five vendors; Shumei left out: its labels hold a decoy box as well, not told
# apart) and score on the val split, then again with 50 labelled images per vendor.
# Needs the spc set fetched as the README's "Real captchas" section says (data/real/spc);
# the images and the resulting weights stay out of the repository (no licence).
set -euo pipefail
cd "$(dirname "$0")/.."

slidercaptcha import-real --format spc data/real/spc data/real/converted/spc5 --exclude Shumei
common=(--data data/real/converted/spc5/val.jsonl --train-data data/real/converted/spc5/train.jsonl
        --set 'data.backgrounds=[data/photos/train]')

# All 300 labelled train images per vendor (~45 min on 2 cores).
slidercaptcha finetune "${common[@]}" --out finetune/spc --epochs 6 --synthetic 400
# 50 per vendor: how few labels suffice (~20 min).
slidercaptcha finetune "${common[@]}" --out finetune/spc50 --epochs 6 --synthetic 400 --limit 50 --weight 4
# The same 50 per vendor with the backbone frozen (training.freeze: only the FPN and heads train, ~19 min).
slidercaptcha finetune "${common[@]}" --out finetune/spc50_frozen --epochs 6 --synthetic 400 --limit 50 --weight 4 \
    --set 'training.freeze=[stem,stage2,stage3,stage4]'

# Does it forget? The generated test set (scripts/train_default_model.sh makes it), before and after.
slidercaptcha evaluate --checkpoint src/slidercaptcha/weights/default.safetensors \
    --data data/default_model/test --name synthetic_before --out finetune/spc/results
slidercaptcha evaluate --checkpoint finetune/spc/checkpoints/best_model.pth \
    --data data/default_model/test --name synthetic_after --out finetune/spc/results

python scripts/finetune_summary.py finetune/spc finetune/spc50 finetune/spc50_frozen \
    --synthetic finetune/spc/results/synthetic_before/metrics.json finetune/spc/results/synthetic_after/metrics.json \
    --out benchmarks/results/finetune_spc.json
