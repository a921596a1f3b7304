"""A morphable head fitted to the network's output: the ICT Face Model and :func:`fit_head`."""

from vrn_studio.headfit.fit import (
    DEFAULT_HEAD_FIT,
    HEAD_FITS,
    HeadFit,
    expression_rig,
    fit_head,
    prepare_head_model,
)
from vrn_studio.headfit.ict import ICT_PATH, IctModel, load_ict

__all__ = [
    "DEFAULT_HEAD_FIT", "HEAD_FITS", "ICT_PATH", "HeadFit", "IctModel", "expression_rig", "fit_head", "load_ict",
    "prepare_head_model",
]
