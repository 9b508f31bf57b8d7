"""CPU algorithms. Each conv module is one algorithm with forward / grad_input / grad_weight over a geometry,
and supports() / cost() for ops.select; planes.py and cost_model.py hold what several of them share.

Importing this package sets BLAS to one thread (see ops.threads): the algorithms parallelise around it.
"""
from .. import threads

threads.claim_blas()
