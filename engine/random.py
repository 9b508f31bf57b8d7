"""The engine's random numbers: one default NumPy Generator, reseeded by E.manual_seed.

Everything random (initialisation, dropout masks, shuffling) takes an optional
`generator` (a numpy.random.Generator) and falls back to the default one.
"""
import numpy as np

_default = [np.random.default_rng()]


def manual_seed(seed):
    """Reseed the default generator, making initialisation, dropout and shuffling repeatable; returns it."""
    _default[0] = np.random.default_rng(seed)
    return _default[0]


def generator_or_default(generator=None):
    if generator is None:
        return _default[0]
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return generator
