"""The tensor-format core: formats, bases, the functional format and classical decompositions."""

from tensorkit.core.basis import Basis, IndexBasis
from tensorkit.core.cp import CPTensor
from tensorkit.core.dense import DenseTensor
from tensorkit.core.decompose import cp_als, hooi, hosvd, tt_svd, tucker_ranks_for_tol
from tensorkit.core.format import TensorFormat
from tensorkit.core.functional import FunctionalCP, FunctionalTucker
from tensorkit.core.sparse import SparseCells
from tensorkit.core.truncation import eps_rank
from tensorkit.core.tt import TTTensor
from tensorkit.core.tucker import TuckerTensor

FORMATS: dict[str, type[TensorFormat]] = {"dense": DenseTensor, "tucker": TuckerTensor, "cp": CPTensor, "tt": TTTensor}
"""The formats by name (what ``factorization=`` arguments accept); a new format registers here."""

__all__ = [
    "Basis",
    "CPTensor",
    "DenseTensor",
    "FORMATS",
    "FunctionalCP",
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
