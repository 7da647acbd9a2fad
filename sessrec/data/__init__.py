"""Session data: readers, preprocessing, prepared dataset folders, the synthetic demo."""

from sessrec.data.dataset import Dataset, find_datasets, load_dataset, write_dataset
from sessrec.data.sessions import ItemIndex, Sessions

__all__ = ["Dataset", "ItemIndex", "Sessions", "find_datasets", "load_dataset", "write_dataset"]
