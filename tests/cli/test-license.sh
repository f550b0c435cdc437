#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Every source file names its licence: LGPL-2.1-or-later for libyank and
# its header, GPL-2.0-or-later for the rest (LICENSE says why).
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

top=$(cd "$(dirname "$0")/../.." && pwd)
if ! git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "skipped: not a git work tree (an exported source tree)" >&2
	echo "0 passed, 0 failed"
	exit 77
fi
check "LICENSE and both texts are there" test -s "$top/LICENSE" -a -s "$top/LICENSES/LGPL-2.1-or-later.txt" -a -s "$top/LICENSES/GPL-2.0-or-later.txt"
missing= wrong=
while IFS= read -r f; do
	case $f in
	*.c | *.h | *.sh | *.bash | *.py | *.gp | *.map | *.in | *.[1378] | Makefile | .ci/run | debian/rules | completion/* | systemd/*) ;;
	*) continue ;;
	esac
	line=$(head -5 "$top/$f" | grep -o 'SPDX-License-Identifier: [^ ]*' | head -1)
	want=GPL-2.0-or-later
	case $f in libshm/* | include/*) want=LGPL-2.1-or-later ;; esac
	if [ -z "$line" ]; then
		missing="$missing $f"
	elif [ "${line#SPDX-License-Identifier: }" != "$want" ]; then
		wrong="$wrong $f"
	fi
done < <(git -C "$top" ls-files)
if [ -z "$missing" ]; then ok; else not_ok "no SPDX line in:$missing"; fi
if [ -z "$wrong" ]; then ok; else not_ok "the wrong licence in:$wrong"; fi

finish
