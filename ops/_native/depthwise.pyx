# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The 'direct' algorithm's depthwise forward (conv_depthwise), which reads the input itself, masking the taps that
fall in the padding, and its per-pair weight gradients (conv_pairs_grad_weight), each plane padded into a
per-thread buffer as it is read (or read from a padded copy): sgemm.h's AVX-512 code, float32 only.
"""
from cython.parallel cimport prange, threadid

from .padding cimport Padding, _pad_plane, _padding
from .products cimport _fast, sg_depthwise, sg_depthwise_weight, sg_window


def conv_depthwise(const float[:, :, ::1] x, const float[:, ::1] w, const float[::1] bias, float[:, :, ::1] out,
                   in_size, out_size, kernel, dilation, pad, int threads):
    """out[n, c] (Do * Ho * Wo) = bias[c] + sum over taps t of w[c, t] * x[n, c] at the tap's place in each output's
    window: a stride-1 depthwise conv of x (N, C, D * H * W), unpadded (zeros stand for the `pad` cells before
    each of D, H, W and for those after), written in place. kernel, dilation and pad are 3-tuples; w (C, taps).
    One task per (image, channel, band of rows, stretch of columns): one image of one channel, such as a
    signal, still fills the threads."""
    cdef sg_window g
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], Ho = out_size[1], Wo = out_size[2], rows = out_size[0] * Ho
    cdef Py_ssize_t width = min(Wo, 4096), band = max(1, 4096 // Wo)
    cdef Py_ssize_t stretches = (Wo + width - 1) // width, bands = (rows + band - 1) // band
    cdef Py_ssize_t task, n, c, r0, c0, i
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    for i in range(3):
        g.input[i], g.output[i], g.kernel[i], g.dilation[i], g.pad[i] = in_size[i], out_size[i], kernel[i], dilation[i], pad[i]
    if x.shape[2] != g.input[0] * g.input[1] * g.input[2] or out.shape[2] != rows * Wo or w.shape[1] != g.kernel[0] * g.kernel[1] * g.kernel[2]:
        raise ValueError(f"x {tuple(x.shape)[:3]}, out {tuple(out.shape)[:3]} or w {tuple(w.shape)[:2]} do not "
                         f"match the planes {tuple(in_size)} -> {tuple(out_size)} and kernel {tuple(kernel)}")
    for task in prange(N * C * bands * stretches, nogil=True, schedule="static", num_threads=threads):
        n = task // (C * bands * stretches)
        c = (task // (bands * stretches)) % C
        r0 = ((task // stretches) % bands) * band
        c0 = (task % stretches) * width
        sg_depthwise(&g, <int>r0, <int>min(band, rows - r0), <int>c0, <int>min(width, Wo - c0), &w[c, 0], &x[n, c, 0],
                     bias[c], &out[n, c, 0])


def conv_pairs_grad_weight(const float[:, :, :, ::1] x, const float[:, :, ::1] grad_out, const Py_ssize_t[::1] offsets,
                           float[:, ::1] grad_w, Py_ssize_t groups, lows, padded, out_size, float[:, ::1] work,
                           int threads):
    """grad_w[k, c * T + t] = sum over n and outputs of grad_out[n, k] * xp[n, group(k) * Cg + c] at offsets[t] from
    the output's window, xp the input zero-padded as pad_planes(x, lows, (1, 1) + padded) does: the weight
    gradient of a stride-1 conv as one correlation per (filter, channel) pair, for few pairs (depthwise, first
    layers). x (N * C, D, H, W), grad_out (N, K, Do * Ho * Wo). One task per pair, which owns its taps of grad_w.

    With work (threads, padded volume + slack), each task pads its planes into its thread's row of work just
    before reading them, so a padded copy of the input is never written out whole (depthwise convs, which
    read each plane once); with work of no rows, x must be that padded copy, as (N * C, 1, 1, volume)
    (convs whose pairs share planes)."""
    cdef Py_ssize_t N = grad_out.shape[0], C = x.shape[0] // N, Cg = C // groups, K = grad_out.shape[1]
    cdef Py_ssize_t Kg = K // groups, T = offsets.shape[0], Hp = padded[1], Wp = padded[2]
    cdef Py_ssize_t Do = out_size[0], Ho = out_size[1], Wo = out_size[2], pair, k, c, n, p
    cdef bint pad_here = work.shape[0] > 0
    cdef Padding q
    cdef const float* plane
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    if pad_here:
        if work.shape[0] < threads:
            raise ValueError(f"work has {work.shape[0]} rows for {threads} threads")
        q = _padding((x.shape[1], x.shape[2], x.shape[3]), lows, (1, 1) + tuple(padded), work.shape[1])
    for pair in prange(K * Cg, nogil=True, schedule="dynamic", num_threads=threads):
        k = pair // Cg
        c = pair % Cg
        for n in range(N):
            p = n * C + (k // Kg) * Cg + c
            if pad_here:
                _pad_plane(&x[p, 0, 0, 0], &work[threadid(), 0], &q)
                plane = &work[threadid(), 0]
            else:
                plane = &x[p, 0, 0, 0]
            sg_depthwise_weight(<int>(Do * Ho), <int>Wo, <int>Ho, Hp * Wp, Wp, Wo, <int>T, &grad_out[n, k, 0],
                                <const ptrdiff_t*>&offsets[0], plane, &grad_w[k, c * T])
