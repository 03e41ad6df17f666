"""The package's version, in a module of its own: the CLI, the HTTP client and
the server's OpenAPI document read it without importing the package's
`__init__` (which re-exports the library from above them)."""

__version__ = "0.1.0"
