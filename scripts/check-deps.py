#!/usr/bin/env python3
"""Architecture check over `cargo metadata`: a service crate depends only on shared/ crates.

Services live under services/; only the `nl` binary and `nl-runtime` (which starts services together)
may link them. Dev-dependencies count too: a test that needs two services belongs in the workspace's
end-to-end tests (tests/, run by the nl package), not in one service's crate. Exit 1 names every
offending edge.
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
