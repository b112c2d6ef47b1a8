"""Issue 11 item 1: a slow process visible only in the second neighbour shell is resolved
by two multi-shell convolutions (the thesis' Eq. 4.4) and not by the first-shell variant."""

from __future__ import annotations

import pytest

from asegraph.examples.second_shell import run


@pytest.mark.parametrize(
    ("receptive_field", "n_conv", "resolved"),
    [("multi-shell", 2, True), ("first-shell", 2, False), ("multi-shell", 1, False)],
)
def test_second_shell_process(receptive_field, n_conv, resolved):
    vamp2, agreement, timescale, truth = run(receptive_field, n_conv, max_epochs=6)
    if resolved:  # VAMP-2 of a two-state chain with eigenvalue 0.9 at the lag: 1 + 0.81
        assert vamp2 > 1.6 and agreement > 0.95
        assert timescale == pytest.approx(truth, rel=0.25)
    else:  # the first shell is the same in both states: nothing slow to find
        assert vamp2 < 1.1 and agreement < 0.65
