"""Builds the Cython extensions in ops/_native with OpenMP; all metadata lives in setup.cfg."""
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

openmp = ["/openmp"] if sys.platform == "win32" else ["-fopenmp"]
# the kernel modules, which share products.pxd (sgemm.h's API and the fast_sgemm switch)
kernels = ["products", "gemm", "implicit", "depthwise", "winograd", "matmul", "padding"]
extensions = [
    Extension(
        f"ops._native.{name}",
        [f"ops/_native/{name}.pyx"],
        include_dirs=[numpy.get_include(), "ops/_native"],
        depends=["ops/_native/products.pxd", "ops/_native/padding.pxd", "ops/_native/sgemm.h",
                 "ops/_native/winograd.h"],
        extra_compile_args=openmp + ["-O3"] + ([] if sys.platform == "win32" else ["-fno-tree-loop-distribute-patterns"]),
        extra_link_args=[] if sys.platform == "win32" else openmp,
    )
    for name in kernels
] + [
    Extension("ops._native.buffers", ["ops/_native/buffers.pyx"], include_dirs=[numpy.get_include()],
              extra_compile_args=[] if sys.platform == "win32" else ["-O2"]),
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": 3}))
