"""vptadvisor: decide between Visual Prompt Tuning and full fine-tuning, with evidence."""

__version__ = "0.1.0"

__all__ = ["__version__"]
