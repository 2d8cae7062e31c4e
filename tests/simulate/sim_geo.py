"""Geometry helpers of the simulator tests, computed independently of the simulator."""

from __future__ import annotations

import polars as pl

EARTH_KM = 6371.0


def with_previous_card_present(df: pl.DataFrame) -> pl.DataFrame:
    """Card-present rows with the distance (km), gap (h) and speed from the card's previous one."""
    rad = 3.141592653589793 / 180.0
    cp = df.filter(pl.col("channel") != "ecom").sort("card_id", "timestamp")
    cp = cp.with_columns(
        prev_lat=pl.col("latitude").shift().over("card_id"),
        prev_lon=pl.col("longitude").shift().over("card_id"),
        prev_ts=pl.col("timestamp").shift().over("card_id"),
        prev_fraud=pl.col("is_fraud").shift().over("card_id"),
    ).filter(pl.col("prev_ts").is_not_null())
    a = (((pl.col("latitude") - pl.col("prev_lat")) * rad / 2).sin() ** 2) + (
        (pl.col("latitude") * rad).cos()
        * (pl.col("prev_lat") * rad).cos()
        * (((pl.col("longitude") - pl.col("prev_lon")) * rad / 2).sin() ** 2)
    )
    hours = (pl.col("timestamp") - pl.col("prev_ts")).dt.total_microseconds() / 3.6e9
    return cp.with_columns(dist_km=2 * EARTH_KM * a.sqrt().arcsin(), gap_h=hours).with_columns(
        speed_kmh=pl.col("dist_km") / pl.max_horizontal(pl.col("gap_h"), 1 / 3600)
    )
