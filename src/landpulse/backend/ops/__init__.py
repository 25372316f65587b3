"""Device-neutral preparation shared by the CPU and GPU kernel entries: input checks, host tables,
output allocation. Imports neither Numba nor CuPy, so both leaves (``backend.cpu``,
``backend.gpu``) build on it and neither imports the other."""
