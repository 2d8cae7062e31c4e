"""Tests that legitimate simulated traffic looks like card traffic, not uniform noise."""

from __future__ import annotations

import polars as pl
import pytest
from sim_geo import with_previous_card_present

from fraudwatch.simulate import SimulationConfig, simulate


def _legit(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("is_fraud") == 0)


def test_night_is_quiet(default_frame: pl.DataFrame) -> None:
    """Check that an hour of the night (1-5 UTC) has under a quarter of a daytime hour's traffic."""
    hour = _legit(default_frame)["timestamp"].dt.hour()
    night = int(hour.is_between(1, 4).sum()) / 4
    day = int(hour.is_between(10, 17).sum()) / 8
    assert night < 0.25 * day


def test_weekend_mornings_start_later(default_frame: pl.DataFrame) -> None:
    """Check that a smaller share of weekend payments happens before 9 am than on weekdays."""
    df = _legit(default_frame).filter(pl.col("country") != "US")
    early = df["timestamp"].dt.hour().is_between(5, 8)
    weekend = df["timestamp"].dt.weekday() >= 6
    assert early.filter(weekend).mean() < 0.8 * early.filter(~weekend).mean()  # type: ignore[operator]


def test_sunday_is_quieter_for_groceries(default_frame: pl.DataFrame) -> None:
    """Check that grocery spending per Sunday is well below that per Saturday."""
    df = _legit(default_frame).filter(pl.col("merchant_category") == "5411")
    dow = df["timestamp"].dt.weekday()
    days = default_frame["timestamp"].dt.date()
    n_sat = days.filter(days.dt.weekday() == 6).n_unique()
    n_sun = days.filter(days.dt.weekday() == 7).n_unique()
    assert int((dow == 7).sum()) / n_sun < 0.7 * int((dow == 6).sum()) / n_sat


def test_category_amounts_differ(default_frame: pl.DataFrame) -> None:
    """Check that amounts follow the category: transport < grocery < electronics < airlines."""
    med = dict(
        _legit(default_frame)
        .group_by("merchant_category")
        .agg(pl.col("amount").median())
        .iter_rows()
    )
    assert med["4111"] < med["5411"] < med["5732"] < med["4511"]


def test_amounts_are_skewed(default_frame: pl.DataFrame) -> None:
    """Check that amounts have a long right tail (mean well above the median)."""
    amount = _legit(default_frame)["amount"]
    assert amount.mean() > 1.3 * amount.median()  # type: ignore[operator]


def test_cash_withdrawals_are_round(default_frame: pl.DataFrame) -> None:
    """Check that cash withdrawals are multiples of 20 in the local currency."""
    atm = default_frame.filter(pl.col("channel") == "atm")["amount"]
    assert ((atm % 20) == 0).all()


def test_customers_have_regular_shops(default_frame: pl.DataFrame) -> None:
    """Check that a card's card-present payments concentrate on a few favourite merchants."""
    cp = _legit(default_frame).filter(pl.col("channel") == "pos")
    per_card = (
        cp.group_by("card_id")
        .agg(pl.len().alias("n"), pl.col("merchant_id").n_unique().alias("shops"))
        .filter(pl.col("n") >= 30)
    )
    assert per_card.height > 100
    assert (per_card["shops"] / per_card["n"]).median() < 0.6  # type: ignore[operator]


def test_card_present_happens_near_home(default_frame: pl.DataFrame) -> None:
    """Check that most card-present payments of a card are in its most frequent country."""
    cp = _legit(default_frame).filter(pl.col("channel") != "ecom")
    top = (
        cp.group_by("card_id", "country")
        .len()
        .group_by("card_id")
        .agg((pl.col("len").max() / pl.col("len").sum()).alias("top_share"))
    )
    assert top["top_share"].mean() > 0.9  # type: ignore[operator]


def test_online_payments_use_few_devices(default_frame: pl.DataFrame) -> None:
    """Check that a card's online payments come from at most four devices of its holder."""
    online = _legit(default_frame).filter(pl.col("device_id").is_not_null())
    per_card = online.group_by("card_id").agg(pl.col("device_id").n_unique().alias("devices"))
    assert per_card["devices"].max() <= 4  # type: ignore[operator]
    assert per_card["devices"].median() <= 2  # type: ignore[operator]
    per_device = online.group_by("device_id").agg(pl.col("customer_id").n_unique())
    assert per_device["customer_id"].max() == 1


def test_online_addresses_are_stable(default_frame: pl.DataFrame) -> None:
    """Check that most online payments come from the customer's usual /16 network."""
    online = _legit(default_frame).filter(pl.col("ip_address").is_not_null())
    net = online.with_columns(net=pl.col("ip_address").str.extract(r"^(\d+\.\d+)\."))
    usual = (
        net.group_by("customer_id", "net")
        .len()
        .group_by("customer_id")
        .agg((pl.col("len").max() / pl.col("len").sum()).alias("top"))
    )
    assert usual["top"].median() >= 0.5  # type: ignore[operator]


def test_trips_exist_and_are_plausible(default_frame: pl.DataFrame) -> None:
    """Check that customers travel between cities, never faster than a plane."""
    moves = with_previous_card_present(default_frame)
    legit = moves.filter((pl.col("is_fraud") == 0) & (pl.col("prev_fraud") == 0))
    trips = legit.filter(pl.col("dist_km") > 200)
    assert trips["card_id"].n_unique() >= 100
    assert (trips["speed_kmh"] > 900).sum() == 0


def test_more_customers_more_transactions() -> None:
    """Check that the number of transactions grows about linearly with customers x days."""
    small = simulate(SimulationConfig(customers=200, days=10, seed=1, fraud_rate=0)).height
    large = simulate(SimulationConfig(customers=800, days=10, seed=1, fraud_rate=0)).height
    assert large / small == pytest.approx(4.0, rel=0.2)


def test_mean_daily_transactions_controls_volume() -> None:
    """Check that mean_daily_transactions sets the payments per customer and day."""
    cfg = SimulationConfig(customers=500, days=20, seed=2, fraud_rate=0, mean_daily_transactions=3)
    per_customer_day = simulate(cfg).height / (500 * 20)
    assert per_customer_day == pytest.approx(3.0, rel=0.15)


def test_new_cards_start_during_the_period() -> None:
    """Check that new_card_share makes cards whose first payment comes late in the period."""

    def late_share(share: float) -> float:
        cfg = SimulationConfig(customers=400, days=30, seed=3, fraud_rate=0, new_card_share=share)
        first = simulate(cfg).group_by("card_id").agg(pl.col("timestamp").min())["timestamp"]
        return float((first > cfg.start + (cfg.end() - cfg.start) / 2).mean())  # type: ignore[arg-type]

    assert late_share(0.5) > late_share(0.0) + 0.15
