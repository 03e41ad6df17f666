"""Step 4: performance benchmarking of a version's real endpoint."""

from __future__ import annotations

import os
from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.complete_targets import complete_target
from modelreg.cli.output import Output, err, message, output_options
from modelreg.cli.output import out as stdout_console

BENCHMARK_FIELDS = (
    "run_id",
    "endpoint",
    "mode",
    "requests",
    "completed",
    "errors",
    "error_rate",
    "duration_s",
    "throughput_rps",
    "latency_ms",
    "ttft_ms",
    "itl_ms",
    "slo",
    "aborted",
    "histogram",
    "tokens",
    "counts_for_gate",
    "client",
    "workers",
    "achieved_rate_rps",
    "concurrency",
    "rate",
    "schedule_kept",
    "send_lag_ms",
    "started_at",
    "stream",
)
PAYLOAD_LIMIT = 16 * 1024 * 1024


def _headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    from modelreg.errors import InvalidInput

    pairs = []
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n") or any(c in content for c in "\r\n"):
            raise InvalidInput(f"--header {value[:60]!r}: expected 'Name: value'")
        pairs.append((name.strip(), content.strip()))
    return tuple(pairs)


@app.command(rich_help_panel="4. Performance benchmarking")
@output_options(BENCHMARK_FIELDS)
def benchmark(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL@VERSION.", autocompletion=complete_target),
    endpoint: Optional[str] = typer.Option(
        None,
        "--endpoint",
        help="URL to measure (default: the registered endpoint; only a run against it counts for the gate).",
    ),
    requests: Optional[int] = typer.Option(None, "--requests", "-n", help="Number of measured requests (default 100)."),
    duration: Optional[float] = typer.Option(
        None, "--duration", help="Run for this many seconds instead.", metavar="S"
    ),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="Closed loop: requests in flight."),
    rate: Optional[float] = typer.Option(
        None, "--rate", help="Open loop: requests per second on a fixed schedule.", metavar="R"
    ),
    warmup: int = typer.Option(0, "--warmup", help="Unmeasured requests first."),
    timeout: float = typer.Option(30.0, "--timeout", help="Per-request timeout, seconds.", metavar="S"),
    payload: Optional[str] = typer.Option(
        None,
        "--payload",
        help="Request body file, at most 16 MiB (default: a small chat request, or {} for json).",
        metavar="FILE",
    ),
    header: list[str] = typer.Option([], "--header", "-H", help="'Name: value'; repeatable (only names are recorded)."),
    api_key_env: Optional[str] = typer.Option(
        None, "--api-key-env", help="Read a bearer token from this environment variable.", metavar="NAME"
    ),
    stream: bool = typer.Option(
        False, "--stream", help="OpenAI-compatible SSE: time to first token and inter-token latency."
    ),
    max_error_rate: Optional[float] = typer.Option(
        None, "--max-error-rate", help="Highest error rate that passes (default: policy, 0.01)."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Processes generating the load, for endpoints faster than one process can drive; samples are merged exactly.",
        metavar="N",
    ),
    max_body: int = typer.Option(
        4 * 1024 * 1024,
        "--max-body",
        help="Most bytes read for one response (a body after decoding, or one stream event); more counts as the error body_too_large.",
        metavar="BYTES",
    ),
    no_record: bool = typer.Option(False, "--no-record", help="Measure only; record nothing."),
    out: Output = Output(),
) -> None:
    """Measure the endpoint against the version's SLO; a pass records the benchmark check (exit 6 when missed).

    Example: modelreg benchmark ms-advanced-reasoning@3.0.1 --requests 200 --concurrency 8
    """
    from modelreg.errors import InvalidInput
    from modelreg.targets import parse_target
    from modelreg.textfile import read_bytes

    parse_target(target)
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise InvalidInput(f"--api-key-env: environment variable {api_key_env} is not set")
    body = read_bytes(payload, "a request body", limit=PAYLOAD_LIMIT, stdin=False) if payload is not None else None
    from modelreg.cli.benchmark_view import make_progress, render_benchmark

    with open_registry(ctx) as reg, make_progress(err(), f"benchmark {target}") as progress:
        report = reg.benchmark(
            target,
            endpoint=endpoint,
            record=not no_record,
            on_progress=progress,
            requests=requests,
            duration_s=duration,
            concurrency=concurrency,
            rate=rate,
            warmup=warmup,
            timeout_s=timeout,
            payload=body,
            headers=_headers(header),
            api_key=api_key,
            stream=stream,
            max_error_rate=max_error_rate,
            workers=workers,
            max_body=max_body,
        )
    if out.is_json:
        out.json(report)
    else:
        render_benchmark(report, stdout_console())
    if report.get("aborted"):
        message(
            f"interrupted: {report['completed']} requests measured; recorded as aborted"
            if report["run_id"]
            else "interrupted: nothing was recorded"
        )
        raise typer.Exit(130)
    reg.raise_for_slo(report, target)
    if report["run_id"]:
        if report.get("counts_for_gate"):
            message(f"{target}: SLO met; benchmark run {report['run_id']} recorded (the benchmark check passed)")
        else:
            message(
                f"{target}: SLO met; benchmark run {report['run_id']} recorded against {report['endpoint']}, "
                "which is not the registered endpoint: it does not count for the gate"
            )
