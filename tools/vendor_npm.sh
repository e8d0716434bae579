#!/usr/bin/env bash
# Browser libraries come from npm, pinned by version and checksum, never from a
# CDN. Each line of tools/vendor_npm.txt names: package, version, sha256 of the
# npm tarball, the file to take, and where it goes (its LICENSE goes beside it).
# The copies are committed so that a fresh clone serves them offline; run
# `make vendor` after changing a line to fetch and check them again.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^\s*#' tools/vendor_npm.txt | while read -r name version sha file dest; do
    [ -n "$name" ] || continue
    (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
    tarball="$work/$(echo "${name#@}" | tr / -)-$version.tgz"
    echo "$sha  $tarball" | sha256sum --check --quiet
    mkdir -p "$work/$name" "$(dirname "$dest")"
    tar xzf "$tarball" -C "$work/$name"
    cp "$work/$name/package/$file" "$dest"
    for license in "$work/$name/package"/LICEN[SC]E*; do cp "$license" "$(dirname "$dest")/"; done
    echo "vendored $name $version -> $dest"
done
