"""Collect background photos for training: one per wallpaper, downscaled, split train/test.

Debian's wallpaper packages (plasma-workspace-wallpapers, gnome-backgrounds, …) ship each
wallpaper at several resolutions and up to 5120×2880; decoding those per captcha would
dominate rendering. This keeps the largest landscape version of each, shrinks it to a
720-pixel short side, and assigns whole wallpapers to train or test by a hash of the
name, so test captchas use photos the model never saw.

    python scripts/prepare_backgrounds.py /usr/share/wallpapers /usr/share/backgrounds --out data/photos

Painted and cartoon art (Debian's desktop-base themes, the hedgewars and supertux game
backgrounds) goes in its own folder, split by whole theme:

    python scripts/prepare_backgrounds.py /usr/share/desktop-base /usr/share/games/hedgewars/Data/Themes \
        /usr/share/games/supertux2/images/background --out data/art --split_by theme --test_share 0.2
"""

import argparse
import hashlib
from pathlib import Path

import cv2

EXTS = {".jpg", ".jpeg", ".png", ".webp"}


def wallpaper_name(path: Path, root: Path) -> str:
    """KDE wallpapers live in <Name>/contents/images[_dark]/<WxH>.ext: name them by folder."""
    parts = path.relative_to(root).parts
    if "contents" in parts:
        i = parts.index("contents")
        return "-".join(parts[:i]) + ("-dark" if "images_dark" in parts else "")
    return path.relative_to(root).with_suffix("").as_posix().replace("/", "-")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--out", default="data/photos")
    p.add_argument("--test_share", type=float, default=0.15)
    p.add_argument("--short_side", type=int, default=720)
    p.add_argument("--min_side", type=int, default=200, help="skip images with a shorter side")
    p.add_argument("--split_by", choices=("name", "theme"), default="name",
                   help="theme: whole themes (the name up to its first '-') go to one split")
    args = p.parse_args()
    best: dict[str, tuple[int, Path]] = {}
    for root in map(Path, args.folders):
        for f in root.rglob("*"):
            if f.suffix.lower() not in EXTS or "screenshot" in f.name:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None or img.ndim < 3 or img.shape[1] < img.shape[0] or min(img.shape[:2]) < args.min_side:
                continue  # unreadable, grey, portrait, or an icon or tile rather than a scene
            if img.shape[2] == 4 and (img[..., 3] < 250).mean() > 0.02:
                continue  # a sprite or layer with transparent parts, not a whole picture
            name, area = wallpaper_name(f, root), img.shape[0] * img.shape[1]
            if area > best.get(name, (0, None))[0]:
                best[name] = (area, f)
    counts = {"train": 0, "test": 0}
    for name, (_, f) in sorted(best.items()):
        key = name.split("-")[0] if args.split_by == "theme" else name
        split = "test" if int(hashlib.sha1(key.encode()).hexdigest(), 16) % 1000 < args.test_share * 1000 else "train"
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        scale = args.short_side / min(img.shape[:2])
        if scale < 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        out = Path(args.out) / split / f"{name}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        counts[split] += 1
    print(f"{counts['train']} train and {counts['test']} test photos in {args.out}")


if __name__ == "__main__":
    main()
