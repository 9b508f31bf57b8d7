"""Batching NumPy arrays, and small datasets that need no download."""
from .datasets import load_digits, load_mnist1d
from .loader import DataLoader

__all__ = ["DataLoader", "load_digits", "load_mnist1d"]
