#!/usr/bin/env bash
# Checks the workspace's declared rust-version (Cargo.toml, [workspace.package]) against the
# dependencies locked in Cargo.lock: it must be the highest rust-version any of them declares
# for this platform (lower is false, higher is needlessly strict). With HULU_MSRV_BUILD=1 and
# that toolchain installed (rustup), it also type-checks the workspace with it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="$(rustc -vV | sed -n 's/^host: //p')"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo metadata --format-version 1 --filter-platform "$target" \
  | python3 -c '
import json, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
used = {n["id"] for n in meta["resolve"]["nodes"]}
def key(v): return tuple(int(x) for x in v.split("."))
declared = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
deps = [(key(p["rust_version"]), p["name"], p["rust_version"]) for p in meta["packages"]
        if p["id"] in used and p["id"] not in members and p.get("rust_version")]
need = max(deps)
if len(declared) != 1:
    sys.exit(f"workspace members declare different rust-versions: {sorted(declared)}")
have = declared.pop()
names = ", ".join(sorted(n for k, n, _ in deps if k == need[0]))
if key(have) != need[0]:
    sys.exit(f"rust-version is {have}, but the locked dependencies need {need[2]} ({names})")
print(f"rust-version {have}: the highest any locked dependency needs ({names})")
open(sys.argv[1], "w").write(have)
' "$out"
msrv="$(cat "$out")"
if [[ "${HULU_MSRV_BUILD:-0}" == 1 ]]; then
  if rustup toolchain list | grep -q "^$msrv"; then
    cargo "+$msrv" check --workspace --locked
  else
    echo "toolchain $msrv not installed (rustup toolchain install $msrv); build check skipped" >&2
  fi
fi
