"""Random numbers as Spark column expressions, reproducible whatever the partitioning.

Each draw is a pure function of (seed, stream, row id): a row gets the same numbers however many
partitions or cores compute it, and in whichever order. Streams keep the draws of one row
independent of each other: every quantity the simulation draws uses its own stream number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

ROW_ID = "id"
_MANTISSA = 2.0**53


def uniform(seed: int, *stream: int, row: str = ROW_ID) -> Column:
    """Uniform on the open interval (0, 1): the top 53 bits of a 64-bit hash, centred in their cell
    so that neither 0 nor 1 comes out (logs and divisions stay finite)."""
    hashed = F.xxhash64(F.lit(seed).cast("long"), *(F.lit(s).cast("long") for s in stream), F.col(row))
    return (F.shiftrightunsigned(hashed, 11).cast("double") + 0.5) / _MANTISSA


def normal(seed: int, stream: int) -> Column:
    """Standard normal by Box-Muller from two uniforms of the stream."""
    u1, u2 = uniform(seed, stream, 0), uniform(seed, stream, 1)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * math.pi * u2)


def chi_square_even(seed: int, stream: int, dof: int) -> Column:
    """Chi-square with an even number of degrees of freedom: -2 log of a product of dof / 2 uniforms
    (a sum of dof / 2 exponentials with mean 2)."""
    if dof <= 0 or dof % 2:
        raise ValueError(f"dof must be a positive even number, got {dof}")
    logs = [F.log(uniform(seed, stream, 2 + k)) for k in range(dof // 2)]
    total = logs[0]
    for term in logs[1:]:
        total = total + term
    return -2.0 * total


def student_t(seed: int, stream: int, dof: int) -> Column:
    """Student-t with ``dof`` (even) degrees of freedom: a normal over sqrt(chi-square / dof)."""
    return normal(seed, stream) / F.sqrt(chi_square_even(seed, stream, dof) / dof)


def categorical(u: Column, cumulative: Sequence[float | Column]) -> Column:
    """The index of the first cumulative probability above ``u`` (the last index if none is): the
    inverse of a distribution function over a few categories. The cumulative probabilities may be
    columns, for shares that change from row to row; use an :class:`AliasTable` for many categories."""
    index = F.lit(len(cumulative) - 1)
    for i in range(len(cumulative) - 2, -1, -1):
        index = F.when(u < cumulative[i], F.lit(i)).otherwise(index)
    return index


def alias_slots(weights: Sequence[float]) -> list[tuple[float, int]]:
    """Vose's alias method: for each slot, the probability of keeping it and the index that replaces
    it otherwise. Drawing a slot uniformly and then keeping or replacing it gives index i with
    probability weights[i] / sum(weights). Zero weights are allowed (those slots are always replaced)."""
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    n = len(weights)
    scaled = [w * n / total for w in weights]
    keep = [1.0] * n
    alias = list(range(n))
    small = [i for i, s in enumerate(scaled) if s < 1.0]
    large = [i for i, s in enumerate(scaled) if s >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # What is left over holds probability 1 up to rounding: those slots always keep themselves.
    return list(zip(keep, alias, strict=True))


@dataclass(frozen=True)
class AliasTable:
    """Alias tables for one or more groups (e.g. one per fuel), each over the same ``size`` values,
    as a small DataFrame ``(_group, _slot, _keep, _alias)`` to broadcast-join on."""

    frame: DataFrame
    size: int

    @classmethod
    def of(cls, spark: SparkSession, weights_by_group: Sequence[Sequence[float]]) -> AliasTable:
        size = len(weights_by_group[0])
        if any(len(w) != size for w in weights_by_group):
            raise ValueError("every group needs a weight for each of the same values")
        rows = [(g, slot, keep, alias) for g, weights in enumerate(weights_by_group)
                for slot, (keep, alias) in enumerate(alias_slots(weights))]
        schema = T.StructType([T.StructField("_group", T.IntegerType(), False),
                               T.StructField("_slot", T.IntegerType(), False),
                               T.StructField("_keep", T.DoubleType(), False),
                               T.StructField("_alias", T.IntegerType(), False)])
        return cls(spark.createDataFrame(rows, schema), size)

    def draw(self, df: DataFrame, seed: int, stream: int, out: str, group: Column | None = None) -> DataFrame:
        """``df`` with column ``out``: an index drawn from ``group``'s table (group 0 if none)."""
        slot = F.least(F.floor(uniform(seed, stream, 0) * self.size), F.lit(self.size - 1)).cast("int")
        keyed = df.withColumn("_group", (group if group is not None else F.lit(0)).cast("int")) \
                  .withColumn("_slot", slot)
        joined = keyed.join(F.broadcast(self.frame), ["_group", "_slot"])
        chosen = F.when(uniform(seed, stream, 1) < F.col("_keep"), F.col("_slot")).otherwise(F.col("_alias"))
        return joined.withColumn(out, chosen).drop("_group", "_slot", "_keep", "_alias")
