"""Batch BO on Hartmann-6 through the campaign machinery (about a minute on a laptop CPU).

Shows the pieces of ``asegraph optimize`` without running MD: a design space, a
persistent campaign with local penalization, resuming, and the report figures.

    python examples/optimize_hartmann.py [DIRECTORY]
"""

import sys
import tempfile
from pathlib import Path

from asegraph.optimize.campaign import Campaign, CampaignConfig
from asegraph.optimize.report import make_report
from asegraph.optimize.space import DesignSpace, Parameter


def main(directory: Path) -> None:
    space = DesignSpace([Parameter(f"x{k}", 0.0, 1.0) for k in range(6)])
    config = CampaignConfig(
        space=space,
        name="hartmann6",
        seed=0,
        strategy="lp-logei",
        n_initial=10,
        batch=4,
        budget=30,
        objective="value",
        evaluator="asegraph.optimize.testfunctions:synthetic",
        simulation={"function": "hartmann6", "noise_sd": 0.05},
    )
    campaign = Campaign(config, directory)
    campaign.run(executor="threads", stop_after=12)  # pretend we were interrupted ...
    results = campaign.run(executor="threads")  # ... and resume
    best = max(r["value"] for r in results.values() if r["status"] == "ok")
    print(f"{len(results)} evaluations, best noisy value {best:.3f} (max 3.322)")
    summary = make_report(directory)
    print("figures:", ", ".join(summary["figures"]), "in", directory / "report")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "hartmann6")
