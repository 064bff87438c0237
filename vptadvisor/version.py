"""The version of vptadvisor (one place; the package and results read it)."""

__version__ = "0.1.0"
