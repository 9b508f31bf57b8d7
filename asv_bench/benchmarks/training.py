"""One LeNet-5 training step through engine (forward, backward, SGD update), per backend."""
import importlib

import numpy as np

from .backends import BACKENDS, best_seconds, random, require_backend, synchronize, warm_up
from .shapes import LENET_BATCH, LENET_CLASSES, lenet5


def _engine():
    """engine with its nn and optim layers loaded, or a skip while they are not built yet."""
    import engine
    for layer in ("engine.nn", "engine.optim"):
        try:
            importlib.import_module(layer)
        except ModuleNotFoundError as missing:
            if missing.name != layer:
                raise
            raise NotImplementedError(f"{layer} does not exist yet") from None
    return engine


class LeNet5Step:
    """Batch 64 of 1x28x28 images; SGD with momentum, as the examples train."""
    params = [BACKENDS]
    param_names = ["backend"]

    def setup(self, backend):
        require_backend(backend)
        E = _engine()
        E.manual_seed(0)
        self.backend, self.E = backend, E
        self.model = lenet5(E.nn).to(backend)
        self.optimizer = E.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.images = E.tensor(random(LENET_BATCH), device=backend)
        labels = np.random.default_rng(0).integers(0, LENET_CLASSES, LENET_BATCH[0])
        self.labels = E.tensor(labels, device=backend)
        warm_up(self.run_step, f"LeNet-5 training step on {backend}")

    def run_step(self):
        self.optimizer.zero_grad()
        loss = self.E.functional.cross_entropy(self.model(self.images), self.labels)
        loss.backward()
        self.optimizer.step()
        synchronize(self.backend)

    def time_step(self, backend):
        self.run_step()

    def peakmem_step(self, backend):
        self.run_step()

    def track_steps_per_second(self, backend):
        return 1 / best_seconds(self.run_step)
    track_steps_per_second.unit = "steps/s"
