"""Datasets and batching (torch.utils.data's names), and small datasets that need no download."""
from .dataset import Subset, TensorDataset, random_split
from .datasets import load_digits, load_mnist1d
from .loader import DataLoader

__all__ = ["DataLoader", "TensorDataset", "Subset", "random_split", "load_digits", "load_mnist1d"]
