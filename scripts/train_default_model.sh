#!/usr/bin/env bash
# Reproduces the model shipped in src/slidercaptcha/weights/ and its report in
# results/default_model/ (see MODEL_CARD.md). About 70 minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

# Background photos: Debian's wallpapers, one per wallpaper, split train/test by name.
#   apt-get install plasma-workspace-wallpapers gnome-backgrounds
python scripts/prepare_backgrounds.py /usr/share/wallpapers /usr/share/backgrounds --out data/photos

# Validation set (training photos, its own seed) and held-out test set (unseen photos, new seed).
effects=(--mode mixed --enable_confusing_gaps --enable_rotation --enable_perlin_noise --workers 2)
slidercaptcha generate --num_images 300 --output_dir data/default_model/val --seed 1001 \
    --backgrounds data/photos/train "${effects[@]}"
slidercaptcha generate --num_images 1000 --output_dir data/default_model/test --seed 2024 \
    --backgrounds data/photos/test "${effects[@]}"
slidercaptcha validate-data --input_dir data/default_model/test

# Training: captchas rendered on the fly (60,000 samples over 15 epochs).
slidercaptcha train --config config/default_model.yaml

# Held-out evaluation, report and plots, then the files the package ships.
slidercaptcha evaluate --checkpoint checkpoints/default_model/best_model.pth \
    --data data/default_model/test --name default_model
slidercaptcha report --results results/default_model --run checkpoints/default_model --dpi 110
slidercaptcha export --checkpoint checkpoints/default_model/best_model.pth --format package \
    --output src/slidercaptcha/weights
