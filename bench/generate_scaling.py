"""How the cost of `generate` grows with the model: NetShop itself, and synthetic models 10x and 100x its size.

A synthetic model of factor k holds k copies of NetShop's services, datastores, sync edges, data
edges, exchanges and events (copy i>0 has `-r<i>` names, its own ports and `/r<i>` route paths), so
every copy is wired like the original and the whole model stays valid (schema and inspections are
checked before timing). Each repetition renders a freshly validated model, so the model's cached
lookups start cold, as they do in `netshop generate`.

    .venv/bin/python bench/generate_scaling.py [--sizes 1,10,100] [--repeat 5] [--budget 20]   (or: make bench-generate)

Prints which families ran (and how many files each produced), time per service at every size per
family and in total, and the growth ratios between sizes. Linear cost means a per-service ratio near 1.
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generators import FAMILIES  # noqa: E402
from model import parse  # noqa: E402
from model.inspections import inspect  # noqa: E402
from model.schema import NetShopModel  # noqa: E402
from netshop.pipeline import render  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / "model" / "netshop.yaml"
FIRST_COPY_PORT = 20000


def synthetic(data: dict, factor: int) -> dict:
    """`factor` copies of every service, datastore, edge, exchange and event; copy 0 is the original."""
    out = copy.deepcopy(data)
    port = FIRST_COPY_PORT
    for i in range(1, factor):
        sfx = f"-r{i}"
        names = {s["name"]: s["name"] + sfx for s in data["services"] + data["datastores"]}
        exchanges = {x["name"]: x["name"] + sfx for x in data["exchanges"]}
        rename_route = lambda ref: ref if ref in {"*", "public"} else ref.replace(" /", f" /r{i}/", 1)  # noqa: E731
        for s in data["services"]:
            c = copy.deepcopy(s)
            c["name"], c["port"], port = names[s["name"]], port, port + 1
            for r in c.get("routes", []):
                r["path"] = f"/r{i}{r['path']}"
            out["services"].append(c)
        for d in data["datastores"]:
            c = copy.deepcopy(d)
            c["name"], c["port"], port = names[d["name"]], port, port + 1
            out["datastores"].append(c)
        for e in data["sync_edges"]:
            out["sync_edges"].append(
                {**e, "caller": names[e["caller"]], "callee": names[e["callee"]], "routes": [rename_route(r) for r in e["routes"]]}
            )
        for e in data["data_edges"]:
            out["data_edges"].append({**e, "service": names[e["service"]], "datastore": names[e["datastore"]]})
        for x in data["exchanges"]:
            out["exchanges"].append({**x, "name": exchanges[x["name"]], "broker": names[x["broker"]], "dead_letter_exchange": x["dead_letter_exchange"] + sfx})
        for ev in data["events"]:
            c = copy.deepcopy(ev)
            c["name"], c["exchange"], c["producer"] = ev["name"] + sfx, exchanges[ev["exchange"]], names[ev["producer"]]
            for sub in c["subscriptions"]:
                sub["consumer"] = names[sub["consumer"]]
                sub["queue"] += sfx
                sub["dead_letter_queue"] += sfx
            out["events"].append(c)
    return out


def checked(data: dict, label: str) -> NetShopModel:
    loaded = parse(yaml.safe_dump(data, sort_keys=False), file=f"synthetic-{label}.yaml")
    problems = inspect(loaded)
    if problems:
        raise SystemExit(f"the {label} model is invalid:\n" + "\n".join(p.render() for p in problems[:10]))
    return loaded.model


def time_family(data: dict, family: str, repeat: int, budget: float) -> tuple[float, int, int, int]:
    """Median seconds of `render(model, only=[family])` on fresh models, with files, bytes and repetitions.

    Stops repeating once `budget` seconds are spent, so a family that grows badly stays measurable."""
    times: list[float] = []
    files: dict[str, bytes] = {}
    while len(times) < repeat and (not times or sum(times) < budget):
        model = NetShopModel.model_validate(data)
        gc.collect()
        start = time.perf_counter()
        files = render(model, only=[family])
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(files), sum(len(c) for c in files.values()), len(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10,100", help="model size factors, comma-separated (default 1,10,100)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions per family and size; the median is reported")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds after which a family stops repeating at a size")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    base = yaml.safe_load(MODEL.read_text())
    families = list(FAMILIES)

    results: dict[int, dict[str, tuple[float, int, int, int]]] = {}
    counts: dict[int, tuple[int, int, int]] = {}
    for k in sizes:
        data = synthetic(base, k)
        model = checked(data, f"{k}x")
        counts[k] = (len(model.services), len(model.datastores), len(model.edges))
        results[k] = {f: time_family(data, f, args.repeat, args.budget) for f in families}
        total = sum(r[0] for r in results[k].values())
        reps = ", ".join(f"{f} {r[3]}" for f, r in results[k].items())
        print(f"{k:>4}x: {counts[k][0]} services, {counts[k][1]} datastores, {counts[k][2]} edges; "
              f"render {total:.3f} s (median; repetitions: {reps})", flush=True)

    first = sizes[0]
    print("\nfamilies that ran (files and bytes at the NetShop size):")
    for f in families:
        _, n, size, _ = results[first][f]
        note = "" if n else "   <- registered but produces no files yet"
        print(f"  {f:<10} {FAMILIES[f]:<28} {n:>3} file(s) {size:>10,} bytes{note}")

    header = f"\n{'ms per service':<16}" + "".join(f"{f'{k}x':>12}" for k in sizes)
    print(header)
    for f in [*families, "total"]:
        row = f"  {f:<14}"
        for k in sizes:
            t = sum(v[0] for v in results[k].values()) if f == "total" else results[k][f][0]
            row += f"{t * 1000 / counts[k][0]:>12.3f}"
        print(row)

    print("\ngrowth (time ratio for the size ratio; per-service ratio 1.0 = linear):")
    for a, b in zip(sizes, sizes[1:]):
        svc_ratio = counts[b][0] / counts[a][0]
        for f in [*families, "total"]:
            ta = sum(v[0] for v in results[a].values()) if f == "total" else results[a][f][0]
            tb = sum(v[0] for v in results[b].values()) if f == "total" else results[b][f][0]
            if f != "total" and results[a][f][1] == 0:
                print(f"  {a}x -> {b}x  {f:<10} no files produced, nothing to compare")
                continue
            print(f"  {a}x -> {b}x  {f:<10} services x{svc_ratio:.0f}: time x{tb / ta:8.1f}, per service x{(tb / ta) / svc_ratio:6.2f}")


if __name__ == "__main__":
    main()
