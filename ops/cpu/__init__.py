"""CPU algorithms. Each module is one algorithm with forward / grad_input / grad_weight over a geometry."""
