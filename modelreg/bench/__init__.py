"""Endpoint benchmarks: load generation, exact statistics, SLO verdicts.

Library only: no database, no CLI framework. The CLI renders results with
modelreg.cli.benchmark_view.
"""

from modelreg.bench.runner import BenchmarkResult, run_benchmark
from modelreg.bench.settings import BenchmarkSettings
from modelreg.bench.slo import evaluate_slo

__all__ = ["BenchmarkResult", "BenchmarkSettings", "evaluate_slo", "run_benchmark"]
