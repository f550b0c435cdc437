#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Every function the library exports has a manual page: `man 3 NAME`
# reaches the page of its family, once installed; and every page formats
# without a warning.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

top=$(cd "$(dirname "$0")/../.." && pwd)
exported=$(sed -n 's/^[[:space:]]*\(yank_[a-z_]*\);$/\1/p' "$top/libshm/libyank.map")
"$top/docs/manlinks.sh" >"$T/links"
missing=
for f in $exported; do
	[ -f "$top/docs/$f.3" ] || grep -q "^$f " "$T/links" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok; else not_ok "no man page reaches:$missing"; fi
while read -r f page; do
	[ -f "$top/docs/$page.3" ] || not_ok "$f links to a missing page $page.3"
done <"$T/links"
ok
if command -v man >/dev/null; then
	for m in "$top"/docs/*.[1378]; do
		if LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>"$T/warn" >/dev/null && [ ! -s "$T/warn" ]; then
			ok
		else
			not_ok "$(basename "$m"): $(head -3 "$T/warn")"
		fi
	done
else
	echo "note: man is not installed: the pages are not formatted" >&2
fi
rm -rf "$T/man"
san=; case $B in *san*) san=1 ;; esac
if make -s -C "$top" install SANITIZE="$san" DESTDIR="$T/inst" PREFIX=/usr >/dev/null 2>&1; then
	check "man 3 yank_close reaches its family's page" \
		grep -q '^\.so man3/yank_open\.3$' "$T/inst/usr/share/man/man3/yank_close.3"
else
	not_ok "make install failed"
fi

finish
