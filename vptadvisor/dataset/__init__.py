"""Datasets: find the images and labels of a dataset (layout) and read them safely (images)."""

from vptadvisor.dataset.layout import Dataset, Sample, open_dataset

__all__ = ["Dataset", "Sample", "open_dataset"]
