#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Print "FUNCTION PAGE" for every function a section 3 page names in its
# NAME section, other than the page's own: the links `make install` makes
# so that `man 3 FUNCTION` reaches the page of its family.
cd "$(dirname "$0")" || exit 1
for m in *.3; do
	page=${m%.3}
	sed -n '/^\.SH NAME/,/\\-/p' "$m" | sed '1d; s/ *\\-.*//' | tr ',' '\n' |
		sed 's/^ *//; s/ *$//' | while read -r f; do
			[ -n "$f" ] && [ "$f" != "$page" ] && [ "$f" != libyank ] && echo "$f $page"
		done
done
