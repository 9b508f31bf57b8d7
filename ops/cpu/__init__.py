"""CPU algorithms. Each module is one algorithm with forward / grad_input / grad_weight over a geometry.

Importing this package sets BLAS to one thread (see ops.threads): the algorithms parallelise around it.
"""
from .. import threads

threads.claim_blas()
