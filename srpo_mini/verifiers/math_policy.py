"""The numbers behind the math verifier's equivalence policy and safety limits.

The policy itself (what counts as "the same answer") is stated once, in
docs/math_verifier.md; this module only holds the constants it refers to, each with the
reason for its value, so that the extractor, the parser and the comparator read the same
limits.
"""

from __future__ import annotations

# --- Numeric tolerance -------------------------------------------------------------
# A decimal written by the model is an approximation: 0.3333333 may stand for 1/3.
# It matches a value v when |d - v| <= RELATIVE_TOLERANCE * max(|d|, |v|) and, when the
# answer is one bare decimal, also |d - v| <= one unit in its last written place (so
# 1000000.5 does not match 1000001 and 0.333 does not match 1/3).
RELATIVE_TOLERANCE = 1e-6
# Exact expressions (no decimal written anywhere) are compared exactly when both are
# rational, and otherwise numerically at EVAL_DIGITS significant digits; they are judged
# equal when they agree to EXACT_MATCH_DIGITS digits (1 - 1/e and 1 + 1/e differ in the
# first digit; an identity like sqrt(8) = 2 sqrt(2) agrees in all of them).
EVAL_DIGITS = 40
EXACT_MATCH_DIGITS = 25
# Two constants that both evaluate below 10^-(EVAL_DIGITS - 10) are re-evaluated at this
# precision: `e^{-100}` is then not 0, and a true zero is still below 10^-(TINY_DIGITS - 10).
TINY_DIGITS = 120

# --- Expressions with free symbols -------------------------------------------------
# Compared at random rational points (seeded from the two answers, so a verdict is
# reproducible but the points are not known in advance): equal when at least
# MIN_VALID_POINTS points are defined and all of them agree. Magnitudes cycle through
# POINT_SCALES, both signs at each (`\max(x, -5)` and `x` differ only below -5).
RANDOM_POINTS = 6
MIN_VALID_POINTS = 3
MAX_POINT_TRIES = 16
POINT_SCALES = (3, 30, 300)

# --- Words ---------------------------------------------------------------------------
# The one list of words the verifier ignores: units of measure written after a value
# (`5 \text{ cm}`, `12 dollars`, `3.2 \mathrm{~m} / \mathrm{s}`). Every other word in
# `\text{}` is kept and compared, case-insensitively (`4:30 \text{ p.m.}` is not
# `4:30 \text{ a.m.}`; `\text{No}` is `no`). "percent" is not a unit: it is `\%`.
IGNORED_UNITS = (
    r"cm|mm|km|kg|mg|g|m|s|h|d|min|mins|sec|secs|seconds?|minutes?|hours?|hrs?|hr|days?|"
    r"weeks?|months?|years?|yrs?|dollars?|cents?|units?|sq\.?\s*units?|square\s+units?|"
    r"square\s+(?:feet|meters|metres|inches|centimeters|miles|yards)|"
    r"cubic\s+(?:units|feet|meters|metres|inches|centimeters)|feet|foot|ft|in|inches|inch|"
    r"meters?|metres?|miles?|mi|yards?|yd|mph|liters?|litres?|l|ml|L|mL|pounds?|lbs?|lb|"
    r"ounces?|oz|N|J|W|V|K|Hz|kHz|MHz|GHz|Pa|kPa|eV|keV|MeV|T|nm|um|pc|kpc|Mpc|AU|ly|"
    r"people|students|ways|times|points|items|apples|marbles|books|degrees?")

# --- Safety limits (checked before anything is built) -------------------------------
MAX_EXTRACT_CHARS = 1_000_000  # a longer completion has no answer (nothing is scanned)
MAX_ANSWER_CHARS = 10_000  # an extracted answer longer than this is not parsed
MAX_PARSE_CHARS = 4_000  # the parser refuses longer normalized answers
MAX_NUMBER_DIGITS = 1_000  # digits in one numeric literal
MAX_NESTING = 60  # brackets, braces, fractions and roots inside each other
MAX_RESULT_BITS = 100_000  # an exact power may have at most this many bits (~30,000 digits)
MAX_EXPONENT = 10_000  # |exponent| of a power whose base is not 0, 1 or -1
MAX_PRODUCT_BITS = 400_000  # an exact product of rationals (a chain of huge powers)
MAX_ROOT_BITS = 1_024  # sympy factors a radicand: sqrt of a 10,000-bit integer takes seconds
MAX_FACTORIAL = 2_000  # n! is built exactly for integer n up to this
MAX_BINOMIAL = 10_000  # binomial(n, k) for n up to this
MAX_MATRIX_CELLS = 400  # entries of a matrix
MAX_DETERMINANT_SIZE = 6  # vmatrix determinants up to 6 x 6
MAX_COLLECTION = 64  # elements of a tuple, list or set
MAX_SUM_TERMS = 100  # summands read in all finite \sum / \prod of an answer
MAX_PLUS_MINUS = 3  # \pm / \mp occurrences expanded into 2**k alternatives

# --- Worker processes ---------------------------------------------------------------
DEFAULT_TIMEOUT = 2.0  # seconds per check: the hard wall-clock limit
WORKER_MEMORY_MB = 1024  # RLIMIT_AS of each worker (address space, not resident memory)
