"""How the generator's vendor styles draw a gap, against the vendors' real captchas.

    bash scripts/make_eval_data.sh      # the training photos and art (data/photos, data/art)
    python benchmarks/compare_gap_looks.py --spc data/real/spc

For each style that names a vendor (``vendor:`` in its YAML) and each of that vendor's real spc
captchas (the train split), the gap's look at its labelled centre, as the piece-free solver
measures it (``matching.gap_looks``: the strength of the closed outline traced there, the
strength of its fill, and the fill's shade, < 0 darker than the ring around it), beside the
same measures on captchas the style renders without a piece (at their manifest gap centres,
training photos and art). Quartiles per vendor; where the real gaps' middle half lies outside
the style's, the style does not draw that vendor's gap as the vendor does. Prints a table and
writes ``benchmarks/results/compare_gap_looks.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data import styles
from slidercaptcha.data.backgrounds import PhotoLibrary
from slidercaptcha.data.dataset import load_rgb
from slidercaptcha.data.labels import LabelRecord, read_spc
from slidercaptcha.data.render import EffectProbs, render_captcha
from slidercaptcha.inference.matching import gap_looks

MEASURES = ("outline", "fill", "shade")


def quartiles(looks: list[np.ndarray]) -> dict[str, list[float]]:
    values = np.array(looks, np.float64).reshape(-1, len(MEASURES))
    return {m: np.percentile(values[:, i], [25, 50, 75]).round(2).tolist() for i, m in enumerate(MEASURES)}


def real_looks(records: list[LabelRecord], vendor: str, limit: int) -> list[np.ndarray]:
    chosen = [r for r in records if r.meta["vendor"] == vendor][:limit]
    return [gap_looks(load_rgb(r.file), np.array([r.gap]))[0] for r in tqdm(chosen, desc=vendor, leave=False, disable=None)]


def style_looks(name: str, count: int, seed: int, photos: PhotoLibrary) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = EffectProbs.from_augmentation(AugmentationConfig())
    gen = GeneratorConfig(style=name)
    out = []
    for _ in tqdm(range(count), desc=name, leave=False, disable=None):
        c = render_captcha(rng, gen, probs, "gap-only", photos)
        out.append(gap_looks(c.image, np.array([[c.record["gap_x"], c.record["gap_y"]]]))[0])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spc", type=Path, default=Path("data/real/spc"), help="the spc set (REALDATA.md)")
    p.add_argument("--split", default="train", help="spc split to measure")
    p.add_argument("--limit", type=int, default=300, help="real captchas per vendor")
    p.add_argument("--count", type=int, default=300, help="generated captchas per style")
    p.add_argument("--photos", nargs="+", default=["data/photos/train"], help="photo folders the styles draw on")
    p.add_argument("--art", nargs="+", default=["data/art/train"], help="art folders the styles draw on")
    p.add_argument("--styles", nargs="+", help="only these styles (default: every style that names a vendor)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/compare_gap_looks.json"))
    args = p.parse_args(argv)
    if not args.spc.is_dir():
        sys.exit(f"{args.spc}: no spc set here (REALDATA.md says how to fetch it)")
    photos = PhotoLibrary(args.photos, args.art)
    records, _ = read_spc(args.spc, (args.split,))
    vendors = {r.meta["vendor"] for r in records}
    rows = []
    paired = {s.name: s for s in styles.builtin_styles().values() if s.vendor in vendors}
    unknown = sorted(set(args.styles or ()) - set(paired))
    if unknown:
        sys.exit(f"--styles {' '.join(unknown)}: not a style paired with a vendor here; choose from {sorted(paired)}")
    chosen = [paired[n] for n in args.styles] if args.styles else list(paired.values())
    for style in chosen:
        rows.append({"vendor": style.vendor, "style": style.name,
                     "real": quartiles(real_looks(records, style.vendor, args.limit)),
                     "generated": quartiles(style_looks(style.name, args.count, args.seed, photos))})
    print(f"| vendor | style | {' | '.join(f'{m}: real / style (p25 p50 p75)' for m in MEASURES)} |")
    print("|---|---|" + "---|" * len(MEASURES))
    for r in rows:
        cells = [f"{' '.join(f'{v:g}' for v in r['real'][m])} / {' '.join(f'{v:g}' for v in r['generated'][m])}"
                 for m in MEASURES]
        print(f"| {r['vendor']} | {r['style']} | {' | '.join(cells)} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "spc_split": args.split,
                                    "limit": args.limit, "count": args.count, "seed": args.seed, "rows": rows},
                                   indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
