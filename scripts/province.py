"""Write a province plan for benchmarks: the 随县 plan with its towns multiplied.

    .venv/bin/python scripts/province.py --towns 1000 --out out/province

writes OUT/province-N.yaml and OUT/units/province-N.yaml (N towns in N/10 counties; see
`rules.province.multiply`); `duban plan check OUT/province-N.yaml` reads them back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.loading import parse_yaml  # noqa: E402
from rules.province import multiply  # noqa: E402

PLAN = ROOT / "plans" / "suixian-2021.yaml"


def write(towns: int, out: Path, per_county: int = 10) -> Path:
    """The province's plan file (its directory beside it in units/)."""
    # The project's own YAML reading: plain YAML 1.1 would read the key `no:` as False.
    plan, _ = parse_yaml(PLAN.read_text(encoding="utf-8"), path=str(PLAN))
    dpath = PLAN.parent / plan["directory"]
    directory, _ = parse_yaml(dpath.read_text(encoding="utf-8"), path=str(dpath))
    name = f"province-{towns}"
    p, d = multiply(plan, directory, towns=towns, per_county=per_county, directory_ref=f"units/{name}.yaml")
    (out / "units").mkdir(parents=True, exist_ok=True)
    (out / "units" / f"{name}.yaml").write_text(dump(d), encoding="utf-8")
    path = out / f"{name}.yaml"
    path.write_text(dump(p), encoding="utf-8")
    return path


def dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=1000)
    ap.add_argument("--per-county", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "province")
    a = ap.parse_args()
    print(write(a.towns, a.out, a.per_county))


if __name__ == "__main__":
    main()
