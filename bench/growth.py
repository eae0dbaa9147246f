"""The growth table and plot of issue 9 from runs of bench/scale.py saved as JSON.

    .venv/bin/python bench/scale.py --clusters 100 --instances 10 ... > runs/10.json
    .venv/bin/python bench/scale.py --clusters 100 --instances 1000 ... > runs/1000.json
    .venv/bin/python bench/growth.py runs/*.json --csv growth.csv --plot docs/images/growth.svg

Each file holds one run's JSON document, or ``{"runs": [...]}`` as ``scale.py --growth`` prints. A run of
1,000 instances takes most of an hour, so runs are made one by one and put together here; ``scale.py --growth``
does all of it in one go for smaller fleets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scale_report import plot_growth, print_growth


def runs_in(path: Path) -> list[dict[str, Any]]:
    document = json.loads(path.read_text())
    return list(document["runs"]) if "runs" in document else [document]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="JSON printed by bench/scale.py")
    parser.add_argument("--csv", type=Path, help="write the growth table here too")
    parser.add_argument("--plot", type=Path, help="draw the growth here (.svg or .png; needs matplotlib)")
    args = parser.parse_args()
    results = sorted((run for path in args.runs for run in runs_in(path)), key=lambda r: int(r["instances"]))
    print_growth(results, args.csv)
    if args.plot is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_growth(results, args.plot)


if __name__ == "__main__":
    main()
