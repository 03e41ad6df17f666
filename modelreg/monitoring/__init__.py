"""Monitoring and alerts (SPEC section 7).

Pure, database-free parts (a test proves they import no SQL):
    observations  parse ingested metric windows (JSON lines / CSV)
    drift         population stability index
    rules         alert rules -> AlertCandidate lists, severity helpers
    signing       HMAC-SHA256 webhook signatures
    webhooks      signed delivery with retries (httpx, imported lazily)
    prometheus    text exposition format 0.0.4

Over the registry (each function takes a session or a write transaction):
    ingest        store observation windows
    baselines     drift baselines (observed or pinned)
    advisories    security advisories: add, withdraw, list
    alerting      `alerts check`: evaluate, raise, dedupe, auto-resolve; list, ack, resolve
    delivery      deliver pending alert and lifecycle-event webhooks
    metrics       per-version gauges for Prometheus
"""
