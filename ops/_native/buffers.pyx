# cython: language_level=3, boundscheck=False, wraparound=False
"""A NumPy memory handler (NEP 49) that keeps the data buffers of freed arrays and hands them to new arrays
of about the same size.

A training step allocates the same arrays at every step (activations, gradients,
packed operands). From the C library each large one is fresh memory: mapped
and page-faulted in at every step, or trimmed from the heap's top and taken
back (on a LeNet-5 step, about 4 of its 7 ms). Kept here, a buffer returns with
its pages mapped and often still in cache.

- Buffers of MIN_BYTES or more are kept when their array is freed, at most
  SLOTS of them and `limit` bytes in all; beyond that they go back to the C
  library, as smaller ones always do.
- A request takes a kept buffer of at least its size and at most an eighth
  more, the most recently kept first; else it gets a new one from the C library.
- Every buffer carries its size in a header of its own, so the handler never
  relies on the size NumPy passes when freeing.

The handler is NumPy's per context (install/restore); an array keeps the handler
that allocated it, so arrays made inside and freed outside still come back here.
NumPy allocates and frees only under the GIL; the lock is for free-threaded builds.
"""
from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock, PyThread_release_lock,
                               PyThread_type_lock, WAIT_LOCK)
from libc.stdint cimport SIZE_MAX
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset, strncpy

cimport numpy as cnp

cnp.import_array()

cdef enum:
    HEADER = 16  # bytes before the data, holding the block's size; 16 keeps malloc's alignment
    SLOTS = 256
    MIN_BYTES = 64 * 1024


cdef struct Slot:
    char* block
    size_t size


cdef Slot _slots[SLOTS]
cdef size_t _count = 0
cdef size_t _bytes = 0
cdef size_t _limit = 1 << 30
cdef PyThread_type_lock _lock = PyThread_allocate_lock()
cdef cnp.PyDataMem_Handler _handler


cdef inline void* _data(char* block, size_t size) noexcept nogil:
    (<size_t*>block)[0] = size
    return block + HEADER


cdef void* _take(size_t size) noexcept nogil:
    """A kept block for `size` bytes (NULL if none): the newest with size <= kept <= size * 9 / 8."""
    cdef Py_ssize_t i
    cdef char* block = NULL
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    global _count, _bytes
    for i in range(<Py_ssize_t>_count - 1, -1, -1):
        if size <= _slots[i].size <= size + size // 8:
            block = _slots[i].block
            _bytes -= _slots[i].size
            _count -= 1
            _slots[i] = _slots[_count]
            break
    PyThread_release_lock(_lock)
    return block


cdef void* _malloc(void* ctx, size_t size) noexcept nogil:
    cdef char* block = NULL
    if size > SIZE_MAX - HEADER:
        return NULL
    if size >= MIN_BYTES:
        block = <char*>_take(size)
        if block != NULL:
            return block + HEADER
    block = <char*>malloc(size + HEADER)
    return NULL if block == NULL else _data(block, size)


cdef void* _calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    cdef size_t size
    cdef char* block = NULL
    if elsize != 0 and nelem > (SIZE_MAX - HEADER) // elsize:
        return NULL
    size = nelem * elsize
    if size >= MIN_BYTES:
        block = <char*>_take(size)
        if block != NULL:
            memset(block + HEADER, 0, size)
            return block + HEADER
    # calloc's fresh pages come zeroed without a pass over them
    block = <char*>calloc(size + HEADER, 1)
    return NULL if block == NULL else _data(block, size)


cdef void* _realloc(void* ctx, void* ptr, size_t new_size) noexcept nogil:
    cdef char* block
    if ptr == NULL:
        return _malloc(ctx, new_size)
    if new_size > SIZE_MAX - HEADER:
        return NULL
    block = <char*>realloc(<char*>ptr - HEADER, new_size + HEADER)
    return NULL if block == NULL else _data(block, new_size)


cdef void _free(void* ctx, void* ptr, size_t size) noexcept nogil:
    global _count, _bytes
    if ptr == NULL:
        return
    cdef char* block = <char*>ptr - HEADER
    cdef size_t kept = (<size_t*>block)[0]
    if kept >= MIN_BYTES:
        PyThread_acquire_lock(_lock, WAIT_LOCK)
        if _count < SLOTS and _bytes + kept <= _limit:
            _slots[_count].block = block
            _slots[_count].size = kept
            _count += 1
            _bytes += kept
            block = NULL
        PyThread_release_lock(_lock)
    free(block)


strncpy(_handler.name, b"convref_buffer_cache", 127)
_handler.version = 1
_handler.allocator.ctx = NULL
_handler.allocator.malloc = _malloc
_handler.allocator.calloc = _calloc
_handler.allocator.realloc = _realloc
_handler.allocator.free = _free
_capsule = PyCapsule_New(&_handler, "mem_handler", NULL)


def install():
    """Make the cache NumPy's memory handler in the current context; returns the handler it replaces."""
    return cnp.PyDataMem_SetHandler(_capsule)


def restore(previous):
    """Put back the handler that install() returned."""
    cnp.PyDataMem_SetHandler(previous)


def clear():
    """Give every kept buffer back to the C library."""
    global _count, _bytes
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    while _count:
        _count -= 1
        free(_slots[_count].block)
    _bytes = 0
    PyThread_release_lock(_lock)


def cached_bytes():
    """Bytes held in kept buffers."""
    return _bytes


def set_limit(size_t limit):
    """Keep at most `limit` bytes (1 GiB at first); returns the previous limit. Lowering it frees nothing now."""
    global _limit
    previous, _limit = _limit, limit
    return previous
