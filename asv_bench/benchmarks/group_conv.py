"""ops.p4_conv2d and its gradients (CPU only) on the p4 CNN of examples/rotation_equivariance.py, batch 32,
next to the plain conv2d of equal channel counts: what building the four turns into the layer costs."""
import ops

from .backends import random, warm_up

# name: (input shape, weight shape, padding); the group layer's input is the lifting layer's pooled output
P4 = {
    "p4lift_digits": ((32, 1, 8, 8), (8, 1, 3, 3), 1),
    "p4group_digits": ((32, 8, 4, 4, 4), (16, 8, 4, 3, 3), 1),
}


class P4Conv:
    """One p4 layer: forward, and forward + both gradients; 'plain' times conv2d with the unexpanded channels."""
    params = [list(P4), ["p4", "plain"]]
    param_names = ["shape", "layer"]

    def setup(self, shape, layer):
        input_shape, weight_shape, self.padding = P4[shape]
        if layer == "plain":  # the same channels without the rotation axis: (N, C, H, W), (K, C, k, k)
            input_shape = input_shape[:2] + input_shape[-2:]
            weight_shape = weight_shape[:2] + weight_shape[-2:]
            self.forward, self.grad_input, self.grad_weight = ops.conv2d, ops.conv2d_grad_input, ops.conv2d_grad_weight
        else:
            self.forward, self.grad_input, self.grad_weight = (ops.p4_conv2d, ops.p4_conv2d_grad_input,
                                                               ops.p4_conv2d_grad_weight)
        self.input_shape, self.weight_shape = input_shape, weight_shape
        self.x, self.w = random(input_shape, 1), random(weight_shape, 2)
        self.grad_out = random(self.forward(self.x, self.w, padding=self.padding).shape, 3)
        warm_up(self.run_forward_backward, f"{layer} layer {shape}")

    def run_forward_backward(self):
        self.forward(self.x, self.w, padding=self.padding)
        self.grad_input(self.grad_out, self.w, self.input_shape, padding=self.padding)
        self.grad_weight(self.x, self.grad_out, self.weight_shape, padding=self.padding)

    def time_forward(self, *params):
        self.forward(self.x, self.w, padding=self.padding)

    def time_forward_backward(self, *params):
        self.run_forward_backward()

