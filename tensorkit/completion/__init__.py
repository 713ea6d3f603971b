"""Neural tensor completion with influence-guided data augmentation (DAIN, Oh et al., CIKM 2021).

Backbones (MLP, CoSTCo, CP, Tucker) share one interface (:mod:`~tensorkit.completion.models`);
training streams TracIn influence of the output layer (:mod:`~tensorkit.completion.training`);
influence is aggregated into entity importance, new cells are sampled and labelled by the selected
checkpoint (:mod:`~tensorkit.completion.augment`), and :class:`DAIN` runs the whole pipeline.
"""

from tensorkit.completion.arms import ARMS, compare_arms, mae, rmse, summarize
from tensorkit.completion.augment import cell_keys, label_cells, sample_cells, sampling_distribution
from tensorkit.completion.classical import masked_completion
from tensorkit.completion.data import CompletionFold, completion_fold, merge_repeated, read_tsv
from tensorkit.completion.estimator import DAIN
from tensorkit.completion.importance import entity_frequency, entity_importance
from tensorkit.completion.influence import cell_scores, validation_pass
from tensorkit.completion.models import CoSTCo, CompletionModel, CPModel, MLP, TuckerModel, build_model
from tensorkit.completion.training import TrainConfig, TrainResult, train_model

__all__ = [
    "ARMS",
    "compare_arms",
    "mae",
    "masked_completion",
    "rmse",
    "summarize",
    "CPModel",
    "CoSTCo",
    "CompletionFold",
    "CompletionModel",
    "DAIN",
    "MLP",
    "TrainConfig",
    "TrainResult",
    "TuckerModel",
    "build_model",
    "cell_keys",
    "cell_scores",
    "completion_fold",
    "entity_frequency",
    "entity_importance",
    "label_cells",
    "merge_repeated",
    "read_tsv",
    "sample_cells",
    "sampling_distribution",
    "train_model",
    "validation_pass",
]
