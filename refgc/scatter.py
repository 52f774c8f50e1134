"""Gather and scatter-add over the pairs of a graph, as autograd primitives.

Message passing needs two index operations on every layer:

* **gather** ``v[idx]``: copy an atom's row to each pair it takes part in, and
* **scatter-add** ``out[a] = sum_{p : idx[p] = a} v[p]``: sum pair rows onto atoms.

They are each other's adjoint, so each one's vector-Jacobian product is the other.
autograd's own gradient of ``v[idx]`` goes through ``np.add.at`` (slow), and traced
values cannot be scattered with ``np.add.at`` or ``np.bincount`` at all; so both are
defined here as primitives whose VJPs call the primitives again. That keeps every
derivative differentiable once more, which force training (a loss on ∂E/∂x) needs.

The scatter is a sparse (CSR) matrix product ``M @ v`` with ``M[a, p] = [idx[p] = a]``,
built once per index array: no dense one-hot matrix and no Python loop over pairs. On
CuPy it is ``cupyx.scipy.sparse``'s CSR product (cuSPARSE); a namespace without sparse
matrices (``array-api-strict``, which checks the generic code) gets ``M`` dense.
"""

import numpy as np
import scipy.sparse
from autograd.extend import defvjp, primitive

from .arrays import is_numpy, namespace, to_device

__all__ = ["Segments", "gather", "scatter_add"]


class Segments:
    """An index array ``idx`` (one atom per pair) and its ``(n_atoms, n_pairs)`` map, on the
    host (NumPy) or, from :meth:`to`, on another namespace's device."""

    def __init__(self, idx, n_atoms):
        self.idx = np.asarray(idx, dtype=np.intp)
        self.n_atoms = int(n_atoms)
        n_pairs = len(self.idx)
        self.matrix = scipy.sparse.csr_matrix(
            (np.ones(n_pairs), (self.idx, np.arange(n_pairs))), shape=(self.n_atoms, n_pairs)
        )
        self._matrices = {self.matrix.dtype: self.matrix}
        self._on = {}

    def to(self, xp):
        """These segments on ``xp``'s device (kept, so the map is built once)."""
        if is_numpy(xp):
            return self
        if xp not in self._on:
            self._on[xp] = _DeviceSegments(xp, self)
        return self._on[xp]

    def matrix_for(self, dtype):
        """The map with entries of ``dtype``: a float64 map would turn float32 sums into float64."""
        dtype = np.dtype(dtype)
        if dtype not in self._matrices:
            self._matrices[dtype] = self.matrix.astype(dtype)
        return self._matrices[dtype]


class _DeviceSegments:
    """:class:`Segments` on another namespace: the index array there, and the map as CuPy's
    CSR matrix, or dense where the namespace has no sparse matrices."""

    def __init__(self, xp, host):
        self.xp, self.n_atoms, self.host = xp, host.n_atoms, host
        self.idx = to_device(xp, host.idx)
        self._matrices = {}

    def to(self, xp):
        return self.host.to(xp)

    def matrix_for(self, dtype):
        if dtype not in self._matrices:
            m = self.host.matrix
            if "cupy" in self.xp.__name__:
                import cupyx.scipy.sparse

                self._matrices[dtype] = cupyx.scipy.sparse.csr_matrix(m.astype(np.dtype(dtype)))
            else:
                self._matrices[dtype] = to_device(self.xp, m.toarray(), dtype)
        return self._matrices[dtype]


@primitive
def gather(values, seg):
    """``values[seg.idx]``: (n_atoms, ...) -> (n_pairs, ...)."""
    xp = namespace(values)
    return np.take(values, seg.idx, axis=0) if is_numpy(xp) else xp.take(values, seg.idx, axis=0)


@primitive
def scatter_add(values, seg):
    """Sum of the rows of ``values`` (n_pairs, ...) onto their atoms -> (n_atoms, ...)."""
    return seg.matrix_for(values.dtype) @ values


defvjp(gather, lambda ans, values, seg: lambda g: scatter_add(g, seg))
defvjp(scatter_add, lambda ans, values, seg: lambda g: gather(g, seg))
