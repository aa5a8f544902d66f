"""Score the solver, and optionally peer solvers, on the real captcha sets present under a folder.

    python benchmarks/bench_real.py --root data/real                 # ours only
    python benchmarks/bench_real.py --root data/real --peers all     # + the four peers (see peers.py)

Sets (fetched as the README's "Real captchas" section says; an absent one is skipped with a note):
``<root>/spc`` (six vendors, gap boxes, scored on the ``--spc-split``) and ``<root>/npc``
(background + piece, three sets). Each solver gets the piece where the captcha has one and
the solver takes one. Per group: n, share within 3/5/10 px of the gap centre's x, the
group's median signed error, share within 5 px once that median is removed (labels differ
in where a box starts), median and p95 error, ms per image (image load included). A solver
that fails on an image scores a miss there, and the image is listed in the JSON, as is every
captcha missed by more than 5 px (with its signed error). For ours, the JSON also has the share
of captchas on which the network ran (``network_share``: with a piece, only where its fit alone
is in doubt).

Some published npc labels do not mark the gap (``label_audit.json`` lists them, with why);
the sets they belong to are scored a second time, same answers, against the audited labels.

spc's val split repeats many of its train images byte for byte (and itself), and the solver's
settings and the shipped checkpoint were chosen on spc train; so spc val is scored a second
time, same answers, on its held-out captchas only: each distinct image once, none that is in
train (``labels.spc_unseen``). spc train repeats its own images too (119-227 distinct of a
vendor's first 300), so ``--spc-split train`` is scored a second time on each distinct image
once (``results_held_out`` in the JSON holds either cut).

Writes ``--out`` (JSON) and the same table as markdown next to it (``.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from slidercaptcha.data.labels import LabelRecord, apply_npc_audit, read_npc, read_spc, spc_unseen
from slidercaptcha.metrics import x_error_summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # peers.py sits beside this script

from peers import PeerUnavailable, load_peers  # noqa: E402


class Ours:
    """``SliderSolver`` as a user calls it: the packaged model unless ``--model`` says otherwise."""

    name = "slidercaptcha"
    takes_piece = True

    def __init__(self, model: str | None, threads: int):
        from slidercaptcha.inference import SliderSolver

        self.solver = SliderSolver.load(model, threads=threads)
        self.network_runs = 0  # calls on which the network ran (with a piece, only where the fit is in doubt)

    def solve(self, background: Path, piece: Path | None) -> tuple[float, float]:
        result = self.solver.solve(background, piece=piece)
        self.network_runs += result.timing["model"] > 0
        return result.gap


def real_sets(root: Path, spc_split: str, sets: tuple[str, ...] = ("spc", "npc")) -> dict[str, list[LabelRecord]]:
    """{group: records}, groups named '<set> <vendor or subset>'; absent sets are noted."""
    groups: dict[str, list[LabelRecord]] = {}
    readers = {"spc": lambda p: read_spc(p, (spc_split,)), "npc": read_npc}
    for name, read in ((n, readers[n]) for n in sets):
        folder = root / name
        if not folder.is_dir():
            print(f"note: {folder} not found, {name} skipped (the README's \"Real captchas\" section says how to fetch it)")
            continue
        records, skipped = read(folder)
        for s in skipped:
            print(f"note: {s.file} skipped: {s.reason}")
        for r in records:
            groups.setdefault(f"{name} {r.sample_type}", []).append(r)
    return groups


def audited_sets(groups: dict[str, list[LabelRecord]], root: Path, audit: Path) -> dict[str, list[LabelRecord]]:
    """The npc groups whose labels ``audit`` (``label_audit.json``) corrects, corrected."""
    fixes = json.loads(audit.read_text(encoding="utf-8"))["npc"]
    out = {}
    for group, records in groups.items():
        if group.startswith("npc "):
            fixed = apply_npc_audit(records, root / "npc", fixes)
            if any(a.gap != b.gap for a, b in zip(fixed, records, strict=True)):
                out[group] = fixed
    return out


def held_out(groups: dict[str, list[LabelRecord]], root: Path, runs: dict[str, dict[str, dict]], limit: int | None,
             ) -> tuple[dict[str, list[LabelRecord]], dict[str, dict[str, dict]]]:
    """The spc groups cut to each distinct image once (:func:`~slidercaptcha.data.labels.spc_unseen`),
    and on the val split to the images spc train does not hold; every solver's runs cut alike.
    A group left empty (``--limit`` took only images train holds) is left out."""
    kept: dict[str, list[int]] = {}
    for group, records in groups.items():
        if group.startswith("spc "):
            seen_in = "train" if records[0].meta["split"] == "val" else None
            if unseen := spc_unseen(records[:limit], root / "spc", seen_in):
                kept[group] = unseen
    subsets = {g: [groups[g][i] for i in idx] for g, idx in kept.items()}
    cut = {name: {g: _cut(run[g], kept[g], subsets[g]) for g in kept if g in run} for name, run in runs.items()}
    return subsets, cut


def _cut(run: dict, keep: list[int], records: list[LabelRecord]) -> dict:
    """One group's run (:func:`solve_all`) on the captchas ``keep`` indexes (``records``), time pro rata."""
    files = {str(r.file) for r in records}
    answers = [run["answers"][i] for i in keep]
    return {"answers": answers, "seconds": run["seconds"] * len(keep) / len(run["answers"]),
            "failed": [f for f in run["failed"] if f["file"] in files], "piece_given": run["piece_given"]}


def piece_of(record: LabelRecord, root: Path) -> Path | None:
    return root / "npc" / record.meta["piece_file"] if record.meta.get("piece_file") else None


def solve_all(solver, groups: dict[str, list[LabelRecord]], root: Path, limit: int | None) -> dict[str, dict]:
    """{group: {"answers": [(x, y)], "seconds", "failed", "piece_given"[, "network_share"]}}: the
    solver on every captcha of every group it can take; ``network_share`` for a solver that counts
    its network runs (ours). A failing image is a miss (NaN), never a crash."""
    runs = {}
    for group, records in groups.items():
        records = records[:limit]
        if getattr(solver, "needs_piece", False) and piece_of(records[0], root) is None:
            continue  # a piece matcher on captchas without a piece: not scored ("—")
        answers, seconds, failed = [], 0.0, []
        runs_before = getattr(solver, "network_runs", None)
        for r in tqdm(records, desc=f"{solver.name} | {group}", leave=False, disable=None):
            piece = piece_of(r, root) if solver.takes_piece else None
            start = time.perf_counter()
            try:
                answers.append(tuple(solver.solve(r.file, piece)))
            except Exception as err:
                failed.append({"file": str(r.file), "error": f"{type(err).__name__}: {err}"})
                answers.append((float("nan"), float("nan")))
            seconds += time.perf_counter() - start
        runs[group] = {"answers": answers, "seconds": seconds, "failed": failed,
                       "piece_given": bool(solver.takes_piece and piece_of(records[0], root))}
        if runs_before is not None:
            runs[group]["network_share"] = (solver.network_runs - runs_before) / len(records)
    return runs


def summarise(runs: dict[str, dict], groups: dict[str, list[LabelRecord]]) -> dict[str, dict]:
    """Per group: x-error summary of the answers against the groups' labels, time, failures and
    every captcha missed by more than 5 px."""
    results = {}
    for group, run in runs.items():
        records, signed = groups[group][:len(run["answers"])], []  # --limit scored the first ones
        for r, (x, y) in zip(records, run["answers"], strict=True):
            truth = r.gap_nearest((x, y if np.isfinite(y) else r.gap[1]))
            signed.append(x - truth[0])
        misses = [{"file": str(r.file), "error": round(float(e), 1)}
                  for r, e in zip(records, signed, strict=True) if not abs(e) <= 5]
        results[group] = {**x_error_summary(np.array(signed)),
                          "ms_per_image": 1000 * run["seconds"] / len(signed),
                          "piece_given": run["piece_given"], "failed": run["failed"], "misses": misses,
                          **({"network_share": run["network_share"]} if "network_share" in run else {})}
    return results


def markdown(results: dict[str, dict[str, dict]], groups: list[str], timing: bool = True) -> str:
    """Rows = groups; a cell = within 5 px with the median removed (raw within 5 px)."""
    solvers = list(results)
    lines = ["| set | n | " + " | ".join(solvers) + " |", "|---|---|" + "---|" * len(solvers)]
    for g in groups:
        cells = []
        for s in solvers:
            r = results[s].get(g)
            cells.append("—" if r is None else f"{r['within_5px_median_removed']:.1f} ({r['within_5px']:.1f})")
        n = next(results[s][g]["n"] for s in solvers if g in results[s])
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    if timing:
        ms = [np.mean([r["ms_per_image"] for r in results[s].values()]) for s in solvers]
        lines.append("| ms per image (mean over sets) | | " + " | ".join(f"{v:.1f}" for v in ms) + " |")
    return "\n".join(lines) + "\n"


def write_results(out: Path, script: str, argv: list[str] | None, table: str, **fields) -> None:
    """``out`` (JSON: the command that made it, the machine, then ``fields``) and the markdown
    ``table`` beside it (``.md``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        **fields,
    }, indent=1) + "\n")
    out.with_suffix(".md").write_text(table)
    print(f"wrote {out} and {out.with_suffix('.md')}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="data/real", help="folder holding spc/ and npc/ (default: %(default)s)")
    p.add_argument("--peers", nargs="*", default=[], help="peer solvers to score too: names from peers.py, or all")
    p.add_argument("--model", help="model for our solver (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2, help="threads for every solver (default: %(default)s)")
    p.add_argument("--spc-split", default="val", choices=("train", "val"), help="spc split to score")
    p.add_argument("--sets", nargs="+", default=["spc", "npc"], choices=("spc", "npc"), help="which real sets")
    p.add_argument("--limit", type=int, help="score only the first N captchas of each group")
    p.add_argument("--audit", default=str(HERE / "label_audit.json"),
                   help="corrected npc labels, scored beside the published ones ('' for none; default: %(default)s)")
    p.add_argument("--out", default=str(HERE / "results" / "bench_real.json"))
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)  # every solver on the same cores (torch peers included)
    root = Path(args.root)
    groups = real_sets(root, args.spc_split, tuple(args.sets))
    if not groups:
        print(f"no real sets under {root}; nothing to score")
        return 1
    solvers = [Ours(args.model, args.threads)]
    for name in [n for arg in args.peers for n in arg.split(",") if n]:
        try:
            solvers += load_peers([name])
        except PeerUnavailable as err:
            print(f"note: peer {name} skipped: {err}")
    start = time.perf_counter()
    runs = {s.name: solve_all(s, groups, root, args.limit) for s in solvers}
    results = {name: summarise(r, groups) for name, r in runs.items()}
    table = markdown(results, list(groups))
    fixed = audited_sets(groups, root, Path(args.audit)) if args.audit else {}
    results_audited = {name: summarise({g: r[g] for g in fixed if g in r}, fixed) for name, r in runs.items()}
    if fixed:
        table += f"\nWith the audited labels of {Path(args.audit).name} (the sets it changes):\n\n" + \
            markdown(results_audited, list(fixed), timing=False)
    unseen, unseen_runs = held_out(groups, root, runs, args.limit)
    results_held_out = {name: summarise(r, unseen) for name, r in unseen_runs.items()}
    if unseen:
        what = "val, held out: each distinct image once, none that spc train holds" if args.spc_split == "val" \
            else "train, each distinct image once"
        table += f"\nspc {what}:\n\n" + markdown(results_held_out, list(unseen), timing=False)
    print(table)
    for s, per_group in results.items():
        for g, r in per_group.items():
            for f in r["failed"]:
                print(f"{s} | {g}: {f['file']} failed: {f['error']}")
    write_results(Path(args.out), "bench_real.py", argv, table, seconds=time.perf_counter() - start,
                  results=results, audit=os.path.relpath(args.audit) if args.audit else None,
                  results_audited=results_audited, results_held_out=results_held_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
