"""Registered models as MLflow pyfuncs. Value models that are not a single LightGBM booster (the
hurdle model, the BTYD baseline) wrap an object with the booster's interface (`feature_name()`,
`predict(frame)`), so scoring and the promotion gate use any of them the same way through
`load_predictor`. The churn model is registered whole (`ChurnModel`): on a feature snapshot it
computes the BTYD features, runs the booster and applies the calibration, so the registry alone
returns what `cvp score` stores; its booster is also logged in the LightGBM flavour
(`runs:/<run id>/lightgbm`) for inspection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from cvp.models.calibration import Calibrator
from cvp.models.dataset import BTYD_FEATURES, add_btyd_features, feature_columns
from cvp.models.runs import PIP_REQUIREMENTS
from cvp.names import CHURN, MODEL_NAMES


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


class ChurnModel(PythonModel):
    """`cvp-churn` as one predictor: input the feature snapshot's columns of every customer of
    one date (`snapshot_columns()`), output the calibrated P(no purchase in the horizon).

    BG/NBD and Gamma-Gamma are population models: they are fitted on the input's customers, as
    `cvp score` fits them on the date's snapshot, so send a whole snapshot, not a few rows. The
    booster stays reachable (`predictor`, `booster`) for TreeSHAP reasons and the promotion
    gate, which compare raw scores."""

    def __init__(self, booster: lgb.Booster, calibrator: Calibrator, horizon_days: int) -> None:
        self.booster = booster
        self.calibrator = calibrator
        self.horizon_days = horizon_days

    @property
    def predictor(self) -> lgb.Booster:
        return self.booster

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        features = add_btyd_features(model_input, self.horizon_days)
        x = features[self.booster.feature_name()].astype("float64")
        return self.calibrator.apply(np.asarray(self.booster.predict(x)))


def snapshot_columns() -> list[str]:
    """The feature snapshot's columns the churn model reads (the BTYD ones it computes)."""
    return [c for c in feature_columns() if c not in BTYD_FEATURES]


def log_churn_model(
    booster: lgb.Booster, calibrator: Calibrator, snapshot: pd.DataFrame, horizon_days: int
) -> str:
    """Log the booster in the LightGBM flavour (`lightgbm`, not registered) and the whole
    predictor as the pyfunc registered as `cvp-churn`, with a signature on the snapshot's
    columns and an input example of feature values only (no customer ids)."""
    x = snapshot[booster.feature_name()].astype("float64")
    mlflow.lightgbm.log_model(
        booster,
        name="lightgbm",
        signature=infer_signature(x.head(100), booster.predict(x.head(100))),
        input_example=x.head(5),
        pip_requirements=PIP_REQUIREMENTS,
    )
    model = ChurnModel(booster, calibrator, horizon_days)
    inputs = snapshot[snapshot_columns()].astype("float64")
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        signature=infer_signature(inputs.head(100), model.predict(None, inputs)[:100]),
        input_example=inputs.head(5),
        registered_model_name=MODEL_NAMES[CHURN],
        pip_requirements=PIP_REQUIREMENTS,
    )
    return str(info.registered_model_version)


def load_churn_model(uri: str, calibration: Callable[[], Calibrator]) -> ChurnModel:
    """The registered churn model; a version registered before the pyfunc (a LightGBM flavour,
    calibration logged beside it) is wrapped with `calibration()` for its booster and
    calibrator only (its horizon is on its run, not in the model: 0 here)."""
    if "lightgbm" in mlflow.models.get_model_info(uri).flavors:
        return ChurnModel(mlflow.lightgbm.load_model(uri), calibration(), 0)
    model: ChurnModel = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    return model


def load_predictor(uri: str) -> Predictor:
    """A registered model as a predictor: the LightGBM booster itself, or what the pyfunc wraps."""
    flavors = mlflow.models.get_model_info(uri).flavors
    if "lightgbm" in flavors:
        booster: lgb.Booster = mlflow.lightgbm.load_model(uri)
        return booster
    wrapped = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    return wrapped.predictor
