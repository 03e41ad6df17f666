"""Endpoint benchmarks: load generation, exact statistics, SLO verdicts.

Library only: no database, no CLI framework. The CLI renders results with
modelreg.cli.benchmark_view.
"""

from modelreg.bench.runner import BenchmarkResult, ProgressCallback, _Run, drive
from modelreg.bench.settings import BenchmarkSettings
from modelreg.bench.slo import evaluate_slo


def run_benchmark(settings: BenchmarkSettings, on_progress: ProgressCallback | None = None) -> BenchmarkResult:
    """Run the benchmark described by ``settings`` and return what was measured:
    in this process, or split over ``settings.workers`` processes whose samples
    are merged exactly. Blocks until done; Ctrl-C returns the partial result with
    ``aborted=True``. Raises InvalidInput on invalid settings."""
    settings.validate()
    if settings.workers > 1:
        from modelreg.bench.workers import run_in_workers

        return run_in_workers(settings, on_progress)
    return drive(_Run(settings, on_progress))


__all__ = ["BenchmarkResult", "BenchmarkSettings", "evaluate_slo", "run_benchmark"]
