"""java.lang.Math on doubles, in Python.

MLeap computes in JVM doubles. Python's ``math`` agrees on finite, in-domain arguments but raises where
Java returns a value (division by zero, log of a negative, exp overflow, fmod by zero, trig of infinity),
and differs on a few special cases (``pow(1, NaN)``, ``min`` with NaN or signed zeros, ``floor``
returning an int). These functions never raise on a float and return what the JVM returns.
"""

from __future__ import annotations

import math
from fractions import Fraction

_INF = math.inf
_NAN = math.nan
_LONG_MAX_AS_DOUBLE = 9.223372036854775807e18  # (double) Long.MAX_VALUE == 2**63
_TWO_52 = 4503599627370496.0
_EXACT_POW_MAX_EXPONENT = 16


def div(a: float, b: float) -> float:
    """``a / b``: ±Infinity or NaN on division by zero, never an exception."""
    if b == 0.0:
        if a == 0.0 or a != a:
            return _NAN
        # Sign of the infinity is sign(a) xor sign(b), signed zeros included.
        return math.copysign(_INF, a) * math.copysign(1.0, b)
    return a / b


def rem(a: float, b: float) -> float:
    """Java's ``a % b`` on doubles (C's fmod: the result takes the sign of a)."""
    if a != a or b != b or math.isinf(a) or b == 0.0:
        return _NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def log(a: float) -> float:
    if a > 0.0:
        return math.log(a)  # inf -> inf
    if a == 0.0:
        return -_INF
    return _NAN  # negative or NaN


def log_n(a: float, b: float) -> float:
    """MLeap's ``log_n``: ``Math.log(a) / Math.log(b)``."""
    return div(log(a), log(b))


def pow_(a: float, b: float) -> float:
    """``Math.pow``: follows the JLS special cases, which differ from C99's on NaN and ±1."""
    if b != b:
        return _NAN  # Java: NaN exponent gives NaN, even for a base of 1
    if b == 0.0:
        return 1.0
    if a != a:
        return _NAN
    if math.isinf(b) and abs(a) == 1.0:
        return _NAN
    try:
        result = math.pow(a, b)
    except OverflowError:
        # Finite arguments whose result overflows; the sign is negative only for a negative base
        # raised to an odd integer.
        negative = a < 0.0 and b.is_integer() and math.fmod(b, 2.0) != 0.0
        return -_INF if negative else _INF
    except ValueError:
        # Negative base with a non-integer exponent: NaN. Zero base with a negative exponent: ±inf.
        if a == 0.0:
            odd = b.is_integer() and math.fmod(b, 2.0) != 0.0
            return math.copysign(_INF, a) if odd else _INF
        return _NAN
    if b.is_integer() and abs(b) <= _EXACT_POW_MAX_EXPONENT and result != 0.0 and math.isfinite(result):
        # libm's pow can be an ulp off near a rounding tie (pow(0.49999999999999994, -1) gives 2.0);
        # the JVM's is correctly rounded there. For small integer powers the exact rational power,
        # rounded once, is cheap and matches it.
        return float(Fraction(a) ** int(b))
    return result


def min_(a: float, b: float) -> float:
    """``Math.min``: NaN if either is NaN, and -0.0 is smaller than 0.0."""
    if a != a or b != b:
        return _NAN
    if a == b == 0.0:
        return a if math.copysign(1.0, a) < 0 else b
    return a if a < b else b


def max_(a: float, b: float) -> float:
    """``Math.max``: NaN if either is NaN, and 0.0 is larger than -0.0."""
    if a != a or b != b:
        return _NAN
    if a == b == 0.0:
        return a if math.copysign(1.0, a) > 0 else b
    return a if a > b else b


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return _INF


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0.0 or a != a else _NAN  # sqrt(-0.0) is -0.0, as in Java


def sin(a: float) -> float:
    return math.sin(a) if math.isfinite(a) else _NAN


def cos(a: float) -> float:
    return math.cos(a) if math.isfinite(a) else _NAN


def tan(a: float) -> float:
    return math.tan(a) if math.isfinite(a) else _NAN


def abs_(a: float) -> float:
    return math.fabs(a)


def floor(a: float) -> float:
    """``Math.floor``: a double; NaN, infinities and signed zeros come back unchanged."""
    if not math.isfinite(a) or a == 0.0 or abs(a) >= _TWO_52:
        return a
    return float(math.floor(a))


def ceil(a: float) -> float:
    """``Math.ceil``: a double; a value in (-1, 0) gives -0.0, as in Java."""
    if not math.isfinite(a) or a == 0.0 or abs(a) >= _TWO_52:
        return a
    if -1.0 < a < 0.0:
        return -0.0
    return float(math.ceil(a))


def round_(a: float) -> float:
    """``(double) Math.round(a)``: floor(a + 1/2) computed exactly, as a long, then widened.

    NaN gives 0; values beyond the long range saturate. Exactness matters at 0.49999999999999994,
    where a naive ``floor(a + 0.5)`` rounds the sum up to 1.
    """
    if a != a:
        return 0.0
    if a >= _LONG_MAX_AS_DOUBLE:
        return _LONG_MAX_AS_DOUBLE
    if a <= -_LONG_MAX_AS_DOUBLE:
        return -_LONG_MAX_AS_DOUBLE
    if abs(a) >= _TWO_52:
        return float(int(a))  # already an integer; float(int) also turns -0.0 into 0.0
    whole = math.floor(a)
    # a - whole is exact here (|a| < 2**52), so the comparison with one half is too.
    return float(whole + 1 if a - whole >= 0.5 else whole)


def logit(a: float) -> float:
    """commons-math3 ``Logit().value(a)``: ``log(a / (1 - a))``; outside [0, 1] it throws.

    Raises ValueError for an argument outside [0, 1] (NaN passes through, as in commons-math).
    """
    if a < 0.0 or a > 1.0:
        raise ValueError(f"logit argument {a!r} is outside [0, 1]")
    return log(div(a - 0.0, 1.0 - a))
