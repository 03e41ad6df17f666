"""modelreg: a governed model registry for AI model versions.

`from modelreg import Registry` loads the database stack on first use only,
so importing the package (and the CLI's --help) stays fast.
"""

from modelreg.version import __version__

__all__ = ["Registry", "__version__"]


def __getattr__(name):
    if name == "Registry":
        from modelreg.registry import Registry

        return Registry
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")
