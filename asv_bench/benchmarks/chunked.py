"""ops.dask.correlate against ops.correlate on one image held in memory: what chunking costs (the halo each
chunk recomputes, a task per chunk) and what it saves in peak memory. Needs dask (pip install -e ".[dask]")."""
import ops

from .backends import random, warm_up

# (image, kernel): the smoke pass's small shape, and a 4096^2 image with the example's 31x31 kernel
SHAPES = {"img512_k7": ((512, 512), (7, 7)), "img4096_k31": ((4096, 4096), (31, 31))}
CHUNKS = ["in-memory", "1024", "256"]


class ChunkedCorrelate:
    """'same' correlation; the chunked runs go through dask's threaded scheduler, one kernel thread per task."""
    params = [list(SHAPES), CHUNKS]
    param_names = ["shape", "chunks"]
    timeout = 300

    def setup(self, shape, chunks):
        image_shape, kernel_shape = SHAPES[shape]
        image, self.kernel = random(image_shape, 1), random(kernel_shape, 2)
        if chunks == "in-memory":
            self.image = image
            self.run = lambda: ops.correlate(self.image, self.kernel, "same")
        else:
            try:
                import dask.array as da

                import ops.dask as ops_dask
            except ImportError:
                raise NotImplementedError('dask is not installed (pip install -e ".[dask]")') from None
            ops.set_num_threads(1)  # dask's threads run the chunks side by side
            self.image = da.from_array(image, chunks=int(chunks))
            self.run = lambda: ops_dask.correlate(self.image, self.kernel, "same").compute(scheduler="threads")
        warm_up(self.run, f"correlate {shape} in chunks {chunks}")

    def time_correlate(self, shape, chunks):
        self.run()

    def peakmem_correlate(self, shape, chunks):
        self.run()
