"""The generator's planted structure: what later models are expected to recover."""

import numpy as np
import pandas as pd
import pytest

from cvp.data.synthetic import DRIVERS, GeneratorConfig, generate


@pytest.fixture(scope="module")
def dataset():
    return generate(GeneratorConfig(customers=20_000, seed=11))


def test_same_seed_same_data_different_seed_different_data():
    a = generate(GeneratorConfig(customers=2_000, seed=3))
    b = generate(GeneratorConfig(customers=2_000, seed=3))
    c = generate(GeneratorConfig(customers=2_000, seed=4))
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)
    assert not a.tables["transactions"]["amount"].equals(c.tables["transactions"]["amount"])


def test_every_customer_has_a_first_purchase_and_no_activity_after_churn(dataset):
    tx = dataset.tables["transactions"]
    truth = dataset.ground_truth.set_index("source_customer_id")
    assert tx["source_customer_id"].nunique() == 20_000
    purchases = tx[~tx["is_refund"]].join(truth["churn_date"], on="source_customer_id")
    churned = purchases["churn_date"].notna()
    after = purchases.loc[churned, "ts"] > pd.to_datetime(
        purchases.loc[churned, "churn_date"]
    ) + pd.Timedelta(days=1)
    assert not after.any()


def test_heterogeneity_in_rate_and_spend(dataset):
    truth = dataset.ground_truth
    assert truth["purchase_rate"].quantile(0.9) / truth["purchase_rate"].quantile(0.1) > 5
    assert truth["spend_mean"].quantile(0.9) / truth["spend_mean"].quantile(0.1) > 3


def test_frequency_driver_thins_purchases_after_onset(dataset):
    tx = dataset.tables["transactions"]
    tx = tx[~tx["is_refund"]]
    truth = dataset.ground_truth
    customers = dataset.tables["customers"].set_index("source_customer_id")
    freq = truth[(truth["primary_driver"] == "declining_frequency") & truth["onset_date"].notna()]
    freq = freq.set_index("source_customer_id")
    onset = pd.to_datetime(freq["onset_date"])
    stop = pd.to_datetime(freq["churn_date"]).fillna(pd.Timestamp("2026-01-01"))
    signup = pd.to_datetime(customers.loc[freq.index, "signup_date"])
    mine = tx[tx["source_customer_id"].isin(freq.index)]
    mine_onset = mine["source_customer_id"].map(onset)
    before = (mine["ts"] < mine_onset).sum() / (onset - signup).dt.days.clip(lower=1).sum()
    after = (mine["ts"] >= mine_onset + pd.Timedelta(days=1)).sum() / (stop - onset).dt.days.clip(
        lower=1
    ).sum()
    assert after < 0.5 * before


def test_planted_signals_exist_for_each_driver(dataset):
    truth = dataset.ground_truth.set_index("source_customer_id")
    tickets = dataset.tables["support_tickets"]
    unresolved = tickets[tickets["resolved_at"].isna() & (tickets["category"] == "complaint")]
    owners = truth.loc[unresolved["source_customer_id"].unique(), "primary_driver"]
    assert (owners == "unresolved_complaints").all()
    surveys = dataset.tables["surveys"].join(truth["primary_driver"], on="source_customer_id")
    low = surveys[surveys["nps"] <= 4]
    assert (low["primary_driver"] == "low_nps").mean() > 0.85
    tx = dataset.tables["transactions"].join(truth["primary_driver"], on="source_customer_id")
    share = tx.assign(d=tx["discount"] > 0).groupby("primary_driver")["d"].mean()
    assert share["price_sensitivity"] > 1.5 * share.drop("price_sensitivity").max()
    assert set(truth["primary_driver"]) == set(DRIVERS)


def test_contractual_subset_and_subscription_ends_at_churn(dataset):
    truth = dataset.ground_truth.set_index("source_customer_id")
    assert 0.27 < truth["is_contractual"].mean() < 0.33
    subs = dataset.tables["subscriptions"].join(truth["churn_date"], on="source_customer_id")
    ended = subs["end_date"].notna()
    assert (subs.loc[ended, "end_date"] == subs.loc[ended, "churn_date"]).all()
    assert subs["end_date"].isna().sum() == subs["churn_date"].isna().sum()


def test_campaigns_have_control_arm_and_true_positive_uplift(dataset):
    touches = dataset.tables["marketing_touches"]
    assert 0.17 < (touches["arm"] == "control").mean() < 0.23
    truth = dataset.ground_truth.set_index("source_customer_id")
    assert truth["true_uplift"].between(0, 1).all()
    by_driver = truth.groupby("primary_driver")["true_uplift"].mean()
    assert by_driver["price_sensitivity"] > by_driver["unresolved_complaints"] * 3
    # treated customers churn less within 90 days of the touch than the control arm
    t = touches.join(truth["churn_date"], on="source_customer_id")
    churn = pd.to_datetime(t["churn_date"])
    t["churned_90d"] = (churn > t["ts"]) & (churn <= t["ts"] + pd.Timedelta(days=90))
    rates = t.groupby("arm")["churned_90d"].mean()
    assert rates["treatment"] < rates["control"]


def test_seasonality_peaks_in_the_holidays(dataset):
    tx = dataset.tables["transactions"]
    month = tx["ts"].dt.month
    per_month = month.value_counts().sort_index()
    assert per_month[12] > per_month[[2, 3]].mean()


def test_injected_errors_are_labelled():
    ds = generate(GeneratorConfig(customers=3_000, seed=5, inject_errors=True))
    classes = set(ds.injected_errors["error_class"])
    assert classes == {
        "negative_amount",
        "duplicate",
        "future_timestamp",
        "orphan_customer",
        "unknown_category",
    }
    tx = ds.tables["transactions"].set_index("transaction_id")
    neg = ds.injected_errors.query("error_class == 'negative_amount'")["record_id"]
    assert (tx.loc[neg, "amount"] < 0).all() and not tx.loc[neg, "is_refund"].any()
    orphans = ds.injected_errors.query("error_class == 'orphan_customer'")["record_id"]
    known = set(ds.tables["customers"]["source_customer_id"])
    assert not tx.loc[orphans, "source_customer_id"].isin(known).any()
    assert np.isfinite(tx["amount"]).all()


def test_activity_shift_thins_purchases_from_its_date_only():
    plain = generate(GeneratorConfig(customers=3_000, seed=5))
    shift = pd.Timestamp("2025-03-01")
    shifted = generate(GeneratorConfig(customers=3_000, seed=5, activity_shift_date=shift.date()))

    def split(frame):
        tx = frame.tables["transactions"]
        late = tx["ts"] >= shift
        return tx[~late].reset_index(drop=True), tx[late]

    (plain_before, plain_after), (shifted_before, shifted_after) = split(plain), split(shifted)
    pd.testing.assert_frame_equal(plain_before, shifted_before)  # nothing moves before the date
    customers = plain.tables["customers"]
    earlier = set(customers.loc[customers["signup_date"] < shift, "source_customer_id"])

    def purchases(tx):  # of customers whose signup-day purchase precedes the shift
        return tx["source_customer_id"].isin(earlier).sum()

    assert purchases(shifted_after) / purchases(plain_after) == pytest.approx(0.6, abs=0.02)
    # everyone still has their signup-day purchase; the truth is the pre-shift truth
    assert shifted.tables["transactions"]["source_customer_id"].nunique() == 3_000
    pd.testing.assert_frame_equal(plain.ground_truth, shifted.ground_truth)
    with pytest.raises(ValueError, match="activity_shift_factor"):
        generate(
            GeneratorConfig(
                customers=50, activity_shift_date=shift.date(), activity_shift_factor=1.5
            )
        )
