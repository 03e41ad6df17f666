"""JSON error answers: one shape for every error the API gives.

    {"error": {"code": "invalid_parameter", "message": "...", "parameter": "limit"}}

`parameter` is present when one query or path parameter is to blame. No
traceback or database detail ever goes into a body (they go to the log).
"""

from __future__ import annotations

import json

from modelreg.errors import ExitCode, ModelregError

JSON_TYPE = "application/json; charset=utf-8"

# library error (by exit code) -> (HTTP status, error code)
STATUS_OF_EXIT = {
    ExitCode.INVALID: (400, "invalid_input"),
    ExitCode.NOT_FOUND: (404, "not_found"),
    ExitCode.CONFLICT: (409, "conflict"),
    ExitCode.REFUSED: (403, "refused"),
    ExitCode.DATABASE: (503, "database_unavailable"),
}
DATABASE_UNAVAILABLE = "the registry database is unavailable; retry shortly"


def error_body(code: str, message: str, parameter: str | None = None) -> bytes:
    error = {"code": code, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return json.dumps({"error": error}, ensure_ascii=False, separators=(",", ":")).encode()


class ApiError(Exception):
    """An error answer raised inside a handler and rendered by the guard."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.code, self.message, self.parameter)


class BadParameter(ApiError):
    def __init__(self, parameter: str, message: str):
        super().__init__(400, "invalid_parameter", message, parameter=parameter)


def from_library(exc: ModelregError) -> ApiError:
    """A library error as an API error (database details stay in the log)."""
    status, code = STATUS_OF_EXIT.get(exc.exit_code, (500, "internal"))
    if status == 503:
        return ApiError(503, code, DATABASE_UNAVAILABLE, headers={"Retry-After": "1"})
    if status == 500:
        return ApiError(500, code, "unexpected error; the server log has the details")
    return ApiError(status, code, exc.message)
