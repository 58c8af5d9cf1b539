"""The market simulator: deterministic, internally consistent, and carrying the signal a model needs."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from daystosell_assets.lake.geography import POSTCODE_AREAS
from daystosell_assets.lake.simulator import FUELS, MarketSpec, simulate_market


def test_same_seed_same_market_other_seed_other_market() -> None:
    a = simulate_market(MarketSpec(adverts=2_000, seed=1))
    b = simulate_market(MarketSpec(adverts=2_000, seed=1))
    c = simulate_market(MarketSpec(adverts=2_000, seed=2))
    for name in a:
        assert a[name].equals(b[name]), name
    assert not a["adverts"].equals(c["adverts"])


def test_every_advert_refers_to_known_vehicles_places_and_derivatives() -> None:
    market = simulate_market(MarketSpec(adverts=3_000, seed=3))
    adverts = market["adverts"].to_pandas()
    valuations = market["valuations"].to_pandas()
    taxonomy = market["taxonomy"].to_pandas()
    assert adverts["advert_id"].is_unique
    assert set(adverts["vehicle_id"]) == set(valuations["vehicle_id"])
    known = set(zip(taxonomy["make"], taxonomy["model"], taxonomy["fuel"], strict=True))
    assert set(zip(adverts["make"], adverts["model"], adverts["fuel"], strict=True)) <= known
    areas = {a for a, *_ in POSTCODE_AREAS}
    assert set(adverts["postcode_district"].str.extract(r"^([A-Z]+)")[0]) <= areas
    assert set(adverts["fuel"]) <= set(FUELS)


def test_sold_adverts_sell_before_the_snapshot_and_live_ones_have_no_sale() -> None:
    spec = MarketSpec(adverts=3_000, seed=4)
    adverts = simulate_market(spec)["adverts"]
    sold = adverts.filter(pc.is_valid(adverts["sold_date"])).to_pandas()
    live = adverts.filter(pc.is_null(adverts["sold_date"]))
    assert 0 < live.num_rows < adverts.num_rows
    assert (sold["sold_date"] >= sold["listed_date"]).all()
    assert (sold["sold_date"] <= spec.snapshot).all()


def test_overpriced_cars_take_longer_to_sell() -> None:
    market = simulate_market(MarketSpec(adverts=20_000, seed=6))
    adverts = market["adverts"].to_pandas().merge(market["valuations"].to_pandas(), on="vehicle_id")
    sold = adverts[adverts["sold_date"].notna()]
    days = (sold["sold_date"] - sold["listed_date"]).map(lambda d: d.days).to_numpy(dtype=float)
    position = (sold["asking_price"] / sold["valuation"]).to_numpy()
    cheap, dear = np.quantile(position, [0.2, 0.8])
    assert np.median(days[position >= dear]) > 1.5 * np.median(days[position <= cheap])
