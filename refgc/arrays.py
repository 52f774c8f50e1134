"""Array namespaces: one code path for NumPy, CuPy and any array-API library.

The equations (:mod:`refgc.schnet`), their adjoints (:mod:`refgc.backward`) and the scatter
(:mod:`refgc.scatter`) take their functions from the namespace of the arrays they are
given (the `array API standard <https://data-apis.org/array-api/>`_, through
``array_api_compat``), so the same lines run on NumPy, on CuPy on a GPU, and under
``array-api-strict``, which refuses anything outside the standard and checks the code
without a GPU. NumPy arrays (and the values autograd traces) get ``autograd.numpy``,
the namespace refgc always used, so the NumPy path computes exactly what it computed
before; two NumPy forms are kept where the standard's would round differently
(:func:`rowdot`, :func:`dot`).

A *backend* names where an evaluation runs: ``"numpy"`` (the default), ``"cupy"``, or an
array-API namespace module such as ``array_api_strict``. Arrays go to the device once per
call (positions, existences; the parameters and the graph are kept there) and the results
come back to the host as float64, which is what scipy's L-BFGS-B and the files need.
"""

import autograd.numpy as anp
import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj, is_numpy_namespace
from autograd.numpy.numpy_boxes import ArrayBox

__all__ = ["namespace", "is_numpy", "rows", "rowdot", "dot", "constant", "backend_namespace", "to_device",
           "to_host", "BACKENDS", "BackendUnavailable"]

BACKENDS = ("numpy", "cupy")


class BackendUnavailable(RuntimeError):
    """``backend="cupy"`` on a machine where CuPy finds no GPU."""


def namespace(*arrays):
    """The namespace of ``arrays``: ``autograd.numpy`` for NumPy arrays and autograd's
    traced values, else the array-API namespace of their library."""
    if any(isinstance(a, (np.ndarray, np.generic, ArrayBox)) for a in arrays):
        return anp
    return array_namespace(*arrays)


def is_numpy(xp):
    return xp is anp or xp is np or is_numpy_namespace(xp)


def rows(table, idx):
    """``table[idx]`` along the first axis: plain indexing for NumPy and autograd (which
    differentiates it, not ``take``), ``take`` elsewhere."""
    xp = namespace(table)
    return table[idx] if is_numpy(xp) else xp.take(table, idx, axis=0)


def rowdot(a, b):
    """Σ_k a_pk b_pk, (P, K) x (P, K) -> (P,): ``einsum`` on NumPy, as refgc always summed it."""
    xp = namespace(a, b)
    return np.einsum("pk,pk->p", a, b) if is_numpy(xp) else xp.sum(a * b, axis=1)


def dot(a, b):
    """Σ_i a_i b_i of two vectors, a 0-d array."""
    xp = namespace(a, b)
    return np.dot(a, b) if is_numpy(xp) else xp.vecdot(a, b)


def constant(value, like):
    """``value`` (a host array or number) as an array of ``like``'s namespace, dtype and device."""
    xp = namespace(like)
    if is_numpy(xp):
        return np.asarray(value, dtype=like.dtype)
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def backend_namespace(backend):
    """The array namespace of ``backend`` (see the module docstring); a bad name, a missing
    CuPy or a machine without a GPU is one clear error."""
    if isinstance(backend, str):
        if backend == "numpy":
            return np
        if backend != "cupy":
            raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))} (or an array-API namespace), "
                             f"got {backend!r}")
        try:
            import cupy
        except ImportError:
            raise ValueError("backend='cupy' needs CuPy: pip install 'refgc[gpu]' (or a cupy-cudaXXx wheel)") from None
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as err:  # noqa: BLE001  (CUDA reports a missing driver in several ways)
            raise BackendUnavailable(f"backend='cupy': CuPy finds no usable GPU ({type(err).__name__}: {err})") from None
        if n == 0:
            raise BackendUnavailable("backend='cupy': CuPy finds no GPU on this machine")
        return array_namespace(cupy.empty(0))
    if hasattr(backend, "asarray") and is_array_api_obj(backend.asarray(0.0)):
        return backend
    raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))} (or an array-API namespace), "
                     f"got {backend!r}")


def to_device(xp, value, dtype=None):
    """A host array as an array of ``xp`` (float64 unless ``dtype``; integer arrays keep theirs)."""
    value = np.asarray(value)
    if dtype is None:
        dtype = np.int64 if value.dtype.kind in "iu" else np.float64
    if is_numpy(xp):
        return value.astype(dtype, copy=False)
    if isinstance(dtype, (str, np.dtype, type)):
        dtype = getattr(xp, np.dtype(dtype).name)
    return xp.asarray(value, dtype=dtype)


def to_host(value):
    """A float64 NumPy array of any namespace's array."""
    if isinstance(value, np.ndarray):
        return np.asarray(value, dtype=float)
    if hasattr(value, "get"):  # CuPy
        return np.asarray(value.get(), dtype=float)
    return np.asarray(np.from_dlpack(value) if hasattr(value, "__dlpack__") else value, dtype=float)
