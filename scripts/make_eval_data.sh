#!/usr/bin/env bash
# The generated data every figure in README.md and MODEL_CARD.md is measured on, without training:
# background photos and art, the validation and held-out test sets of both models, and the
# tuning sets of benchmarks/tune_*.py. Seeds are fixed, so a rerun gives the same captchas for
# the same generator and photo packages (a later commit's styles, or other package versions,
# give other images: MODEL_CARD.md says when the sets were last regenerated). About 3 minutes on
# 2 cores. The real captcha sets are fetched separately (README, "Real captchas").
#
# Backgrounds come from Debian packages:
#   apt-get install plasma-workspace-wallpapers gnome-backgrounds mate-backgrounds ukui-wallpapers \
#       lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \
#       desktop-base hedgewars-data supertux-data
set -euo pipefail
cd "$(dirname "$0")/.."

# Photos, one per wallpaper, split train/test by name; painted art split by theme.
python scripts/prepare_backgrounds.py /usr/share/wallpapers /usr/share/backgrounds --out data/photos
python scripts/prepare_backgrounds.py /usr/share/desktop-base /usr/share/games/hedgewars/Data/Themes \
    /usr/share/games/supertux2/images/background --out data/art --split_by theme --test_share 0.2

# Validation sets (training photos, their own seed) and held-out test sets (unseen photos and art,
# a new seed): the classic style (stages 1-5) and the mix of styles (stage 6 on).
effects=(--enable_confusing_gaps --enable_rotation --enable_perlin_noise --workers 2)
classic=(--style classic --mode mixed "${effects[@]}")
mix=(--mode mixed "${effects[@]}")
slidercaptcha generate --num_images 300 --output_dir data/default_model/val --seed 1001 \
    --backgrounds data/photos/train "${classic[@]}"
slidercaptcha generate --num_images 1000 --output_dir data/default_model/test --seed 2024 \
    --backgrounds data/photos/test "${classic[@]}"
slidercaptcha generate --num_images 300 --output_dir data/styles_model/val --seed 1001 \
    --backgrounds data/photos/train --art data/art/train "${mix[@]}"
slidercaptcha generate --num_images 1000 --output_dir data/styles_model/test --seed 2024 \
    --backgrounds data/photos/test --art data/art/test "${mix[@]}"
for set in default_model/val default_model/test styles_model/val styles_model/test; do
    slidercaptcha validate-data --input_dir "data/$set"
done

# Tuning sets: their own seeds, training photos and art only (the tune_*.py docstrings).
slidercaptcha generate --num_images 400 --output_dir data/tune/classic --seed 3001 \
    --backgrounds data/photos/train --style classic --mode separate "${effects[@]}"
slidercaptcha generate --num_images 400 --output_dir data/tune/mix --seed 3001 \
    --backgrounds data/photos/train --art data/art/train --mode separate "${effects[@]}"
slidercaptcha generate --num_images 800 --output_dir data/tune/mix_composite --seed 3002 \
    --backgrounds data/photos/train --art data/art/train --mode composite "${effects[@]}"
slidercaptcha generate --num_images 800 --output_dir data/tune/mix_gaponly --seed 3003 \
    --backgrounds data/photos/train --art data/art/train --mode gap-only "${effects[@]}"
