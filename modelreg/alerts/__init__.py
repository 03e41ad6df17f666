"""Monitoring and alerts: the pure (database-free) pieces.

observations  parse ingested metric windows (JSON lines / CSV)
drift         population stability index
rules         alert rules -> AlertCandidate lists, severity helpers
advisories    PEP 440 affected ranges against SemVer versions
signing       HMAC-SHA256 webhook signatures
webhooks      signed delivery with retries (httpx, imported lazily)
prometheus    text exposition format 0.0.4 and atomic file writes

Nothing here imports typer, rich, sqlmodel or sqlalchemy.
"""
