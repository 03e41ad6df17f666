"""Step 4: performance benchmarking of a version's real endpoint."""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from modelreg.cli import app, open_registry
from modelreg.cli.complete_targets import complete_target
from modelreg.cli.output import emit_json, err, message, out


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
def benchmark(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL@VERSION.", autocompletion=complete_target),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="URL to measure (default: the registered endpoint)."),
    requests: Optional[int] = typer.Option(None, "--requests", "-n", help="Number of measured requests (default 100)."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Run for this many seconds instead.", metavar="S"),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="Closed loop: requests in flight."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Open loop: requests per second on a fixed schedule.", metavar="R"),
    warmup: int = typer.Option(0, "--warmup", help="Unmeasured requests first."),
    timeout: float = typer.Option(30.0, "--timeout", help="Per-request timeout, seconds.", metavar="S"),
    payload: Optional[str] = typer.Option(None, "--payload", help="Request body file (default: a small chat request, or {} for json).", metavar="FILE"),
    header: List[str] = typer.Option([], "--header", "-H", help="'Name: value'; repeatable."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Read a bearer token from this environment variable.", metavar="NAME"),
    stream: bool = typer.Option(False, "--stream", help="OpenAI-compatible SSE: time to first token and inter-token latency."),
    max_error_rate: Optional[float] = typer.Option(None, "--max-error-rate", help="Highest error rate that passes (default: policy, 0.01)."),
    no_record: bool = typer.Option(False, "--no-record", help="Measure only; record nothing."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Measure the endpoint against the version's SLO; a pass records the benchmark check (exit 6 when missed).

    Example: modelreg benchmark ms-advanced-reasoning@3.0.1 --requests 200 --concurrency 8
    """
    from modelreg.bench import BenchmarkSettings, evaluate_slo, run_benchmark
    from modelreg.errors import ExitCode, InvalidInput
    from modelreg.targets import parse_target

    model_id, version = parse_target(target)
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise InvalidInput(f"--api-key-env: environment variable {api_key_env} is not set")
    body = None
    if payload is not None:
        try:
            with open(payload, "rb") as fh:
                body = fh.read()
        except OSError as exc:
            raise InvalidInput(f"--payload {payload}: {exc.strerror}") from None
    with open_registry(ctx) as reg:
        row = reg.get_version(model_id, version)
        url = endpoint or row["endpoint"]
        if not url:
            raise InvalidInput(f"{target} has no registered endpoint; pass --endpoint URL")
        limit = reg.policy.max_error_rate if max_error_rate is None else max_error_rate
        settings = BenchmarkSettings(
            endpoint=url, endpoint_kind=row["endpoint_kind"] or "openai-chat", requests=requests, duration_s=duration,
            concurrency=concurrency, rate=rate, warmup=warmup, timeout_s=timeout, payload=body, headers=_headers(header),
            api_key=api_key, stream=stream, max_error_rate=limit)
        settings.validate()
        started = reg_now()
        from modelreg.cli.benchmark_view import make_progress, render_benchmark
        with make_progress(err(), f"benchmark {target}") as progress:
            result = run_benchmark(settings, on_progress=progress)
        data = result.to_dict()
        data["slo"] = evaluate_slo(data, row["performance"]["avg_latency_ms"], row["performance"]["p95_latency_ms"], limit)
        data["run_id"] = None
        if not no_record:
            data["run_id"] = reg.record_benchmark(target, endpoint=settings.to_record()["endpoint"],
                                                  settings=settings.to_record(), results=data,
                                                  passed=data["slo"]["passed"], aborted=result.aborted,
                                                  started_at=started)
    data = {"run_id": data.pop("run_id"), **data}
    if json_out:
        emit_json(data)
    else:
        render_benchmark(data, out())
    if result.aborted:
        message(f"interrupted: {data['completed']} requests measured; recorded as aborted" if data["run_id"] else "interrupted")
        raise typer.Exit(130)
    if not data["slo"]["passed"]:
        failed = [c["name"] for c in data["slo"]["checks"] if not c["passed"]]
        message(f"{target}: SLO missed ({', '.join(failed) or 'no successful requests'})")
        raise typer.Exit(int(ExitCode.SLO_MISSED))
    if data["run_id"]:
        message(f"{target}: SLO met; benchmark run {data['run_id']} recorded (the benchmark check passed)")


def reg_now() -> str:
    from modelreg.registry import now_stamp
    return now_stamp()
