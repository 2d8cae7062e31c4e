"""Tests that each fraud archetype appears with its share and shows its signature."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from sim_geo import with_previous_card_present

from fraudwatch.simulate import SCENARIOS, SimulationConfig, scenario_stats, simulate

PLANE_KMH = 900.0


def _rows(df: pl.DataFrame, scenario: str) -> pl.DataFrame:
    return df.filter(pl.col("fraud_scenario") == scenario)


def test_shares_follow_configuration(
    fraud_config: SimulationConfig, fraud_frame: pl.DataFrame
) -> None:
    """Check that each archetype's share of fraud is within 4 points of its configured share."""
    stats = scenario_stats(fraud_frame)
    got = dict(zip(stats["fraud_scenario"], stats["share_of_fraud"], strict=True))
    for name, share in fraud_config.normalised_shares().items():
        assert got[name] == pytest.approx(share, abs=0.04), name


def test_fraud_rate_near_parameter(
    fraud_config: SimulationConfig, fraud_frame: pl.DataFrame
) -> None:
    """Check that the share of fraudulent rows is within 10 % of fraud_rate."""
    assert fraud_frame["is_fraud"].mean() == pytest.approx(fraud_config.fraud_rate, rel=0.1)


def test_default_fraud_rate_near_parameter(default_frame: pl.DataFrame) -> None:
    """Check that the default configuration lands within 15 % of its 0.4 % fraud rate."""
    assert default_frame["is_fraud"].mean() == pytest.approx(0.004, rel=0.15)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_single_scenario_mix(scenario: str) -> None:
    """Check that a mix with a single archetype yields fraud of that archetype only."""
    cfg = SimulationConfig(
        customers=300, days=45, seed=3, fraud_rate=0.03, scenario_shares={scenario: 1.0}
    )
    fraud = simulate(cfg).filter(pl.col("is_fraud") == 1)
    assert fraud.height > 0
    assert set(fraud["fraud_scenario"].unique()) == {scenario}


def test_card_testing_tiny_then_large(fraud_frame: pl.DataFrame) -> None:
    """Check that card testing is >= 3 tiny online payments followed by a large one, within 3 h."""
    per_card = (
        _rows(fraud_frame, "card_testing")
        .sort("timestamp")
        .group_by("card_id")
        .agg(
            pl.col("channel").eq("ecom").all().alias("online"),
            pl.col("amount").lt(5).sum().alias("tiny"),
            pl.col("amount").last().alias("last_amount"),
            pl.col("amount").filter(pl.col("amount") >= 5).min().alias("smallest_big"),
            (pl.col("timestamp").max() - pl.col("timestamp").min()).alias("span"),
            # every tiny payment comes before every large one
            (
                pl.col("timestamp").filter(pl.col("amount") < 5).max()
                < pl.col("timestamp").filter(pl.col("amount") >= 5).min()
            ).alias("ordered"),
        )
    )
    assert per_card.height >= 10
    assert per_card["online"].all()
    assert (per_card["tiny"] >= 3).all()
    assert (per_card["last_amount"] >= 40).all()
    assert (per_card["smallest_big"] >= 40).all()
    assert per_card["ordered"].all()
    assert (per_card["span"] < timedelta(hours=3)).all()


def test_card_testing_devices_shared_across_cards(fraud_frame: pl.DataFrame) -> None:
    """Check that card-testing bots reuse devices across victims, unlike card holders."""
    ct = _rows(fraud_frame, "card_testing")
    legit = fraud_frame.filter((pl.col("is_fraud") == 0) & pl.col("device_id").is_not_null())
    ct_cards = ct.group_by("device_id").agg(pl.col("card_id").n_unique())["card_id"].max()
    legit_cards = legit.group_by("device_id").agg(pl.col("card_id").n_unique())["card_id"]
    assert ct_cards >= 2  # type: ignore[operator]
    assert ct_cards > legit_cards.quantile(0.99)  # type: ignore[operator]


def _with_first_use_of_device(df: pl.DataFrame) -> pl.DataFrame:
    online = df.filter(pl.col("device_id").is_not_null()).sort("timestamp")
    return online.with_columns(
        new_device=pl.col("timestamp") == pl.col("timestamp").min().over("card_id", "device_id"),
        card_first=pl.col("timestamp") == pl.col("timestamp").min().over("card_id"),
    )


def test_account_takeover_device_never_seen(fraud_frame: pl.DataFrame) -> None:
    """Check that every account-takeover payment comes from a device the card never used before."""
    flagged = _with_first_use_of_device(fraud_frame)
    ato = flagged.filter(pl.col("fraud_scenario") == "account_takeover")
    first_of_incident = ato.filter(pl.col("timestamp") == pl.col("timestamp").min().over("card_id"))
    assert first_of_incident.height >= 10
    assert first_of_incident["new_device"].all()
    earlier_legit = fraud_frame.filter(pl.col("is_fraud") == 0).join(
        ato.select("card_id", "device_id", pl.col("timestamp").alias("ato_ts")),
        on=["card_id", "device_id"],
    )
    assert earlier_legit.filter(pl.col("timestamp") < pl.col("ato_ts")).height == 0


def test_account_takeover_new_device_is_rare_for_holders(fraud_frame: pl.DataFrame) -> None:
    """Check that legitimate online payments rarely come from a device new to the card."""
    flagged = _with_first_use_of_device(fraud_frame)
    legit = flagged.filter((pl.col("is_fraud") == 0) & ~pl.col("card_first"))
    assert legit["new_device"].mean() < 0.1  # type: ignore[operator]


def test_account_takeover_amounts_high(fraud_frame: pl.DataFrame) -> None:
    """Check that account-takeover payments are several times the card's median legit amount."""
    legit_median = (
        fraud_frame.filter(pl.col("is_fraud") == 0)
        .group_by("card_id")
        .agg(pl.col("amount").median().alias("median"))
    )
    ato = _rows(fraud_frame, "account_takeover").join(legit_median, on="card_id")
    assert ((ato["amount"] / ato["median"]) >= 3).mean() > 0.9  # type: ignore[operator]


def test_velocity_many_merchants_within_an_hour(fraud_frame: pl.DataFrame) -> None:
    """Check that a velocity attack makes >= 6 mid/high payments at distinct shops in an hour."""
    per_card = (
        _rows(fraud_frame, "velocity_attack")
        .group_by("card_id")
        .agg(
            pl.col("merchant_id").n_unique().alias("merchants"),
            pl.len().alias("payments"),
            (pl.col("timestamp").max() - pl.col("timestamp").min()).alias("span"),
            pl.col("amount").median().alias("median"),
        )
    )
    assert per_card.height >= 5
    assert (per_card["merchants"] >= 6).all()
    assert (per_card["merchants"] == per_card["payments"]).all()
    assert (per_card["span"] <= timedelta(hours=1)).all()
    legit_median = fraud_frame.filter(pl.col("is_fraud") == 0)["amount"].median()
    assert per_card["median"].median() > 2 * legit_median  # type: ignore[operator]


def test_velocity_exceeds_holders_hourly_activity(fraud_frame: pl.DataFrame) -> None:
    """Check that legitimate cards almost never pay at 6 merchants within an hour."""
    legit = fraud_frame.filter(pl.col("is_fraud") == 0).sort("timestamp")
    counts = legit.rolling("timestamp", period="1h", group_by="card_id").agg(
        pl.col("merchant_id").n_unique().alias("merchants")
    )
    assert (counts["merchants"] >= 6).mean() < 0.001  # type: ignore[operator]


def test_impossible_travel_speed(fraud_frame: pl.DataFrame) -> None:
    """Check that the first payment of an impossible-travel incident implies > 1,500 km/h."""
    moves = with_previous_card_present(fraud_frame)
    first = moves.filter(
        (pl.col("fraud_scenario") == "impossible_travel") & (pl.col("prev_fraud") == 0)
    )
    assert first.height >= 10
    assert (first["speed_kmh"] > 1500).mean() >= 0.9  # type: ignore[operator]
    assert (first["dist_km"] >= 500).mean() >= 0.9  # type: ignore[operator]


def test_legitimate_travel_is_plausible(fraud_frame: pl.DataFrame) -> None:
    """Check that legitimate moves between cities are slower than a plane, trips do happen."""
    moves = with_previous_card_present(fraud_frame)
    legit = moves.filter((pl.col("is_fraud") == 0) & (pl.col("prev_fraud") == 0))
    trips = legit.filter(pl.col("dist_km") > 200)
    assert trips.height >= 50
    assert (trips["speed_kmh"] < PLANE_KMH).mean() >= 0.99  # type: ignore[operator]
    # and after the trip the holder spends locally at the destination
    assert trips["country"].n_unique() >= 5


def _common_point_coverage(df: pl.DataFrame, ref: pl.DataFrame) -> float:
    """Share of ``ref`` cards that, 2-30 days before their ``ref_ts``, used a terminal that at
    least two other cards of ``ref`` also used in their own 2-30 days before ``ref_ts``."""
    visits = (
        df.filter((pl.col("is_fraud") == 0) & (pl.col("channel") != "ecom"))
        .select("card_id", "terminal_id", "timestamp")
        .join(ref, on="card_id")
        .filter(
            (pl.col("timestamp") < pl.col("ref_ts") - timedelta(days=2))
            & (pl.col("timestamp") >= pl.col("ref_ts") - timedelta(days=30))
        )
        .select("card_id", "terminal_id")
        .unique()
    )
    shared = visits.group_by("terminal_id").len().filter(pl.col("len") >= 3)["terminal_id"]
    hit = visits.filter(pl.col("terminal_id").is_in(shared.implode()))["card_id"].n_unique()
    return hit / ref.height


def test_compromised_terminal_common_point(default_frame: pl.DataFrame) -> None:
    """Check that skimming victims share a recently used terminal far more than other cards."""
    fraud = _rows(default_frame, "compromised_terminal")
    ref = fraud.group_by("card_id").agg(pl.col("timestamp").min().alias("ref_ts")).sort("card_id")
    assert ref.height >= 20
    victims = _common_point_coverage(default_frame, ref)
    # the same test on as many other cards, given the victims' dates, several times
    others = (
        default_frame.filter(~pl.col("card_id").is_in(ref["card_id"].implode()))
        .select("card_id")
        .unique()
        .sort("card_id")
    )
    null = [
        _common_point_coverage(
            default_frame,
            others.sample(ref.height, seed=s).with_columns(
                ref_ts=ref["ref_ts"].sample(fraction=1.0, shuffle=True, seed=s)
            ),
        )
        for s in range(5)
    ]
    assert victims >= 0.9
    assert sum(null) / len(null) <= victims - 0.2


def test_compromised_terminal_fraud_is_card_present_elsewhere(fraud_frame: pl.DataFrame) -> None:
    """Check that skimmed cards are cloned: card-present fraud, mostly in another country/city."""
    fraud = _rows(fraud_frame, "compromised_terminal")
    assert set(fraud["channel"].unique()) == {"pos", "atm"}
    home = (
        fraud_frame.filter((pl.col("is_fraud") == 0) & (pl.col("channel") != "ecom"))
        .group_by("card_id")
        .agg(pl.col("latitude").median().alias("home_lat"))
    )
    away = fraud.join(home, on="card_id").select(
        ((pl.col("latitude") - pl.col("home_lat")).abs() > 1.0).mean()
    )
    assert away.item() >= 0.5


def _bust_out_cards(df: pl.DataFrame) -> pl.DataFrame:
    cards = _rows(df, "bust_out")["card_id"].unique()
    return df.filter(pl.col("card_id").is_in(cards.implode()))


@pytest.fixture(scope="module")
def bust_out_config() -> SimulationConfig:
    """A long period with bust-out fraud only, so whole warm-ups fit inside it."""
    return SimulationConfig(
        customers=300, days=120, seed=6, fraud_rate=0.02, scenario_shares={"bust_out": 1.0}
    )


@pytest.fixture(scope="module")
def bust_out_frame(bust_out_config: SimulationConfig) -> pl.DataFrame:
    """The simulation of :func:`bust_out_config`."""
    return simulate(bust_out_config)


def test_bust_out_small_then_large(fraud_frame: pl.DataFrame) -> None:
    """Check that a bust-out card's unlabelled payments are small and precede the cash-out."""
    per_card = (
        _bust_out_cards(fraud_frame)
        .group_by("card_id")
        .agg(
            pl.col("amount").filter(pl.col("is_fraud") == 0).max().alias("warm_max"),
            pl.col("amount").filter(pl.col("is_fraud") == 1).min().alias("cash_min"),
            (
                pl.col("timestamp").filter(pl.col("is_fraud") == 0).max()
                < pl.col("timestamp").filter(pl.col("is_fraud") == 1).min()
            ).alias("ordered"),
        )
        .drop_nulls()
    )
    assert per_card.height >= 10
    assert per_card["ordered"].all()
    assert (per_card["cash_min"] > 2 * per_card["warm_max"]).all()


def test_bust_out_warm_up_lasts_weeks(
    bust_out_config: SimulationConfig, bust_out_frame: pl.DataFrame
) -> None:
    """Check that a card opened in the period warms up for weeks before cashing out."""
    per_card = (
        _bust_out_cards(bust_out_frame)
        .group_by("card_id")
        .agg(
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").filter(pl.col("is_fraud") == 1).min().alias("cash"),
            pl.col("is_fraud").eq(0).sum().alias("warm_n"),
        )
        # opened inside the period: a warm-up seen from its start
        .filter(pl.col("first") > bust_out_config.start + timedelta(days=10))
    )
    assert per_card.height >= 5
    assert (per_card["cash"] - per_card["first"] >= timedelta(days=14)).all()
    assert (per_card["warm_n"] >= 5).all()


def test_bust_out_cards_are_new_identities(
    bust_out_config: SimulationConfig, bust_out_frame: pl.DataFrame
) -> None:
    """Check that bust-out cards are lone cards of new customers, opened during the period."""
    bo = _bust_out_cards(bust_out_frame)
    customers = bo["customer_id"].unique()
    all_cards = bust_out_frame.filter(pl.col("customer_id").is_in(customers.implode()))
    assert all_cards["card_id"].n_unique() == customers.len()
    first_use = bust_out_frame.group_by("card_id").agg(pl.col("timestamp").min())
    late = first_use["timestamp"] > bust_out_config.start + timedelta(days=7)
    is_bo = first_use["card_id"].is_in(bo["card_id"].implode())
    late_bo = float(late.filter(is_bo).mean())  # type: ignore[arg-type]
    late_genuine = float(late.filter(~is_bo).mean())  # type: ignore[arg-type]
    assert late_bo > late_genuine + 0.3


def test_bust_out_warm_up_can_be_labelled() -> None:
    """Check that label_bust_out_warmup labels every payment of a bust-out card."""
    cfg = SimulationConfig(
        customers=300,
        days=60,
        seed=9,
        fraud_rate=0.05,
        scenario_shares={"bust_out": 1.0},
        label_bust_out_warmup=True,
    )
    bo = _bust_out_cards(simulate(cfg))
    assert bo.height > 0
    assert (bo["is_fraud"] == 1).all()
    assert bo["amount"].min() < 80  # type: ignore[operator]


def test_stolen_card_amounts_unusual_for_card(fraud_frame: pl.DataFrame) -> None:
    """Check that stolen-card payments exceed the card's 95th-percentile legitimate amount."""
    p95 = (
        fraud_frame.filter(pl.col("is_fraud") == 0)
        .group_by("card_id")
        .agg(pl.col("amount").quantile(0.95).alias("p95"), pl.len().alias("n"))
        .filter(pl.col("n") >= 10)
    )
    stolen = _rows(fraud_frame, "stolen_card_high_amount").join(p95, on="card_id")
    assert stolen.height >= 20
    assert (stolen["amount"] > stolen["p95"]).mean() >= 0.9  # type: ignore[operator]
    assert (stolen["channel"] == "pos").all()


def test_stolen_card_used_soon_after_last_genuine_use(fraud_frame: pl.DataFrame) -> None:
    """Check that a stolen card is spent within hours of its last genuine card-present use."""
    moves = with_previous_card_present(fraud_frame)
    first = moves.filter(
        (pl.col("fraud_scenario") == "stolen_card_high_amount") & (pl.col("prev_fraud") == 0)
    )
    assert first.height >= 10
    assert (first["gap_h"] <= 4.5).mean() >= 0.9  # type: ignore[operator]
    assert (first["dist_km"] < 100).mean() >= 0.9  # type: ignore[operator]


def test_impossible_archetype_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """Check that an archetype that cannot fit in the period is named in a log warning."""
    cfg = SimulationConfig(
        customers=2000,
        days=1,
        seed=1,
        fraud_rate=0.01,
        scenario_shares={"compromised_terminal": 1.0},
    )
    with caplog.at_level("WARNING", logger="fraudwatch.simulate"):
        df = simulate(cfg)
    assert df["is_fraud"].sum() == 0
    assert "compromised_terminal produced no transactions" in caplog.text
