#!/usr/bin/env python3
"""Architecture check over `cargo metadata`: a service crate depends only on shared/ crates.

Services live under services/; only the `nl` binary and `nl-runtime` (which starts services together)
may link them. Dev-dependencies count too: a test that needs two services belongs in the workspace's
end-to-end tests (tests/, run by the nl package), not in one service's crate. Exit 1 names every
offending edge.

L5 isolation (ARCHITECTURE.md invariant 5): no crate on the decision path (the gate, and the enricher and
risk-scorer that feed it) depends on `nl-ai-dispatch`, directly or through other workspace crates.
"""
import json
import subprocess
import sys

LINKERS = {"nl", "nl-runtime"}

meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
    check=True, capture_output=True, text=True).stdout)
packages = {p["name"]: p for p in meta["packages"]}
services = {n for n, p in packages.items() if "/services/" in p["manifest_path"]}
bad = sorted(
    f"{name} -> {dep['name']}" + (f" ({dep['kind']})" if dep.get("kind") else "")
    for name in services - LINKERS
    for dep in packages[name]["dependencies"]
    if dep["name"] in services
)
if bad:
    print("Service crates depend on other service crates (ARCHITECTURE.md: services depend only on shared/):")
    for edge in bad:
        print(f"  {edge}")
    sys.exit(1)
print(f"check-deps: {len(services - LINKERS)} service crates depend only on shared/ crates.")

AI = "nl-ai-dispatch"
DECISION_PATH = ["nl-gate", "nl-risk-scorer", "nl-enricher"]


def reaches_ai(start):
    """The chain of workspace crates from `start` to the AI crate, or None (every dependency kind)."""
    seen, stack = set(), [(start, [start])]
    while stack:
        name, path = stack.pop()
        if name == AI:
            return path
        if name in seen or name not in packages:
            continue
        seen.add(name)
        stack.extend((d["name"], path + [d["name"]]) for d in packages[name]["dependencies"])
    return None


if AI not in packages:
    print(f"check-deps: {AI} is not in the workspace")
    sys.exit(1)
chains = [c for c in (reaches_ai(n) for n in DECISION_PATH) if c]
if chains:
    print("L5 isolation broken: a decision-path crate depends on the AI layers:")
    for c in chains:
        print("  " + " -> ".join(c))
    sys.exit(1)
print(f"check-deps: {', '.join(DECISION_PATH)} do not depend on {AI} (L5 is final).")
