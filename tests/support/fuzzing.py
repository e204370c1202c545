"""Shared pieces of the fuzz tests: reproducible hypothesis settings and strategies for the odd
input users give cfgtrack (config trees, override strings, spec strings)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fuzz(max_examples: int) -> settings:
    """The same cases on every machine and every run (CI reproducibility), no deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# Text that has broken config tools: YAML and Hydra syntax, interpolations that resolve, do not
# resolve or only resolve inside a run, rich markup, control characters, secrets, MLflow limits.
NASTY_TEXT = (
    "",
    " ",
    "???",
    "${a}",
    "${nope}",
    "${a.b.c}",
    "${oc.env:CFGTRACK_FUZZ_UNSET}",
    "${oc.env:CFGTRACK_FUZZ_UNSET,fallback}",
    "${hydra:runtime.output_dir}/x",
    "${now:%Y-%m-%d}",
    "${oc.decode:'[1, 2'}",
    "${",
    "}",
    "$${a}",
    "\\${a}",
    "[/]",
    "[bold]x[/bold]",
    "null",
    "~",
    "true",
    "1e5",
    ".nan",
    "'",
    '"',
    "\\",
    "\n",
    "a\tb",
    "\x00",
    "\x1b[31mred",
    "é",
    "日本語",
    "🙂",
    "a=b",
    "a,b",
    "{a: 1}",
    "[1, 2",
    "#comment",
    "- item",
    "@",
    "a@b",
    "run:",
    "--help",
    "password=hunter22",
    "https://alice:s3cr3t@example.com/x",
    "AKIAABCDEFGHIJKLMNOP",
    "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
    "x" * 251,
    "y" * 6001,
)
odd_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=12))

# Keys MLflow rejects, keys with the path separator, unicode, secret names, numbers.
NASTY_KEYS = (
    "a",
    "b",
    "lr",
    "name",
    "seed",
    "password",
    "api_key",
    "max_tokens",
    "a.b",
    "",
    " ",
    "a b",
    "a:b",
    "a/b",
    "../x",
    "é",
    "$",
    "${a}",
    "[/]",
    "_target_",
    "k" * 251,
)
odd_keys = st.one_of(
    st.sampled_from(NASTY_KEYS), st.text(max_size=8), st.integers(-3, 300), st.booleans()
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    odd_text,
)


def trees(keys: st.SearchStrategy[Any] = odd_keys, max_leaves: int = 12) -> st.SearchStrategy:
    """Nested mappings and lists of scalars, as YAML or an OmegaConf config holds them."""
    return st.dictionaries(
        keys,
        st.recursive(
            scalars,
            lambda inner: st.one_of(
                st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)
            ),
            max_leaves=max_leaves,
        ),
        max_size=6,
    )


# Hydra override strings: well-formed ones on known and unknown keys, sweeps, deletions,
# appends, group choices, and text that is no override at all.
override_keys = st.sampled_from(
    ["a", "b", "seed", "model", "model.lr", "model.name", "trainer.epochs", "nope", "a.b.c", ""]
)
override_values = st.one_of(
    st.sampled_from(
        [
            "1",
            "0.5",
            "null",
            "true",
            "[]",
            "{}",
            "[1,2]",
            "{x:1}",
            "'quoted'",
            '"dq"',
            "large",
            "small",
            "huge",
            "1,2",
            "range(1,3)",
            "choice(a,b)",
            "str(1)",
            "int(x)",
            "${seed}",
            "${nope}",
            "'${oc.env:CFGTRACK_FUZZ_UNSET}'",
            "???",
            "a b",
            "\\",
            "é",
            "[/]",
            "'[bold]'",
            "x" * 300,
        ]
    ),
    st.text(max_size=8),
)
well_formed = st.builds(
    lambda prefix, key, value: f"{prefix}{key}={value}",
    st.sampled_from(["", "", "+", "++", "~"]),
    override_keys,
    override_values,
)
overrides = st.one_of(
    well_formed,
    well_formed,
    well_formed,
    st.builds(lambda key: f"~{key}", override_keys),
    st.sampled_from(["hydra.job.chdir=true", "hydra/launcher=basic", "model=", "=1", "a"]),
    st.text(max_size=10),
)
