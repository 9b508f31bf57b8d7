"""Cython extensions compiled at install (OpenMP, nogil). See setup.py for the build."""
