"""Numba kernels: pure functions over contiguous float64 arrays (internal)."""
