"""The catalogue of the simulated used-car market: makes, models and their derivatives, what each
costs new and how fast it loses value, how the fuel mix of listings shifts, and where sellers are.

Shares are relative weights (a make's share of used-car listings, in percent); within a make, models
are listed most popular first and their shares fall off as ``1 / rank ** 0.8``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from daystosell_assets.lake.geography import POSTCODE_AREAS

FUELS: Final = ("petrol", "diesel", "hybrid", "electric", "plug_in_hybrid")
BODY_TYPES: Final = ("hatchback", "saloon", "estate", "suv", "mpv", "coupe", "convertible")

_FUEL_CODES: Final = {"p": "petrol", "d": "diesel", "h": "hybrid", "e": "electric", "x": "plug_in_hybrid"}
_BODY_CODES: Final = {"h": "hatchback", "s": "saloon", "e": "estate", "u": "suv", "m": "mpv", "c": "coupe",
                      "v": "convertible"}

# Share of listings by fuel at the start and at the end of the simulated history; in between, linear.
# Electric and hybrid rise, diesel falls: each row sums to 1.
FUEL_SHARE_START: Final = {"petrol": 0.47, "diesel": 0.29, "hybrid": 0.12, "electric": 0.07, "plug_in_hybrid": 0.05}
FUEL_SHARE_END: Final = {"petrol": 0.44, "diesel": 0.20, "hybrid": 0.16, "electric": 0.14, "plug_in_hybrid": 0.06}

# New price of a derivative relative to the model's petrol price (a model sold only as an EV already
# has its EV price).
FUEL_PRICE_PREMIUM: Final = {"petrol": 1.0, "diesel": 1.05, "hybrid": 1.10, "electric": 1.30, "plug_in_hybrid": 1.18}
# Batteries make early EVs lose value faster: added to the make's yearly depreciation rate.
FUEL_EXTRA_DEPRECIATION: Final = {"petrol": 0.0, "diesel": 0.01, "hybrid": -0.01, "electric": 0.04,
                                  "plug_in_hybrid": 0.02}
# Miles a year relative to the typical car.
FUEL_MILEAGE: Final = {"petrol": 0.90, "diesel": 1.35, "hybrid": 1.0, "electric": 0.90, "plug_in_hybrid": 0.95}

# Share of listings by vehicle age in whole years (0..20): most used cars are 2 to 9 years old.
AGE_MIX: Final = (2.0, 6.0, 9.0, 11.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.3, 2.6, 2.0, 1.5, 1.1, 0.8,
                  0.6, 0.4, 0.3)
# Electric and plug-in cars are a young fleet: their age mix is the one above times exp(-0.25 * age).
YOUNG_FLEET_DECAY: Final = 0.25

# Population in millions (ONS, mid-2022, rounded): sellers per postcode area follow population.
REGION_POPULATION: Final = {
    "London": 8.9, "South East": 9.4, "East of England": 6.4, "South West": 5.8, "West Midlands": 6.0,
    "East Midlands": 4.9, "Yorkshire and the Humber": 5.5, "North West": 7.5, "North East": 2.7, "Wales": 3.1,
    "Scotland": 5.5, "Northern Ireland": 1.9,
}
# Thinly populated areas: a fraction of their region's average area.
SPARSE_AREAS: Final = {"ZE": 0.1, "KW": 0.2, "IV": 0.4, "LD": 0.3, "TD": 0.4, "DG": 0.5, "PH": 0.5, "AB": 0.8,
                       "LL": 0.7, "CA": 0.7, "HR": 0.6, "TR": 0.7, "EC": 0.2, "WC": 0.2}


@dataclass(frozen=True)
class Make:
    name: str
    share: float  # percent of listings
    list_price: int  # GBP, a typical new car of the make
    depreciation: float  # yearly rate on the log scale
    models: str  # "Name:body:fuels:price factor, ..." most popular first


MAKES: Final[tuple[Make, ...]] = (
    Make("Ford", 10.0, 24_000, 0.15,
         "Fiesta:h:pd:.8, Focus:h:pdh:.95, Kuga:u:pdhx:1.3, Puma:u:ph:1, Mondeo:s:dh:1.2, EcoSport:u:pd:.85,"
         " Focus Estate:e:pd:1, Ka+:h:p:.6, S-Max:m:dh:1.4, Galaxy:m:dh:1.45, Mustang:c:p:2,"
         " Mustang Mach-E:u:e:2.1, B-Max:m:p:.7, Grand C-Max:m:pd:1.05, C-Max:m:pd:1, Edge:u:d:1.6,"
         " Focus ST:h:p:1.3, Fiesta ST:h:p:1, Tourneo Connect:m:d:1.1, Ka:h:p:.5, Explorer:u:e:1.7"),
    Make("Volkswagen", 8.5, 29_000, 0.14,
         "Golf:h:pdhx:1, Polo:h:p:.75, Tiguan:u:pdx:1.3, T-Roc:u:pd:1.05, Passat:e:dx:1.3, Up:h:pe:.55,"
         " T-Cross:u:p:.85, Touran:m:pd:1.1, Arteon:s:dx:1.5, ID.3:h:e:1.3, ID.4:u:e:1.5, Sharan:m:d:1.3,"
         " Scirocco:c:pd:1.05, Touareg:u:dx:2.3, Golf Estate:e:pd:1.05, Golf GTI:h:p:1.4, Golf R:h:p:1.7,"
         " Polo GTI:h:p:1.05, Taigo:u:p:.95, T-Roc Cabriolet:v:p:1.3, Caddy Life:m:d:1.05, Beetle:h:p:.85,"
         " ID.5:u:e:1.65, Jetta:s:pd:.9, ID. Buzz:m:e:2.1"),
    Make("Vauxhall", 8.0, 22_000, 0.17,
         "Corsa:h:pde:.8, Astra:h:pdx:1, Mokka:u:pde:1.05, Grandland:u:pdx:1.2, Insignia:s:pd:1.15,"
         " Crossland:u:pd:1, Zafira:m:pd:1.1, Adam:h:p:.7, Viva:h:p:.55, Cascada:v:p:1.3, Meriva:m:pd:.85,"
         " Astra Sports Tourer:e:pd:1.05, Antara:u:d:1.1, Combo Life:m:d:1, Vivaro Life:m:de:1.7,"
         " Insignia Sports Tourer:e:d:1.2, GTC:c:pd:1.05, Frontera:u:he:1"),
    Make("BMW", 6.5, 42_000, 0.16,
         "3 Series:s:pdx:1, 1 Series:h:pd:.75, 5 Series:s:dx:1.3, X1:u:pdx:.95, X3:u:dx:1.25, 2 Series:c:pd:.85,"
         " 4 Series:c:pd:1.1, X5:u:dx:1.7, i3:h:e:.85, iX:u:e:1.9, i4:s:e:1.4, Z4:v:p:1.2, X2:u:pd:.95,"
         " 2 Series Active Tourer:m:pdx:.8, X4:u:d:1.35, X6:u:d:1.9, 6 Series:c:d:1.6, 7 Series:s:dx:2.3,"
         " 3 Series Touring:e:dx:1.05, 5 Series Touring:e:dx:1.35, M3:s:p:1.9, M4:c:p:2, i5:s:e:1.8, iX1:u:e:1.1,"
         " iX3:u:e:1.45"),
    Make("Mercedes-Benz", 6.0, 45_000, 0.16,
         "A Class:h:pdx:.75, C Class:s:pdx:1, E Class:s:dx:1.3, GLA:u:pdx:.9, GLC:u:dx:1.2, CLA:c:pd:.85,"
         " B Class:m:pd:.75, GLE:u:dx:1.7, EQA:u:e:1.1, EQC:u:e:1.5, S Class:s:dx:2.2, SLC:v:p:1.05, GLB:u:pd:.95,"
         " CLS:c:d:1.5, GLS:u:d:2.2, V Class:m:d:1.5, C Class Estate:e:dx:1.05, E Class Estate:e:dx:1.35,"
         " EQE:s:e:1.7, EQS:s:e:2.5, EQB:u:e:1.2, AMG GT:c:p:3, SL:v:p:2.4"),
    Make("Audi", 5.5, 40_000, 0.15,
         "A3:h:pdx:.85, A1:h:p:.6, A4:s:pd:1, Q3:u:pdx:.95, Q5:u:dx:1.25, A5:c:pd:1.1, A6:e:dx:1.3, Q2:u:pd:.75,"
         " TT:c:p:1.05, Q7:u:dx:1.8, e-tron:u:e:1.8, Q4 e-tron:u:e:1.2, A7:s:d:1.6, A3 Saloon:s:pd:.9,"
         " A5 Sportback:h:pd:1.1, A4 Avant:e:pd:1.05, Q8:u:dx:2, RS3:h:p:1.4, S3:h:p:1.1, Q8 e-tron:u:e:1.9,"
         " e-tron GT:s:e:2.4, TT Roadster:v:p:1.15, A5 Cabriolet:v:p:1.25"),
    Make("Toyota", 5.0, 27_000, 0.11,
         "Yaris:h:ph:.75, Corolla:h:h:1, C-HR:u:hx:1.1, RAV4:u:hx:1.35, Aygo:h:p:.5, Auris:h:pdh:.85,"
         " Prius:h:hx:1.1, Aygo X:u:p:.6, Yaris Cross:u:h:.9, GR86:c:p:1.2, bZ4X:u:e:1.6, Land Cruiser:u:d:2,"
         " Corolla Touring Sports:e:h:1.05, Verso:m:pd:.95, Avensis:e:pd:1, Auris Touring Sports:e:h:.9,"
         " Prius+:m:h:1.15, Hilux:u:d:1.3, GR Supra:c:p:1.9, Proace Verso:m:de:1.5"),
    Make("Nissan", 4.5, 25_000, 0.15,
         "Qashqai:u:pdh:1.1, Juke:u:ph:.85, Micra:h:p:.65, Leaf:h:e:1.2, X-Trail:u:dh:1.35, Note:h:pd:.7,"
         " Navara:u:d:1.3, Ariya:u:e:1.7, Pulsar:h:pd:.8, Qashqai+2:m:d:1.1, e-NV200:m:e:1.2, 370Z:c:p:1.4,"
         " Murano:u:d:1.5, Pathfinder:u:d:1.6, Townstar:m:pe:1"),
    Make("Peugeot", 3.8, 24_000, 0.16,
         "208:h:pde:.8, 2008:u:pde:.95, 3008:u:pdx:1.2, 308:h:pdx:1, 5008:m:pd:1.3, 108:h:p:.55, 508:e:dx:1.35,"
         " Rifter:m:pde:1, Partner Tepee:m:d:.9, 308 SW:e:pdx:1.05, 107:h:p:.5, 207:h:pd:.65, RCZ:c:p:1.1,"
         " 408:s:px:1.3, 508 SW:e:dx:1.35, Traveller:m:de:1.6"),
    Make("Kia", 4.0, 25_000, 0.14,
         "Sportage:u:pdhx:1.15, Ceed:h:pdx:.9, Picanto:h:p:.55, Niro:u:hxe:1.1, Rio:h:pd:.7, Sorento:u:dhx:1.6,"
         " Stonic:u:p:.8, XCeed:h:px:.95, EV6:u:e:1.8, Soul:u:pe:.95, ProCeed:e:p:1.1, Optima:s:d:1.1,"
         " Carens:m:d:1, Venga:m:p:.75, Stinger:s:p:1.6, EV9:u:e:2.6, Ceed SW:e:pd:.95"),
    Make("Hyundai", 3.5, 24_000, 0.14,
         "Tucson:u:pdhx:1.2, i10:h:p:.55, i20:h:p:.7, i30:h:pd:.9, Kona:u:phe:1, Ioniq:h:hxe:1.1,"
         " Santa Fe:u:dhx:1.6, Bayon:u:p:.8, Ioniq 5:u:e:1.75, ix35:u:pd:.95, i40:e:d:1.05, i30 Fastback:h:p:.95,"
         " Ioniq 6:s:e:1.8, i30 N:h:p:1.3, Getz:h:p:.5"),
    Make("Renault", 3.0, 22_000, 0.17,
         "Clio:h:pdh:.8, Captur:u:pdx:1, Megane:h:pdx:1.05, Kadjar:u:pd:1.15, Zoe:h:e:1.2, Scenic:m:pd:1.1,"
         " Arkana:u:h:1.2, Twingo:h:pe:.6, Austral:u:h:1.4, Koleos:u:d:1.45, Grand Scenic:m:d:1.15, Kangoo:m:de:1,"
         " Megane E-Tech:h:e:1.5, Laguna:e:d:1, Espace:m:dh:1.6, Symbioz:u:h:1.2"),
    Make("Skoda", 3.0, 26_000, 0.13,
         "Octavia:e:pdx:1, Fabia:h:p:.7, Superb:e:pdx:1.3, Karoq:u:pd:1.1, Kodiaq:u:pd:1.35, Kamiq:u:p:.9,"
         " Scala:h:p:.85, Enyaq:u:e:1.6, Yeti:u:pd:.95, Citigo:h:pe:.5, Octavia vRS:h:pd:1.25, Rapid:h:pd:.8,"
         " Elroq:u:e:1.4, Roomster:m:pd:.8"),
    Make("MINI", 2.6, 26_000, 0.13,
         "Hatch:h:pde:1, Countryman:u:pdx:1.2, Clubman:e:pd:1.1, Convertible:v:p:1.15, Paceman:c:pd:1.05,"
         " Coupe:c:p:1.05, Roadster:v:p:1.1, Aceman:u:e:1.25"),
    Make("SEAT", 2.4, 23_000, 0.15,
         "Ibiza:h:p:.8, Leon:h:pdx:1, Arona:u:p:.9, Ateca:u:pd:1.15, Tarraco:u:pdx:1.4, Mii:h:pe:.55,"
         " Alhambra:m:d:1.35, Leon Estate:e:pd:1.05, Toledo:h:pd:.85, Altea:m:pd:.8"),
    Make("Land Rover", 2.3, 60_000, 0.14,
         "Range Rover Evoque:u:pdx:.75, Discovery Sport:u:dx:.75, Range Rover Sport:u:dx:1.4, Defender:u:dx:1.1,"
         " Range Rover Velar:u:dx:1.0, Range Rover:u:dx:1.9, Discovery:u:d:1.1, Freelander:u:d:.6"),
    Make("Citroen", 2.2, 22_000, 0.17,
         "C3:h:p:.8, C4:h:pde:1, C3 Aircross:u:p:.9, C5 Aircross:u:pdx:1.2, Berlingo:m:pde:1.05, C1:h:p:.5,"
         " Grand C4 Picasso:m:pd:1.15, DS3:h:p:.85, C4 Cactus:h:pd:.9, C5 X:e:px:1.3, SpaceTourer:m:de:1.5,"
         " C4 Picasso:m:pd:1.05, C-Zero:h:e:.9"),
    Make("Volvo", 1.9, 42_000, 0.15,
         "XC40:u:pdxe:.9, XC60:u:dx:1.15, XC90:u:dx:1.6, V40:h:pd:.65, V60:e:dx:1, S60:s:px:1, V90:e:dx:1.2,"
         " C40:u:e:1.05, S90:s:dx:1.25, V70:e:d:1, XC70:e:d:1.05, EX30:u:e:.85, S80:s:d:1.1"),
    Make("Honda", 1.8, 27_000, 0.12,
         "Jazz:h:ph:.75, Civic:h:pdh:1, CR-V:u:pdh:1.3, HR-V:u:ph:1.05, e:h:e:1.2, ZR-V:u:h:1.3,"
         " Civic Type R:h:p:1.5, Accord:s:d:1.1, Insight:h:h:.95"),
    Make("Fiat", 1.8, 17_000, 0.16,
         "500:h:phe:.9, Panda:h:ph:.8, Tipo:h:pd:1.05, 500X:u:pd:1.2, 500L:m:pd:1.1, Punto:h:p:.75, 500C:v:p:1,"
         " Doblo:m:d:.95, Qubo:m:pd:.75, 600:u:he:1.2"),
    Make("Mazda", 1.6, 26_000, 0.13,
         "CX-5:u:pd:1.25, Mazda3:h:p:1, Mazda2:h:ph:.75, CX-30:u:p:1.1, MX-5:v:p:1.05, Mazda6:e:pd:1.2,"
         " CX-3:u:p:.9, MX-30:u:e:1.2, CX-60:u:dx:1.7, Mazda5:m:pd:.95, RX-8:c:p:1.1"),
    Make("MG", 1.5, 22_000, 0.17,
         "ZS:u:pe:.9, MG4:h:e:1.3, HS:u:px:1.15, MG3:h:ph:.7, MG5:e:e:1.3, Cyberster:v:e:2.5, MG6:h:p:.85,"
         " Marvel R:u:e:1.8"),
    Make("Dacia", 1.3, 16_000, 0.12,
         "Sandero:h:p:.85, Duster:u:pd:1.15, Jogger:m:ph:1.15, Spring:h:e:1.1, Logan:e:p:.85, Bigster:u:h:1.35"),
    Make("Tesla", 1.2, 48_000, 0.18,
         "Model 3:s:e:.9, Model Y:u:e:1.05, Model S:s:e:1.7, Model X:u:e:1.9"),
    Make("Suzuki", 1.1, 18_000, 0.13,
         "Swift:h:ph:.9, Vitara:u:ph:1.3, Ignis:h:ph:.8, S-Cross:u:ph:1.4, Celerio:h:p:.6, Jimny:u:p:1.15,"
         " Baleno:h:p:.75, Splash:h:p:.6, Alto:h:p:.5"),
    Make("Jaguar", 1.0, 48_000, 0.18,
         "XE:s:pd:.85, XF:s:d:1, F-Pace:u:dx:1.1, E-Pace:u:pdx:.85, I-Pace:u:e:1.4, F-Type:c:p:1.4, XJ:s:d:1.6,"
         " XF Sportbrake:e:d:1.05, F-Type Convertible:v:p:1.5"),
    Make("Mitsubishi", 0.7, 30_000, 0.15,
         "Outlander:u:dx:1.3, ASX:u:pd:.85, Mirage:h:p:.5, Eclipse Cross:u:px:1, L200:u:d:1.1,"
         " Shogun Sport:u:d:1.4, Colt:h:p:.55, Lancer:s:p:.75"),
    Make("Cupra", 0.6, 33_000, 0.15,
         "Formentor:u:px:1.05, Born:h:e:1.05, Leon:h:px:.95, Ateca:u:p:1.15"),
    Make("Porsche", 0.6, 85_000, 0.09,
         "Macan:u:p:.75, Cayenne:u:px:1.05, 911:c:p:1.3, Taycan:s:e:1.2, Panamera:s:px:1.25, Boxster:v:p:.75,"
         " Cayman:c:p:.72, Macan Electric:u:e:1.05, 718 Spyder:v:p:1.2"),
    Make("Lexus", 0.6, 45_000, 0.11,
         "NX:u:hx:1, RX:u:h:1.4, UX:u:he:.8, IS:s:h:.9, CT:h:h:.65, ES:s:h:1, LC:c:h:2.2, RC:c:h:1.2, LBX:u:h:.7,"
         " LS:s:h:2"),
    Make("Jeep", 0.4, 32_000, 0.16,
         "Renegade:u:pdx:.85, Compass:u:pdx:1.05, Wrangler:u:p:1.5, Avenger:u:pe:.85, Grand Cherokee:u:dx:2,"
         " Cherokee:u:d:1.3"),
    Make("smart", 0.3, 20_000, 0.17,
         "fortwo:h:pe:.85, forfour:h:pe:.9, #1:u:e:1.9"),
    Make("Alfa Romeo", 0.3, 38_000, 0.19,
         "Giulia:s:pd:1, Stelvio:u:pd:1.15, Giulietta:h:pd:.7, Tonale:u:hx:.95, MiTo:h:p:.55, Junior:u:he:.85"),
    Make("DS", 0.3, 32_000, 0.19,
         "DS 3:u:pe:.85, DS 4:h:px:1, DS 7:u:dx:1.3"),
    Make("Abarth", 0.3, 22_000, 0.14,
         "595:h:p:1, 695:h:p:1.2, 124 Spider:v:p:1.3, 500e:h:e:1.5"),
    Make("Subaru", 0.2, 33_000, 0.13,
         "Forester:u:ph:1, Outback:e:p:1.1, XV:u:ph:.85, Impreza:h:p:.75, BRZ:c:p:.95"),
    Make("Polestar", 0.2, 50_000, 0.19,
         "Polestar 2:h:e:1, Polestar 3:u:e:1.6, Polestar 4:u:e:1.2"),
    Make("BYD", 0.2, 36_000, 0.2,
         "Atto 3:u:e:1, Dolphin:h:e:.85, Seal:s:e:1.25, Seal U:u:x:1.05"),
    Make("Maserati", 0.1, 85_000, 0.2,
         "Levante:u:pd:1, Ghibli:s:pd:.9, Grecale:u:pe:.85, Quattroporte:s:pd:1.3"),
    Make("Bentley", 0.1, 190_000, 0.13,
         "Continental GT:c:p:1, Bentayga:u:px:1.05, Flying Spur:s:px:1.1"),
)


@dataclass(frozen=True)
class Derivative:
    """One make / model / fuel, the unit of the taxonomy."""

    make: str
    model: str
    fuel: str
    body_type: str
    new_price: float
    demand_score: float  # z-scored across derivatives: how keenly buyers look for it
    depreciation: float  # yearly rate on the log scale
    popularity: float  # the model's share of the used market, before the fuel mix


def derivatives(seed: int) -> tuple[Derivative, ...]:
    """Every derivative of the catalogue. The seed sets each model's exact list price, depreciation
    and demand (around the catalogue's values), so different seeds give somewhat different markets."""
    rng = np.random.default_rng([seed, 1])
    rows: list[tuple[Make, str, str, str, float, float]] = []
    for make in MAKES:
        models = [m.split(":") for m in make.models.split(", ")]
        rank_weight = np.array([1.0 / (rank + 1) ** 0.8 for rank in range(len(models))])
        for (name, body, fuels, factor), weight in zip(models, rank_weight / rank_weight.sum(), strict=True):
            for code in fuels:
                rows.append((make, name.strip(), _BODY_CODES[body], _FUEL_CODES[code], float(factor),
                             make.share * float(weight)))
    price_jitter = rng.lognormal(0.0, 0.08, size=len(rows))
    depreciation_jitter = rng.normal(0.0, 0.01, size=len(rows))
    # Demand is the model's, whatever the fuel, and follows popularity loosely: some niche cars are
    # keenly sought, some common ones are not, and some makes are in fashion.
    make_fashion = {make.name: rng.normal(0.0, 0.4) for make in MAKES}
    model_keys = sorted({(r[0].name, r[1]) for r in rows})
    model_fancy = dict(zip(model_keys, rng.normal(0.0, 0.5, size=len(model_keys)), strict=True))
    demand_raw = np.array([np.log(r[5]) + make_fashion[r[0].name] + model_fancy[(r[0].name, r[1])]
                           for r in rows])
    demand = (demand_raw - demand_raw.mean()) / demand_raw.std()
    return tuple(
        Derivative(make=make.name, model=model, fuel=fuel, body_type=body,
                   new_price=round(make.list_price * factor * FUEL_PRICE_PREMIUM[fuel] * float(jitter), -2),
                   demand_score=round(float(score), 4),
                   depreciation=round(make.depreciation + FUEL_EXTRA_DEPRECIATION[fuel] + float(dj), 4),
                   popularity=popularity)
        for (make, model, body, fuel, factor, popularity), jitter, dj, score
        in zip(rows, price_jitter, depreciation_jitter, demand, strict=True)
    )


def fuel_share(fuel: str, t: float) -> float:
    """Share of new listings with this fuel, ``t`` of the way (0..1) through the history."""
    return FUEL_SHARE_START[fuel] + (FUEL_SHARE_END[fuel] - FUEL_SHARE_START[fuel]) * t


def derivative_weights(catalogue: tuple[Derivative, ...], fuel: str) -> list[float]:
    """Among listings with this fuel, the relative share of each derivative (zero for other fuels).
    A model offered in several fuels competes in each fuel's pool with its full popularity."""
    return [d.popularity if d.fuel == fuel else 0.0 for d in catalogue]


def expected_make_shares(catalogue: tuple[Derivative, ...]) -> dict[str, float]:
    """Each make's share of listings over the whole history (fuel shares averaged over time)."""
    shares: dict[str, float] = {}
    for fuel in FUELS:
        weights = derivative_weights(catalogue, fuel)
        total = sum(weights)
        fuel_mean = fuel_share(fuel, 0.5)
        for d, w in zip(catalogue, weights, strict=True):
            shares[d.make] = shares.get(d.make, 0.0) + fuel_mean * w / total
    return shares


def area_weights() -> list[float]:
    """Relative number of sellers in each postcode area, in the order of ``POSTCODE_AREAS``."""
    areas_in_region: dict[str, int] = {}
    for _, region, _, _ in POSTCODE_AREAS:
        areas_in_region[region] = areas_in_region.get(region, 0) + 1
    return [REGION_POPULATION[region] / areas_in_region[region] * SPARSE_AREAS.get(area, 1.0)
            for area, region, _, _ in POSTCODE_AREAS]
