"""Checking CUDA sources without a GPU: nvcc, NVRTC (the compiler CuPy uses), host builds."""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from landpulse.backend.gpu.cuda import NVRTC_OPTIONS, kernel_dir


def nvcc_path() -> str | None:
    return shutil.which("nvcc") or (os.path.exists("/usr/local/cuda/bin/nvcc") and "/usr/local/cuda/bin/nvcc") or None


def cuda_sources() -> list[Path]:
    return sorted(kernel_dir().glob("*.cu"))


def build_host_library(compiler: str, out_dir: Path, shim_name: str) -> ctypes.CDLL:
    """Compile tests/native/<shim_name> with ``compiler`` (g++ or nvcc) as a shared library."""
    shim = Path(__file__).parent / "native" / shim_name
    lib = out_dir / f"{Path(shim_name).stem}_{Path(compiler).name}.so"
    if Path(compiler).name.startswith("nvcc"):
        cmd = [compiler, "-x", "cu", "--shared", "-Xcompiler", "-fPIC,-ffp-contract=off", "-fmad=false",
               "-std=c++17", "-O2", f"-I{kernel_dir()}", str(shim), "-o", str(lib)]
    else:
        cmd = [compiler, "-shared", "-fPIC", "-O2", "-std=c++17", "-ffp-contract=off", "-fno-fast-math",
               f"-I{kernel_dir()}", str(shim), "-o", str(lib)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


def find_libnvrtc() -> str | None:
    """libnvrtc from the nvidia-cuda-nvrtc wheel (dev extra) or a CUDA toolkit, if any."""
    purelib = sysconfig.get_paths()["purelib"]
    patterns = [f"{purelib}/nvidia/*/lib/libnvrtc.so*", f"{purelib}/nvidia/cuda_nvrtc/lib/libnvrtc.so*",
                "/usr/local/cuda/lib64/libnvrtc.so*", "/usr/local/cuda/targets/*/lib/libnvrtc.so*"]
    for pattern in patterns:
        hits = sorted(p for p in glob.glob(pattern) if "builtins" not in p)
        if hits:
            return hits[0]
    return None


class NvrtcError(RuntimeError):
    pass


def nvrtc_compile(source: str, name: str, name_expressions: list[str], arch: str, lib_path: str) -> dict[str, str]:
    """Compile like ``cupy.RawModule(code=..., options=NVRTC_OPTIONS + -I, name_expressions=...)``.

    Returns the lowered (mangled) name of every expression; raises NvrtcError with the log.
    """
    nvrtc = ctypes.CDLL(lib_path)
    prog = ctypes.c_void_p()

    def check(status: int, what: str) -> None:
        if status != 0:
            nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
            raise NvrtcError(f"{what}: {nvrtc.nvrtcGetErrorString(status).decode()}")

    check(nvrtc.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None), "create")
    try:
        for expr in name_expressions:
            check(nvrtc.nvrtcAddNameExpression(prog, expr.encode()), f"name expression {expr}")
        opts = [*NVRTC_OPTIONS, f"-I{kernel_dir()}", f"--gpu-architecture={arch}"]
        arr = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        status = nvrtc.nvrtcCompileProgram(prog, len(opts), arr)
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(prog, log)
        if status != 0:
            raise NvrtcError(f"NVRTC failed to compile {name} for {arch}:\n{log.value.decode(errors='replace')}")
        lowered = {}
        for expr in name_expressions:
            out = ctypes.c_char_p()
            check(nvrtc.nvrtcGetLoweredName(prog, expr.encode(), ctypes.byref(out)), f"lowered name {expr}")
            lowered[expr] = out.value.decode()  # type: ignore[union-attr]
        return lowered
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))


def build_shared(compiler: str, source: Path, out_dir: Path, *, defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    """Compile one C++/CUDA source file for the host as a shared library (g++ or nvcc), no FMA."""
    lib = out_dir / f"{source.stem}_{Path(compiler).name}.so"
    flags = [f"-D{d}" for d in defines]
    if Path(compiler).name.startswith("nvcc"):
        cmd = [compiler, "-x", "cu", "--shared", "-Xcompiler", "-fPIC,-ffp-contract=off", "-fmad=false",
               "-std=c++17", "-O2", *flags, f"-I{kernel_dir()}", str(source), "-o", str(lib)]
    else:
        cmd = [compiler, "-x", "c++", "-shared", "-fPIC", "-O2", "-std=c++17", "-ffp-contract=off", "-fno-fast-math",
               *flags, f"-I{kernel_dir()}", str(source), "-o", str(lib)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return ctypes.CDLL(str(lib))
