"""Team-name normalisation shared by the alias table and every lookup.

Both sides of a lookup go through the same rules, so "St. Louis Blues", "St Louis Blues" and
"Saint Louis Blues" meet at one key, as do "Montréal"/"Montreal", "Brighton & Hove Albion FC"/
"Brighton and Hove Albion" and "AFC Bournemouth"/"Bournemouth". The polars expression and the
scalar function implement the same rules (a test keeps them in step); the expression is what
batch paths use.
"""

import re
import unicodedata

import polars as pl

# Tokens that carry no identity: club-type suffixes/prefixes.
_DROP_TOKENS = ("fc", "afc", "cf", "sc")
# Token rewrites applied after punctuation is gone.
_TOKEN_REWRITES = {"saint": "st", "utd": "united"}

_DROP_RE = r"\b(?:" + "|".join(_DROP_TOKENS) + r")\b"
_KEEP_JOINED_RE = r"[.'’`]"  # "L.A." -> "la", "A's" -> "as", "Nott'm" -> "nottm"
_SEPARATOR_RE = r"[^a-z0-9]+"


def normalize_name(name: str | None) -> str | None:
    """Scalar twin of `normalize_expr`, for one-off lookups."""
    if name is None:
        return None
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = s.replace("&", " and ")
    s = re.sub(_KEEP_JOINED_RE, "", s)
    s = re.sub(_SEPARATOR_RE, " ", s)
    for src, dst in _TOKEN_REWRITES.items():
        s = re.sub(rf"\b{src}\b", dst, s)
    s = re.sub(_DROP_RE, " ", s)
    return " ".join(s.split())


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised normalisation of a string column (same rules as `normalize_name`)."""
    out = (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all("&", " and ", literal=True)
        .str.replace_all(_KEEP_JOINED_RE, "")
        .str.replace_all(_SEPARATOR_RE, " ")
    )
    for src, dst in _TOKEN_REWRITES.items():
        out = out.str.replace_all(rf"\b{src}\b", dst)
    out = out.str.replace_all(_DROP_RE, " ")
    return out.str.replace_all(r"\s+", " ").str.strip_chars()
