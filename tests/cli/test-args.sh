#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl's command line: help and version, option placement, segment
# selection, and bad command lines.  Every bad line must exit 1 with a
# "yankctl: ..." message on stderr, print nothing on stdout, and yank
# nothing: a registrant stays blocked on the very instances the bad lines
# name, and is checked at the end.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

new_segment args
S=$seg
start_server
start_registrant r "$S" chardev:c0 block-node:disk0 migration

# bad ARG...: one check that the command line is refused as bad usage.
bad() {
	run "$YANKCTL" "$@"
	if [ "$rc" = 1 ] && grep -q '^yankctl: ' "$T/err" && [ ! -s "$T/out" ]; then
		ok
	else
		not_ok "bad usage $(printf '%q ' "$@"): exit $rc, stderr '$(head -c 300 "$T/err")', stdout '$(head -c 100 "$T/out")'"
	fi
}

long256=$(printf 'a%.0s' $(seq 256))
long300=$(printf 'x%.0s' $(seq 300))
longseg=/$(printf 's%.0s' $(seq 300))

# Options and commands.
bad
bad bogus
bad ""
bad --segment "$S"
bad --bogus list
bad -x list
bad -sx list
bad --segment
bad -s
bad --segment "" list
bad --segment= list
bad --timeout list
bad --timeout 0 list
bad --timeout -5 list
bad --timeout abc list
bad --timeout 10h list
bad --timeout 1.5s list
bad --timeout 11m list
bad --timeout ms list
bad --segm
bad --timeout 600001 list
bad --timeout 99999999999999999999 list
bad --timeout "" list
bad --timeout= list
bad -t 5
bad --json=yes list
bad --help=x
bad --version=1
bad --segment "$S" list extra
bad --segment "$S" list --segment
bad --segment "$S" status extra
bad --segment "$S" gc extra
bad --segment "$S" qmp extra
bad help bogus
bad help list extra
bad --segment bad-name list
bad --segment /a/b list
bad --segment "$longseg" list

# Instances: every one is checked before anything is looked up, so a
# valid chardev:c0 next to a bad one is not yanked.
bad --segment "$S" yank
bad --segment "$S" yank --
bad --segment "$S" yank ""
bad --segment "$S" yank chardev
bad --segment "$S" yank chardev:
bad --segment "$S" yank block-node
bad --segment "$S" yank block-node:
bad --segment "$S" yank migration:
bad --segment "$S" yank migration:x
bad --segment "$S" yank foo:bar
bad --segment "$S" yank foo
bad --segment "$S" yank Chardev:c0
bad --segment "$S" yank " chardev:c0"
bad --segment "$S" yank "chardev :c0"
bad --segment "$S" yank block_node:disk0
bad --segment "$S" yank blockdev:disk0
bad --segment "$S" yank chardev:c0 bogus
bad --segment "$S" yank bogus chardev:c0
bad --segment "$S" yank chardev:c0 block-node:disk0 migration ""
bad --segment "$S" yank chardev:c0 migration:
bad --segment "$S" yank -- -chardev:c0
bad --segment "$S" yank chardev:c0 --timeout
bad --segment "$S" yank chardev:c0 --json=1
bad --segment "$S" yank $'chardev:a\tb'
bad --segment "$S" yank $'chardev:a\nb' chardev:c0
bad --segment "$S" yank $'chardev:\e[31mred'
bad --segment "$S" yank $'chardev:\x7f'
bad --segment "$S" yank $'chardev:\x01' chardev:c0
bad --segment "$S" yank $'chardev:\xff'
bad --segment "$S" yank $'chardev:\xc3\x28'
bad --segment "$S" yank $'chardev:\xe2\x82'
bad --segment "$S" yank $'chardev:\xc0\xaf'
bad --segment "$S" yank $'chardev:\xed\xa0\x80'
bad --segment "$S" yank $'block-node:\xf5\x80\x80\x80'
bad --segment "$S" yank $'chardev:c1\xc2\x85'
bad --segment "$S" yank "block-node:$long256"
bad --segment "$S" yank "chardev:$long300" chardev:c0

# The messages name the argument and the reason.
run "$YANKCTL" --segment "$S" yank chardev:c0 foo:bar
err_has "'foo:bar': unknown instance type 'foo'" "unknown type message"
err_has "block-node:NAME, chardev:ID or migration" "accepted forms are shown"
run "$YANKCTL" --segment "$S" yank migration:x
err_has "migration takes no name" "migration with a name"
run "$YANKCTL" --segment "$S" yank "block-node:$long256"
err_has "longer than 255 bytes" "long name"
run "$YANKCTL" --segment "$S" yank $'chardev:\xff'
err_has 'not valid UTF-8' "bad UTF-8"
err_has "'chardev:\\xff'" "undisplayable bytes are escaped"
run "$YANKCTL" --segment "$S" yank $'chardev:a\tb'
err_has 'control character' "control byte"
run "$YANKCTL" --timeout 0 list
err_has '--timeout' "timeout message names the option"
run "$YANKCTL" frobnicate
err_has "unknown command 'frobnicate'" "unknown command message"
err_has "Try 'yankctl --help'" "hint to --help"

# A 255-byte name is valid: it is merely not registered (exit 2).
expect_rc 2 "255-byte name is accepted" "$YANKCTL" --segment "$S" yank "block-node:${long256:1}"

# Help and version: exit 0, on stdout.
expect_rc 0 "--help" "$YANKCTL" --help
out_has "Usage: yankctl" "--help shows usage"
out_has "Exit status" "--help documents exit status"
expect_rc 0 "-h" "$YANKCTL" -h
out_has "Usage: yankctl" "-h shows usage"
for c in list yank qmp status gc; do
	expect_rc 0 "$c --help" "$YANKCTL" "$c" --help
	out_has "yankctl [OPTIONS] $c" "$c --help shows its usage"
	expect_rc 0 "help $c" "$YANKCTL" help "$c"
	out_has "yankctl [OPTIONS] $c" "help $c shows its usage"
done
expect_rc 0 "--help wins over a bad instance" "$YANKCTL" yank foo:bar --help
expect_rc 0 "help" "$YANKCTL" help
out_has "Commands:" "help lists commands"
expect_rc 0 "--version" "$YANKCTL" --version
if grep -qE '^yankctl [0-9]+\.[0-9]+\.[0-9]+$' "$T/out"; then ok; else not_ok "--version output: $(cat "$T/out")"; fi
# The library's version is the release's: the Makefile's VERSION, which
# names the shared library and the packages.
release=$(sed -n 's/^VERSION *:= *//p' "$(dirname "$0")/../../Makefile")
check "--version says the release, $release" test "$(cat "$T/out")" = "yankctl $release"
expect_rc 0 "-V" "$YANKCTL" -V

# Options before or after the command, in every spelling.
expect_rc 0 "options after the command" "$YANKCTL" list --segment "$S" --json
out_has '"id": "c0"' "options after the command apply"
expect_rc 0 "--segment=NAME --timeout=MS" "$YANKCTL" --segment="$S" --timeout=500 -j list
out_has '"node-name": "disk0"' "--segment= applies"
expect_rc 0 "-s -t -j" "$YANKCTL" -s "$S" -t 1 -j list
out_has '"type": "migration"' "-s applies"
expect_rc 0 "-- ends options" "$YANKCTL" -s "$S" -- list
out_has "chardev" "-- then command"
# getopt_long's spellings: bundled, attached, abbreviated; durations with units.
expect_rc 0 "bundled -jt500" "$YANKCTL" -s "$S" -jt500 list
out_has '"id": "c0"' "-jt500: --json applies"
expect_rc 0 "attached -t500 and -s" "$YANKCTL" -s"$S" -t500 list
out_has "chardev" "-sNAME applies"
expect_rc 0 "--timeout=2s" "$YANKCTL" --segment "$S" --timeout=2s list
expect_rc 0 "--timeout 1m" "$YANKCTL" --segment "$S" --timeout 1m list
expect_rc 0 "--timeout 500ms" "$YANKCTL" --segment "$S" --timeout 500ms list
expect_rc 0 "an unambiguous abbreviation" "$YANKCTL" --seg "$S" --js list
out_has '"node-name": "disk0"' "--seg and --js apply"
expect_rc 1 "an option after -- is an argument" "$YANKCTL" -s "$S" list -- --json
err_has "unexpected argument '--json'" "after --, --json is an argument"

# --segment overrides YANK_SEGMENT, which overrides the default.
expect_rc 0 "YANK_SEGMENT is used" env YANK_SEGMENT="$S" "$YANKCTL" list --json
out_has '"id": "c0"' "YANK_SEGMENT selects the segment"
new_segment args-other
expect_rc 0 "--segment beats YANK_SEGMENT" env YANK_SEGMENT="$S" "$YANKCTL" --segment "$seg" list --json
if [ "$(cat "$T/out")" = "[]" ]; then ok; else not_ok "--segment beats YANK_SEGMENT: $(cat "$T/out")"; fi
check "looking at a missing segment creates nothing" test ! -e "/dev/shm$seg"

# Nothing was yanked by any of the above.
sleep 0.3
check "registrant still running" kill -0 "$r_pid"
if grep -q 'recv() returned' "$T/r.out"; then not_ok "a bad command line yanked: $(cat "$T/r.out")"; else ok; fi
expect_rc 0 "list after bad lines" "$YANKCTL" --segment "$S" list --json
for frag in '"id": "c0"' '"node-name": "disk0"' '"type": "migration"'; do
	out_has "$frag" "still registered after bad lines"
done

finish
