"""Resolve in-process at scale (issue 15): `Registry.resolve` by model and
across models (by capability, by provider and capability), p50 and p95 of
--runs calls, beside the way the pick was made before revision 0007 (every
matching version loaded, the rule applied per model in Python; the pick
only, without the fallbacks and parameters a full resolve also reads) as a
reference: both must name the same version.

    python tests/benchmarks/bench_resolve.py [--versions 20000 --models 2000] [--backend sqlite|postgres|all]

Targets (issue 15): by capability at most 5 ms p50 at 20,000 versions over
2,000 approved models, and at most 10 ms at 1,000,000 versions.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_scale import CAPS_BROAD, CAPS_SELECTIVE, Backend, backends, build_registry, scale_arguments


def rule_over_every_model(reg, **filters):
    """The answer as computed before: every matching version as a row, `choose` per model."""
    from modelreg.catalog import filters as make_filters
    from modelreg.lifecycle import production
    from modelreg.lifecycle.status import RESOLVABLE, Status
    from modelreg.store import queries

    def work(session):
        where = make_filters(statuses=list(RESOLVABLE), **filters)
        matching: dict = {}
        for row in session.execute(queries.version_query(**where)).scalars():
            matching.setdefault(row.model_id, []).append(row)
        models = queries.models_by_id(session, matching)
        approved = {m for m, rows in queries.versions_of_models(session, matching, [Status.APPROVED]).items() if rows}
        picks = []
        for model_id, rows in matching.items():
            chosen = production.choose(rows, models[model_id].canary_version, model_has_approved=model_id in approved)
            if chosen is not None:
                picks.append(chosen)
        best = max(picks, key=lambda r: (r.status == Status.APPROVED, r.approved_at or "", r.model_id))
        return best.model_id, best.version

    return reg.read(work)


def timed(fn, runs: int) -> tuple[float, float, object]:
    answer = fn()  # warm: statement caches, page cache
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], answer


def main() -> int:
    parser = scale_arguments(__doc__.split("\n\n")[0], runs=50)
    parser.set_defaults(versions=20_000)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--reference-runs", type=int, default=5, help="runs of the old way (slow at scale)")
    args = parser.parse_args()
    from modelreg import Registry

    target = 5.0 if args.versions <= 20_000 else 10.0
    misses = 0
    for kind in backends(args.backend):
        home = Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
        backend = Backend(kind, home)
        try:
            info = build_registry(backend.url, args.versions, models=args.models)
            reg = Registry.open(backend.url) if kind == "postgres" else Registry.open(backend.url, actor="bench")
            try:
                cases = {
                    f"by model ({info['sample_model']})": {"model": info["sample_model"]},
                    f"capability {CAPS_SELECTIVE} (~1% of models)": {"capabilities": [CAPS_SELECTIVE]},
                    "capability summarization (~25%)": {"capabilities": ["summarization"]},
                    f"capability {CAPS_BROAD} (~90%)": {"capabilities": [CAPS_BROAD]},
                    "provider mindstudio + summarization": {
                        "provider": "mindstudio",
                        "capabilities": ["summarization"],
                    },
                }
                print(
                    f"\n== {kind}: Registry.resolve at {args.versions:,} versions over {info['models']:,} models "
                    f"({info['approved']:,} approved), {args.runs} calls each"
                )
                print(f"  {'query':<42} {'p50 ms':>8} {'p95 ms':>8} {'old pick p50':>12} {'x faster':>9}  verdict")
                for name, filters in cases.items():
                    p50, p95, got = timed(lambda f=filters: reg.resolve(**f), args.runs)
                    old50, _, old = timed(lambda f=filters: rule_over_every_model(reg, **f), args.reference_runs)
                    same = (got.model_id, got.version) == old
                    verdict = "-" if "by model" in name else ("PASS" if p50 * 1000 <= target else "MISS")
                    if not same:
                        verdict = f"WRONG (old way: {old})"
                    misses += verdict not in ("PASS", "-")
                    print(
                        f"  {name:<42} {p50 * 1000:>8.2f} {p95 * 1000:>8.2f} {old50 * 1000:>12.2f} "
                        f"{old50 / p50:>9.1f}  {verdict}"
                    )
                print(f"  target across models: p50 <= {target:g} ms")
            finally:
                reg.close()
        finally:
            backend.drop()
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
