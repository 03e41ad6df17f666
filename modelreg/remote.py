"""A read-only registry over `modelreg serve`'s HTTP API (httpx).

    reg = Registry.open("http://registry.internal:8080")   # or MODELREG_DB=http://...
    reg.resolve(provider="mindstudio", capabilities=["text-generation"])

needs no database credentials. The reads (`find`, `find_models`, `resolve`,
`get_latest_approved`, `get_model`, `get_version`, `tree`, `history`,
`export_prometheus`) return the same objects as a database-backed Registry;
every other facade method raises `ReadOnlyRegistry` (exit 2) naming why.
`MODELREG_TOKEN` is sent as a bearer token, `MODELREG_CONSUMER` as
X-Modelreg-Consumer (who is resolving, for usage counts).

Errors map back to the library's: 400 -> InvalidInput (2), 404 -> NotFound
(3), 401/403 -> PolicyRefused (5), 503, other failures and an unreachable
server -> DatabaseError (7).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from modelreg.errors import Conflict, DatabaseError, ExitCode, InvalidInput, ModelregError, NotFound, PolicyRefused
from modelreg.version import __version__

PAGE = 1000  # the server's largest page
PAGING_ATTEMPTS = 3

# Facade methods that change the registry (the rest of the facade that is
# not implemented here is reads the API does not offer).
WRITE_METHODS = frozenset(
    {
        "write",
        "register",
        "register_document",
        "register_many",
        "set_labels",
        "unset_labels",
        "set_card",
        "review",
        "promote",
        "rollout",
        "rollback",
        "deprecate",
        "cancel_deprecation",
        "sweep",
        "record_benchmark",
        "benchmark",
        "set_fallbacks",
        "clear_fallbacks",
        "ingest_observations",
        "delete_windows",
        "pin_baseline",
        "check_alerts",
        "deliver_pending",
        "ack_alert",
        "resolve_alert",
        "add_advisory",
        "withdraw_advisory",
        "import_document",
        "set_policy",
        "apply_policy",
        "access",
        "redeliver_event",
        "deliver_events",
        "create_token",
        "revoke_token",
        "record_usage",
    }
)

# the Registry's reads this API does not offer (a test keeps this list complete)
NOT_OFFERED = frozenset(
    {
        "read",
        "audit_head",
        "verify_audit",
        "check_database",
        "raise_for_check",
        "access_list",
        "policy",
        "policy_history",
        "list_alerts",
        "alert_deliveries",
        "list_advisories",
        "show_fallbacks",
        "events",
        "export_document",
        "export_toml",
        "diff_document",
        "raise_for_slo",
        "list_tokens",
        "verify_token",
        "card",
        "lineage",
    }
)


class ReadOnlyRegistry(ModelregError):
    """A write (or a read the HTTP API does not offer) on an HTTP registry: exit 2, bad usage."""

    exit_code = ExitCode.INVALID


class RemoteRegistry:
    def __init__(
        self, url: str, config=None, *, token: str | None = None, consumer: str | None = None, timeout: float = 10.0
    ):
        import httpx

        self.url = url.rstrip("/")
        self.config = config
        headers = {"User-Agent": f"modelreg/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if consumer:
            headers["X-Modelreg-Consumer"] = consumer
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def open(cls, config) -> RemoteRegistry:
        return cls(
            config.database_url,
            config,
            token=os.environ.get("MODELREG_TOKEN") or None,
            consumer=os.environ.get("MODELREG_CONSUMER") or None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def actor(self) -> str | None:
        return self.config.actor if self.config is not None else None

    def __getattr__(self, name: str) -> Any:
        if name not in WRITE_METHODS and name not in NOT_OFFERED:
            raise AttributeError(name)
        if name in WRITE_METHODS:
            raise ReadOnlyRegistry(
                f"{self.url} is a read-only modelreg server: `{name}` needs the registry database "
                "(--db or MODELREG_DB set to sqlite:///... or postgresql+psycopg://...)"
            )
        raise ReadOnlyRegistry(
            f"`{name}` is not offered by the modelreg server at {self.url}: open the registry "
            "database instead (--db or MODELREG_DB)"
        )

    # -- transport -----------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None):
        import httpx

        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise DatabaseError(f"the modelreg server at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise DatabaseError(f"cannot reach the modelreg server at {self.url}: {exc}") from None
        if response.status_code == 200:
            return response
        raise self._error(response)

    def _error(self, response) -> ModelregError:
        status = response.status_code
        try:
            error = response.json()["error"]
            message, parameter = str(error["message"]), error.get("parameter")
        except (ValueError, KeyError, TypeError):
            message, parameter = f"HTTP {status} from {self.url}", None
        if parameter and message.startswith(f"query parameter {parameter!r}"):
            # say it the way the command line does: --max-p95, not 'max_p95'
            message = f"--{parameter.replace('_', '-')}" + message[len(f"query parameter {parameter!r}") :]
        if status == 400:
            return InvalidInput(message)
        if status == 404:
            return NotFound(message)
        if status in (401, 403):
            return PolicyRefused(f"{message} (set MODELREG_TOKEN)" if status == 401 else message)
        if status == 409:
            return Conflict(message)
        return DatabaseError(f"modelreg server at {self.url}: {message}")

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._get(path, params).json()

    @staticmethod
    def _query(**values: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or value == [] or value is False:
                continue
            out[name] = "true" if value is True else value
        return out

    # -- reads ---------------------------------------------------------------
    def find(
        self,
        *,
        provider=None,
        capabilities: Iterable[str] = (),
        status=None,
        stage=None,
        domain=None,
        residency=None,
        max_p95=None,
        max_cost=None,
        model=None,
        include_retired=False,
        labels: Iterable[str] = (),
        owner=None,
        base_model=None,
        used_by=None,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Versions matching every filter and the total, as Registry.find
        (pages through the API; restarts if the registry changes meanwhile)."""
        if limit is not None and limit < 0:
            raise InvalidInput("--limit takes a non-negative number (0: no limit)")
        wanted = limit or None
        query = self._query(
            provider=provider,
            capability=list(capabilities),
            status=status,
            stage=stage,
            domain=domain,
            residency=residency,
            max_p95=max_p95,
            max_cost=max_cost,
            model=model,
            include_retired=include_retired,
            label=list(labels),
            owner=owner,
            base_model=base_model,
            used_by=used_by,
        )
        for _ in range(PAGING_ATTEMPTS):
            rows: list[dict[str, Any]] = []
            seq = None
            offset = 0
            while True:
                size = PAGE if wanted is None else min(PAGE, wanted - len(rows))
                response = self._get("/v1/models", {**query, "limit": size, "offset": offset})
                page_seq = response.headers.get("X-Modelreg-Audit-Seq")
                if seq is not None and page_seq != seq:
                    break  # the registry changed between pages: start again
                seq = page_seq
                page = response.json()
                rows.extend(page["items"])
                if page["next_offset"] is None or (wanted is not None and len(rows) >= wanted):
                    return rows, page["total"]
                offset = page["next_offset"]
        raise Conflict(f"the registry at {self.url} kept changing while paging through the versions; retry")

    def find_models(self, **filters: Any) -> list[dict[str, Any]]:
        return self.find(**filters)[0]

    def resolve(
        self,
        *,
        model: str | None = None,
        provider: str | None = None,
        capabilities: Iterable[str] = (),
        domain: str | None = None,
        residency: str | None = None,
        key: str | None = None,
        prerelease: bool = False,
    ):
        from modelreg.routing import Resolution

        body = self._json(
            "/v1/resolve",
            self._query(
                model=model,
                provider=provider,
                capability=list(capabilities),
                domain=domain,
                residency=residency,
                key=key,
                prerelease=prerelease,
            ),
        )
        return Resolution(**body)

    def get_latest_approved(self, **filters: Any):
        """The guide's getLatestApproved: the same code path as `resolve`."""
        return self.resolve(**filters)

    @staticmethod
    def _model_path(model_id: str, version: str | None = None) -> str:
        path = f"/v1/models/{quote(model_id, safe='')}"
        return path if version is None else f"{path}/versions/{quote(version, safe='')}"

    def get_model(self, model_id: str) -> dict[str, Any]:
        return self._json(self._model_path(model_id))

    def get_version(self, model_id: str, version: str) -> dict[str, Any]:
        return self._json(self._model_path(model_id, version))

    def history(self, model_id: str, version: str | None = None) -> list[dict[str, Any]]:
        return self._json(self._model_path(model_id, version) + "/history")["items"]

    def tree(self, *, include_retired: bool = False) -> dict[str, dict[str, list[dict]]]:
        return self._json("/v1/tree", self._query(include_retired=include_retired))

    def deprecations(self) -> list[dict[str, Any]]:
        """Every DEPRECATED version with retire_on, days left and replacement."""
        return self._json("/v1/deprecations")["items"]

    def export_prometheus(self, path: str | None = None) -> str:
        text = self._get("/metrics").text
        if path is not None:
            from modelreg.textfile import write_output

            write_output(path, text, mode=0o644)
        return text
