"""Per-customer reasons: the features pushing churn risk up most (exact TreeSHAP contributions),
phrased with the customer's own numbers.

The contributions come from `woodelf-explainer` where it can read the model (numerical splits,
constant leaves): the same path-dependent TreeSHAP values as LightGBM's `pred_contrib` (a test
holds them within 1e-4 with the same top reasons) several times faster, which is what lets the
churn model be as deep as quality asks. `pred_contrib` stays the reference and the fallback.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from cvp.actions.playbook import MATCH_COLUMNS, Playbook, apply_playbook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReasonCode:
    family: str  # service, price, engagement, value, satisfaction, contract
    phrase: Callable[[float], str]


def _pct_change(ratio: float) -> str:
    if ratio != ratio:  # NaN
        return "purchases stopped compared with the previous 90 days"
    change = (ratio - 1) * 100
    if abs(change) < 0.5:
        return "purchases flat vs the previous 90 days"
    return f"purchases {'down' if change < 0 else 'up'} {abs(change):.0f}% vs the previous 90 days"


def _days(v: float, none: str, some: str) -> str:
    """`some` with the day count ("no purchase for {} days"), `none` under half a day."""
    n = int(round(v))
    return none if n == 0 else some.format("1 day" if n == 1 else f"{n:,} days")


def _of_previous(what: str) -> Callable[[float], str]:
    def phrase(v: float) -> str:
        if v < 0.005:
            return f"no {what} in the last 90 days, after some in the 90 before"
        return f"{what} at {v:.0%} of the previous 90 days"

    return phrase


def _count(noun: str, plural: str | None = None, rest: str = "") -> Callable[[float], str]:
    """ "no logins in the last 30 days", "1 login ...", "12 logins ...": a count read aloud."""
    many = plural or noun + "s"

    def phrase(v: float) -> str:
        n = int(round(v))
        text = f"no {many}" if n == 0 else f"1 {noun}" if n == 1 else f"{n:,} {many}"
        return f"{text}{rest}"

    return phrase


def _share(v: float) -> str:
    """A probability in words a retention agent reads: never "0%" or "100%" for a model's guess."""
    if v < 0.005:
        return "under 1%"
    if v > 0.995:
        return "over 99%"
    return f"{v:.0%}"


def _expected_purchases(v: float) -> str:
    if v < 0.05:
        return "no purchase expected next period"
    if v < 0.95:
        return f"less than one purchase expected next period ({v:.1f})"
    if v < 1.5:
        return "about one purchase expected next period"
    return f"only {v:.1f} purchases expected next period"


REASON_CODES: dict[str, ReasonCode] = {
    "recency_days": ReasonCode(
        "value", lambda v: _days(v, "last purchase today", "no purchase for {}")
    ),
    "frequency_trend_90d": ReasonCode("value", _pct_change),
    "spend_trend_90d": ReasonCode("value", _of_previous("spend")),
    "tx_count_90d": ReasonCode("value", _count("purchase", rest=" in the last 90 days")),
    "days_overdue": ReasonCode(
        "value",
        lambda v: _days(v, "due to buy by their usual rhythm", "{} overdue vs their usual rhythm"),
    ),
    "overdue_ratio": ReasonCode(
        "value", lambda v: f"{v:.1f}x their usual gap since the last purchase"
    ),
    "btyd_p_alive": ReasonCode(
        "value", lambda v: f"buying pattern gives {_share(v)} chance still active"
    ),
    "btyd_expected_purchases": ReasonCode("value", _expected_purchases),
    "btyd_p_no_purchase": ReasonCode(
        "value", lambda v: f"{_share(v)} chance of no purchase next period (BG/NBD)"
    ),
    "frequency": ReasonCode(
        "value",
        lambda v: "no purchase so far" if v < 0.5 else f"only {_count('purchase')(v)} so far",
    ),
    "unresolved_complaints": ReasonCode("service", _count("unresolved complaint")),
    "unresolved_tickets": ReasonCode("service", _count("open support ticket")),
    "tickets_90d": ReasonCode("service", _count("support ticket", rest=" in 90 days")),
    "resolution_days_mean": ReasonCode(
        "service",
        lambda v: (
            "tickets resolved within the day"
            if v < 0.5
            else f"tickets take {v:.1f} days to resolve"
        ),
    ),
    "discount_share": ReasonCode(
        "price",
        lambda v: (
            "never buys on discount" if v < 0.005 else f"buys on discount {v:.0%} of the time"
        ),
    ),
    "discount_mean": ReasonCode(
        "price", lambda v: "no discounts taken" if v < 0.005 else f"average discount {v:.0%}"
    ),
    "days_since_last_event": ReasonCode(
        "engagement", lambda v: _days(v, "app/web activity today", "no app/web activity for {}")
    ),
    "logins_30d": ReasonCode("engagement", _count("login", rest=" in the last 30 days")),
    "logins_90d": ReasonCode("engagement", _count("login", rest=" in the last 90 days")),
    "events_30d": ReasonCode("engagement", _count("app/web event", rest=" in the last 30 days")),
    "events_90d": ReasonCode("engagement", _count("app/web event", rest=" in the last 90 days")),
    "engagement_trend_90d": ReasonCode("engagement", _of_previous("activity")),
    "nps_latest": ReasonCode("satisfaction", lambda v: f"latest NPS answer {v:.0f}/10"),
    "csat_latest": ReasonCode("satisfaction", lambda v: f"latest CSAT {v:.0f}/5"),
    "nps_trend": ReasonCode("satisfaction", lambda v: f"NPS {v:+.0f} vs earlier answers"),
    "subscription_active": ReasonCode(
        "contract", lambda v: "no running subscription" if v < 1 else "subscription running"
    ),
    "days_to_renewal": ReasonCode("contract", lambda v: _days(v, "renewal today", "renewal in {}")),
    "subscription_tenure_days": ReasonCode(
        "contract", lambda v: _days(v, "subscribed today", "subscribed for {}")
    ),
}
FAMILY_BY_FEATURE_FAMILY = {
    "rfm": "value",
    "windows": "value",
    "trends": "value",
    "timing": "value",
    "breadth_price": "price",
    "engagement": "engagement",
    "service": "service",
    "satisfaction": "satisfaction",
    "campaign": "price",
    "subscription": "contract",
}


def reason_code(feature: str) -> ReasonCode:
    """The hand-written phrase, else the catalog description with the customer's value."""
    if feature in REASON_CODES:
        return REASON_CODES[feature]
    from cvp.features.build import catalog

    entry = next((f for f in catalog() if f.name == feature), None)
    if entry is None:
        label = feature.replace("_", " ")
        return ReasonCode("value", lambda v: f"{label} {v:,.2f}")
    family = FAMILY_BY_FEATURE_FAMILY.get(entry.family, "value")
    text = entry.description
    return ReasonCode(family, lambda v: f"{text}: {v:,.0f}")


def top_reasons(
    contributions: np.ndarray, features: pd.DataFrame, k: int = 3
) -> tuple[list[str], list[str]]:
    """For each row: up to k phrases (joined by '; ') and their families (comma-joined), from
    the features with the largest positive contribution to churn risk.

    Phrased a (rank, feature) at a time, once per distinct value: a million customers' reasons
    are three million phrases, and calling a phrase per row was about a tenth of scoring's time
    (cProfile at 100k customers)."""
    names = list(features.columns)
    codes = [reason_code(name) for name in names]
    values = features.to_numpy(dtype=float)
    # a missing value (no subscription, no surveys) is not something to tell a customer about
    usable = ~np.isnan(values) | (np.array(names) == "frequency_trend_90d")
    ranked = np.where(usable & (contributions > 0), contributions, -np.inf)
    k = min(k, ranked.shape[1])
    if k == 0 or not len(ranked):
        return [""] * len(ranked), [""] * len(ranked)
    order = _largest_first(ranked, k)
    # a rank is empty where nothing (else) pushes the risk up; empty ranks come last in a row
    present = np.isfinite(np.take_along_axis(ranked, order, axis=1))
    texts = np.full(len(order), "", dtype=object)
    joined = np.full(len(order), "", dtype=object)
    for rank in range(k):
        picks = np.where(present[:, rank], order[:, rank], -1)
        phrases = np.empty(len(picks), dtype=object)
        families = np.empty(len(picks), dtype=object)
        for j in np.unique(picks[picks >= 0]):
            rows = np.flatnonzero(picks == j)
            distinct, inverse = np.unique(values[rows, j], return_inverse=True)
            said = np.array([codes[j].phrase(v) for v in distinct], dtype=object)
            phrases[rows] = said[inverse]
            families[rows] = codes[j].family
        # joined here, not by pyarrow's binary_join_element_wise: in pyarrow 25 it drops a row
        # whose inputs are all null (skip mode) when that row comes first
        has = np.flatnonzero(picks >= 0)
        if rank == 0:
            texts[has], joined[has] = phrases[has], families[has]
        else:
            texts[has] = texts[has] + "; " + phrases[has]
            joined[has] = joined[has] + "," + families[has]
    return texts.tolist(), joined.tolist()


def _largest_first(ranked: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's k largest values, largest first, equal values in column order.

    A partial selection, not a sort of every feature of every row; only the rare rows whose k-th
    value is tied with a value left out are sorted in full, so ties never depend on the
    selection's internals (a chunk or a partition of the rows gets the same reasons)."""
    top = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(ranked, top, axis=1).min(axis=1)
    straddling = np.flatnonzero(np.isfinite(kth) & ((ranked >= kth[:, None]).sum(axis=1) > k))
    if len(straddling):
        top[straddling] = np.argsort(-ranked[straddling], axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(ranked, top, axis=1)
    # within the k: by value, largest first, then by column
    by_column = np.argsort(top, axis=1, kind="stable")
    top = np.take_along_axis(top, by_column, axis=1)
    picked = np.take_along_axis(picked, by_column, axis=1)
    return np.take_along_axis(top, np.argsort(-picked, axis=1, kind="stable"), axis=1)


# pred_contrib's working memory grows with the rows it gets: 100k rows at a time keeps 1M
# customers' contributions from existing at once. woodelf pays a fixed cost per call (about a
# second: it prepares its tables for the model's depth), so it gets bigger chunks.
EXPLAIN_CHUNK_ROWS = 100_000
# ranking makes several matrices of the rows' size (about 0.25 GB for 100k rows of 64 features)
# and each thread ranks its own chunk: 50k rows at a time
RANK_CHUNK_ROWS = 50_000
WOODELF_CHUNK_ROWS = 500_000
ShapMethod = Literal["woodelf", "pred_contrib"]


def shap_method(booster: lgb.Booster) -> ShapMethod:
    """`woodelf` when it is installed and can read the model exactly; else `pred_contrib`.

    woodelf reads LightGBM through treelite with numerical `<=` splits and constant leaves in
    mind: categorical splits and linear trees go to `pred_contrib`."""
    if not isinstance(booster, lgb.Booster):
        return "pred_contrib"  # anything else that answers `predict(..., pred_contrib=True)`
    try:
        import woodelf  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "pred_contrib"
    if booster.params.get("linear_tree"):
        return "pred_contrib"
    model = booster.dump_model()
    if model.get("pandas_categorical") or any(
        "==" in node.get("decision_type", "")
        for tree in model["tree_info"]
        for node in _split_nodes(tree["tree_structure"])
    ):
        return "pred_contrib"
    return "woodelf"


def _split_nodes(node: dict) -> list[dict]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if "split_index" in current:
            found.append(current)
            stack += [current["left_child"], current["right_child"]]
    return found


def contributions(
    booster: lgb.Booster,
    features: pd.DataFrame,
    method: ShapMethod | None = None,
    trees: object | None = None,
) -> np.ndarray:
    """Exact TreeSHAP contributions (rows x features, raw score, no bias column) of `features`
    (the model's own columns, in its order), a chunk of rows at a time: float32 from woodelf,
    which sums in float32 (a float64 copy would add memory, not digits), float64 from
    `pred_contrib`. `trees`: the booster already read by woodelf (`woodelf_trees`), so threads
    sharing it do not each read it again."""
    method = method or shap_method(booster)
    if method == "pred_contrib":
        return np.vstack(
            [
                np.asarray(
                    booster.predict(features.iloc[s : s + EXPLAIN_CHUNK_ROWS], pred_contrib=True)
                )[:, :-1]
                for s in range(0, len(features), EXPLAIN_CHUNK_ROWS)
            ]
            or [np.zeros((0, features.shape[1]))]
        )
    from woodelf import WoodelfExplainer

    # path-dependent (no background data), as pred_contrib
    explainer = WoodelfExplainer(booster if trees is None else trees)
    parts = [
        np.asarray(
            explainer.shap_values(
                _column_major(features.iloc[s : s + WOODELF_CHUNK_ROWS]), verbose=False
            ),
            dtype=np.float32,
        )
        for s in range(0, len(features), WOODELF_CHUNK_ROWS)
    ]
    if len(parts) == 1:
        return parts[0]  # no vstack copy of the one chunk
    return np.vstack(parts) if parts else np.zeros((0, features.shape[1]))


def woodelf_trees(booster: lgb.Booster, columns: list[str]) -> object:
    """The booster as woodelf's own tree ensemble (read through treelite): read once, then
    shared by the threads that explain, which only read it."""
    from woodelf.core.trees.parse_models import (  # type: ignore[import-untyped]
        load_decision_tree_ensemble_model,
    )

    return load_decision_tree_ensemble_model(booster, columns)


def _column_major(features: pd.DataFrame) -> pd.DataFrame:
    """The rows as float64 with each column contiguous in memory. woodelf compares one column
    with a threshold at every split of every tree; on the row-major matrix LightGBM predicts
    from, each of those comparisons strides across every row's 64 values, and woodelf took
    1.6-2x as long (100k rows, 169 trees, measured on the same matrix both ways)."""
    values = np.empty(features.shape, dtype=np.float64, order="F")
    for j in range(features.shape[1]):
        values[:, j] = features.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(values, index=features.index, columns=features.columns, copy=False)


def explain_threads() -> int:
    """How many threads `explain` uses: every core this process may run on, except inside a Dask
    worker, where each task gets one thread (the worker's own thread pool already runs one task
    per core it was given; two levels of threads would only fight over the same cores)."""
    try:
        from distributed import get_worker

        get_worker()
        return 1
    except (ImportError, ValueError):
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )


def explain(
    booster: lgb.Booster, features: pd.DataFrame, k: int = 3, threads: int | None = None
) -> tuple[list[str], list[str]]:
    """`top_reasons` from exact TreeSHAP (`contributions`), a chunk of rows at a time so the
    contribution matrix of a million customers never exists at once.

    With woodelf, the chunks run on `threads` threads (default `explain_threads()`): its work is
    numpy gathers and sums over the rows, which release the GIL, so on two cores the reasons,
    most of scoring's time in one process, ran 1.4-1.55x faster (the Python between those calls
    and the phrasing stay serial). The rows in flight stay at most
    `WOODELF_CHUNK_ROWS`, so memory does not grow with the threads. `pred_contrib` already runs on
    LightGBM's own threads."""
    method = shap_method(booster)
    threads = max(1, threads or explain_threads()) if method == "woodelf" else 1
    step = WOODELF_CHUNK_ROWS // threads if method == "woodelf" else EXPLAIN_CHUNK_ROWS
    # equal chunks, a multiple of the threads, so no thread is left alone with the last one
    count = -(-len(features) // step)
    count = -(-count // threads) * threads
    bounds = np.linspace(0, len(features), count + 1).astype(int)
    parts = [features.iloc[a:b] for a, b in itertools.pairwise(bounds) if b > a]

    trees = woodelf_trees(booster, list(features.columns)) if method == "woodelf" else None

    def explain_part(part: pd.DataFrame) -> tuple[list[str], list[str]]:
        contributed = contributions(booster, part, method, trees)
        texts: list[str] = []
        families: list[str] = []
        # ranked a slice at a time, so a woodelf chunk does not hold five copies of its
        # contributions at once
        for sub in range(0, len(part), RANK_CHUNK_ROWS):
            part_texts, part_families = top_reasons(
                contributed[sub : sub + RANK_CHUNK_ROWS],
                part.iloc[sub : sub + RANK_CHUNK_ROWS],
                k,
            )
            texts += part_texts
            families += part_families
        return texts, families

    if threads == 1 or len(parts) < 2:
        explained = [explain_part(part) for part in parts]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="cvp-explain") as pool:
            explained = list(pool.map(explain_part, parts))
    return (
        [text for texts, _ in explained for text in texts],
        [family for _, families in explained for family in families],
    )


AT_RISK_TIERS = ("high", "medium")


def acted_on(playbook: Playbook, scored: pd.DataFrame) -> np.ndarray:
    """Who needs reasons under `[scoring] reasons_for = "acted"`, one bool per row of `scored`
    (risk and value tiers and lifecycle stage known): the at-risk tiers (high and medium risk),
    everyone a rule that reads the reason family could match, and everyone whose action costs
    something (they may enter a budget plan). For the rest the reason family cannot change the
    playbook's choice, so their action is the same without reasons."""
    need = scored["risk_tier"].isin(AT_RISK_TIERS).to_numpy().copy()
    for rule in playbook.rules:
        if rule.match.reason_family == "*":
            continue
        hit = np.ones(len(scored), dtype=bool)
        for key, column in MATCH_COLUMNS.items():
            wanted = getattr(rule.match, key)
            if key != "reason_family" and wanted != "*":
                hit &= (scored[column] == wanted).to_numpy()
        need |= hit
    rest = np.flatnonzero(~need)
    if len(rest):
        columns = [c for c in MATCH_COLUMNS.values() if c != "reason_family"]
        unexplained = scored.iloc[rest][columns].assign(reason_family="value")
        need[rest] = (apply_playbook(playbook, unexplained)["unit_cost"] > 0).to_numpy()
    return need
