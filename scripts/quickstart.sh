#!/usr/bin/env bash
# The first command for a new user on a fresh Debian 12 machine (as root): installs what is
# missing (ZooKeeper, MariaDB, NATS from Debian; the npm packages), builds canal-ts, and runs
# the demo. Extra arguments go to `canal-ts demo` (e.g. --keep).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
node --import tsx scripts/servers.ts install
npm run --silent build
exec node dist/cli.js demo "$@"
