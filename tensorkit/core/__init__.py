"""The tensor-format core: formats, bases, the functional format and classical decompositions."""

from tensorkit.core.basis import Basis, IndexBasis
from tensorkit.core.cp import CPTensor
from tensorkit.core.decompose import cp_als, eps_rank, hooi, hosvd, tt_svd, tucker_ranks_for_tol
from tensorkit.core.format import TensorFormat
from tensorkit.core.functional import FunctionalTucker
from tensorkit.core.sparse import SparseCells
from tensorkit.core.tt import TTTensor
from tensorkit.core.tucker import TuckerTensor

__all__ = [
    "Basis",
    "CPTensor",
    "FunctionalTucker",
    "IndexBasis",
    "SparseCells",
    "TTTensor",
    "TensorFormat",
    "TuckerTensor",
    "cp_als",
    "eps_rank",
    "hooi",
    "hosvd",
    "tt_svd",
    "tucker_ranks_for_tol",
]
