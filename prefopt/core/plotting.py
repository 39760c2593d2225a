"""matplotlib on a headless machine: every figure of the project is drawn through `pyplot()`."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (no display on training nodes or in CI)."""
    import matplotlib  # noqa: PLC0415 (imported on first plot only: training does not pay for it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt
