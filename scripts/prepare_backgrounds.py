"""Collect background photos for training: one per wallpaper, downscaled, split train/test.

Debian's wallpaper packages (plasma-workspace-wallpapers, gnome-backgrounds, …) ship each
wallpaper at several resolutions and up to 5120×2880; decoding those per captcha would
dominate rendering. This keeps the largest landscape version of each, shrinks it to a
720-pixel short side, and assigns whole wallpapers to train or test by a hash of the
name, so test captchas use photos the model never saw.

    python scripts/prepare_backgrounds.py /usr/share/wallpapers /usr/share/backgrounds --out data/photos
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
    args = p.parse_args()
    best: dict[str, tuple[int, Path]] = {}
    for root in map(Path, args.folders):
        for f in root.rglob("*"):
            if f.suffix.lower() not in EXTS or "screenshot" in f.name:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_REDUCED_COLOR_8)
            if img is None or img.shape[1] < img.shape[0]:  # unreadable or portrait
                continue
            name, area = wallpaper_name(f, root), img.shape[0] * img.shape[1]
            if area > best.get(name, (0, None))[0]:
                best[name] = (area, f)
    counts = {"train": 0, "test": 0}
    for name, (_, f) in sorted(best.items()):
        split = "test" if int(hashlib.sha1(name.encode()).hexdigest(), 16) % 1000 < args.test_share * 1000 else "train"
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
