# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""im2col / col2im: the packing that turns a convolution into one matrix product.

Every input is seen as 5-D (N, C, D, H, W); 1-D and 2-D convolutions are the
D = H = 1 (or D = 1) case, so one pair of loops serves all three.
cols has one row per (channel, kernel offset) and one column per (image,
output position): cols[(c, kz, ky, kx), (n, oz, oy, ox)] = x[n, c, iz, iy, ix]
with i = o * stride - pad + k * dilation, and 0 where i falls in the padding.
"""
from cython cimport floating
from cython.parallel cimport prange


def im2col(const floating[:, :, :, :, ::1] x, floating[:, ::1] cols,
           kernel, stride, pad, dilation, out_size):
    """Fill cols, shape (C * kd * kh * kw, N * Do * Ho * Wo), from x, shape (N, C, D, H, W)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t kd = kernel[0], kh = kernel[1], kw = kernel[2]
    cdef Py_ssize_t sd = stride[0], sh = stride[1], sw = stride[2]
    cdef Py_ssize_t pd = pad[0], ph = pad[1], pw = pad[2]
    cdef Py_ssize_t dd = dilation[0], dh = dilation[1], dw = dilation[2]
    cdef Py_ssize_t Do = out_size[0], Ho = out_size[1], Wo = out_size[2]
    cdef Py_ssize_t L = Do * Ho * Wo, rows = C * kd * kh * kw
    cdef Py_ssize_t task, row, n, c, kz, ky, kx, oz, oy, ox, iz, iy, ix, base
    if cols.shape[0] != rows or cols.shape[1] != N * L:
        raise ValueError(f"cols has shape {tuple(cols.shape)[:2]}, expected {(rows, N * L)}")
    for task in prange(rows * N, nogil=True, schedule="static"):
        row = task // N
        n = task % N
        kx = row % kw
        ky = (row // kw) % kh
        kz = (row // (kw * kh)) % kd
        c = row // (kw * kh * kd)
        for oz in range(Do):
            iz = oz * sd - pd + kz * dd
            for oy in range(Ho):
                iy = oy * sh - ph + ky * dh
                base = n * L + (oz * Ho + oy) * Wo
                if iz < 0 or iz >= D or iy < 0 or iy >= H:
                    for ox in range(Wo):
                        cols[row, base + ox] = 0
                    continue
                for ox in range(Wo):
                    ix = ox * sw - pw + kx * dw
                    if ix < 0 or ix >= W:
                        cols[row, base + ox] = 0
                    else:
                        cols[row, base + ox] = x[n, c, iz, iy, ix]


def col2im(const floating[:, ::1] cols, floating[:, :, :, :, ::1] x,
           kernel, stride, pad, dilation, out_size):
    """Add every entry of cols back onto the input position it was read from (x must start at zero).

    The adjoint of im2col; each (n, c) plane is owned by one thread, so there are no races.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t kd = kernel[0], kh = kernel[1], kw = kernel[2]
    cdef Py_ssize_t sd = stride[0], sh = stride[1], sw = stride[2]
    cdef Py_ssize_t pd = pad[0], ph = pad[1], pw = pad[2]
    cdef Py_ssize_t dd = dilation[0], dh = dilation[1], dw = dilation[2]
    cdef Py_ssize_t Do = out_size[0], Ho = out_size[1], Wo = out_size[2]
    cdef Py_ssize_t L = Do * Ho * Wo, rows = C * kd * kh * kw
    cdef Py_ssize_t task, row, n, c, kz, ky, kx, oz, oy, ox, iz, iy, ix, base
    if cols.shape[0] != rows or cols.shape[1] != N * L:
        raise ValueError(f"cols has shape {tuple(cols.shape)[:2]}, expected {(rows, N * L)}")
    for task in prange(N * C, nogil=True, schedule="static"):
        n = task // C
        c = task % C
        for kz in range(kd):
            for ky in range(kh):
                for kx in range(kw):
                    row = ((c * kd + kz) * kh + ky) * kw + kx
                    for oz in range(Do):
                        iz = oz * sd - pd + kz * dd
                        if iz < 0 or iz >= D:
                            continue
                        for oy in range(Ho):
                            iy = oy * sh - ph + ky * dh
                            if iy < 0 or iy >= H:
                                continue
                            base = n * L + (oz * Ho + oy) * Wo
                            for ox in range(Wo):
                                ix = ox * sw - pw + kx * dw
                                if ix >= 0 and ix < W:
                                    x[n, c, iz, iy, ix] += cols[row, base + ox]
