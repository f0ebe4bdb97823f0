"""Registered value models that are not a single LightGBM booster: the hurdle model and the BTYD
baseline. Both are logged as an MLflow pyfunc wrapping an object with the booster's interface
(`feature_name()`, `predict(frame)`), so scoring and the promotion gate use any of them the same
way through `load_predictor`."""

from __future__ import annotations

from typing import Any, Protocol

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from cvp.models.runs import PIP_REQUIREMENTS
from cvp.names import MODEL_NAMES


class Predictor(Protocol):
    """What scoring and the promotion gate need from a model; `lightgbm.Booster` is one."""

    def feature_name(self) -> list[str]: ...

    def predict(self, data: Any, /) -> Any: ...


class BtydValue:
    """The BTYD baseline as a value model: BG/NBD expected purchases x Gamma-Gamma expected spend
    (both computed per cutoff or scoring date by `cvp.models.dataset.add_btyd_features`)."""

    kind = "btyd"

    def feature_name(self) -> list[str]:
        return ["btyd_expected_purchases", "btyd_expected_spend"]

    def predict(self, data: pd.DataFrame, /, **kwargs: Any) -> np.ndarray:
        return (data["btyd_expected_purchases"] * data["btyd_expected_spend"]).to_numpy(float)


class PredictorModel(PythonModel):
    """The pyfunc around a predictor: input the predictor's feature columns, output its values."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        columns = self.predictor.feature_name()
        return np.asarray(self.predictor.predict(model_input[columns].astype("float64")))


def log_predictor(predictor: Predictor, x: pd.DataFrame, target: str) -> str:
    """Log as a pyfunc with signature and input example, registered under the target's name."""
    x = x[predictor.feature_name()]
    signature = infer_signature(x.head(100), np.asarray(predictor.predict(x.head(100))))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=PredictorModel(predictor),
        signature=signature,
        input_example=x.head(5),
        registered_model_name=MODEL_NAMES[target],
        pip_requirements=PIP_REQUIREMENTS,
    )
    return str(info.registered_model_version)


def load_predictor(uri: str) -> Predictor:
    """A registered model as a predictor: the LightGBM booster itself, or what the pyfunc wraps."""
    flavors = mlflow.models.get_model_info(uri).flavors
    if "lightgbm" in flavors:
        booster: lgb.Booster = mlflow.lightgbm.load_model(uri)
        return booster
    wrapped = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    return wrapped.predictor
