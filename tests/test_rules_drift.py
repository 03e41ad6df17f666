"""Drift by the population stability index, pinned by behaviour (issue 17):
the baseline's quantile edges, a PSI computed by hand, the bounds of bins,
the messages for bad samples and the severity thresholds. Pure."""

from __future__ import annotations

import math

import pytest

from modelreg.errors import InvalidInput
from modelreg.monitoring.drift import drift_severity, population_stability_index, quantile_edges


def test_quantile_edges_are_nearest_rank_and_merged():
    assert quantile_edges(list(range(10, 0, -1)), 4) == [3, 5, 8]
    assert quantile_edges(list(range(1, 11)), 2) == [5]
    assert quantile_edges([1, 1, 1, 1, 2], 4) == [1]  # duplicates merged
    assert quantile_edges([2, 1], 4) == [1, 2]  # more bins than values: the first quantile is the smallest


def test_psi_by_hand():
    # two bins split at 5: the baseline half and half, the latest 3/4 and 1/4
    psi = population_stability_index(list(range(1, 11)), [1, 1, 1, 10], bins=2, min_baseline=1, min_latest=1)
    assert psi == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2))
    same = population_stability_index(list(range(1, 11)), list(range(1, 11)), bins=2, min_baseline=1, min_latest=1)
    assert same == 0.0


def test_psi_with_unequal_baseline_shares():
    # split at 1: the baseline 3/4 and 1/4, the latest half and half
    psi = population_stability_index([1, 1, 1, 2], [1, 2], bins=2, min_baseline=1, min_latest=1)
    assert psi == pytest.approx(-0.25 * math.log(2 / 3) + 0.25 * math.log(2))
    assert psi == pytest.approx(0.274653, abs=1e-6)


def test_empty_bins_are_floored_not_skipped():
    # the baseline has nothing above 2, the latest has nothing else: each side's empty bin counts
    # as a share of 1e-4, so the index is large and finite
    psi = population_stability_index([1, 2, 2, 2], [3, 3], bins=2, min_baseline=1, min_latest=1)
    assert psi == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))
    # edges 1 and 2: the bin above 2 is empty on both sides and adds nothing
    psi = population_stability_index([1, 2, 2, 2], [1, 1, 2, 2], bins=4, min_baseline=1, min_latest=1)
    assert psi == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))


def test_one_value_is_enough_when_the_minimum_allows_it():
    assert population_stability_index([1.0], [1.0], bins=2, min_baseline=1, min_latest=1) == 0.0
    assert population_stability_index([], [1.0], bins=2, min_baseline=0, min_latest=0) is None  # never from nothing
    assert population_stability_index([1.0], [], bins=2, min_baseline=0, min_latest=0) is None


def test_bins_are_an_integer_from_two():
    assert population_stability_index([1.0, 2.0], [1.0], bins=2, min_baseline=1, min_latest=1) is not None
    for bins in (1, 0, True, 2.0):
        with pytest.raises(InvalidInput, match=rf"^bins: expected an integer >= 2, got {bins!r}$"):
            population_stability_index([1.0, 2.0], [1.0], bins=bins)


def test_bad_samples_are_named():
    with pytest.raises(InvalidInput, match=r"^baseline sample: expected numbers, got str$"):
        population_stability_index(["1"], [1.0])
    with pytest.raises(InvalidInput, match=r"^latest sample: expected numbers, got bool$"):
        population_stability_index([1.0], [True])
    with pytest.raises(InvalidInput, match=r"^latest sample: expected finite numbers, got nan$"):
        population_stability_index([1.0], [float("nan")])


def test_too_small_samples_give_no_index():
    assert population_stability_index([1.0, 2.0], [1.0], min_baseline=3, min_latest=1) is None
    assert population_stability_index([1.0, 2.0, 3.0], [1.0], min_baseline=3, min_latest=2) is None
    assert population_stability_index([1.0, 2.0, 3.0], [1.0], bins=2, min_baseline=3, min_latest=1) is not None


def test_severity_thresholds():
    assert [drift_severity(v) for v in (None, float("nan"), 0.0, 0.1, 0.1001, 0.25, 0.2501)] == [
        None, None, None, None, "warning", "warning", "critical",
    ]  # fmt: skip
    assert drift_severity("0.5") is None  # type: ignore[arg-type]  # not a number: no alert, no crash
