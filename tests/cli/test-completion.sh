#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# The bash completion of yankctl: commands, options, and the instance
# names of the registry the command line names, read from its JSON list.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

# shellcheck source=completion/yankctl
. "$(dirname "$0")/../../completion/yankctl"

# complete WORD...: COMPREPLY for the last word of a yankctl command line.
complete_line() {
	COMP_WORDS=("$YANKCTL" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_yankctl
	printf '%s\n' "${COMPREPLY[@]}" >"$T/out"
}

complete_line ""
check "commands are offered" grep -qx 'status' "$T/out"
check "every command, and only those" test "$(sort "$T/out" | tr '
' ' ')" = \
	"adopt gc help list log metrics qmp status unadopt watch yank "
complete_line --seg
check "a long option is completed" grep -qx -- '--segment' "$T/out"
complete_line help y
check "help completes a command" grep -qx 'yank' "$T/out"

new_segment comp
S=$seg
start_server
start_registrant a "$S" chardev:ttyS0 block-node:disk0
complete_line --segment "$S" yank ""
check "chardev names come from the registry" grep -qx 'chardev:ttyS0' "$T/out"
check "block-node names too" grep -qx 'block-node:disk0' "$T/out"
complete_line --segment "$S" yank block
check "a prefix narrows them" test "$(cat "$T/out")" = "block-node:disk0"
complete_line --segment "$S" watch --yank ""
check "watch --yank completes instance names" grep -qx 'chardev:ttyS0' "$T/out"
complete_line --segment "$S" watch --st
check "watch's own options" grep -qx -- '--stall' "$T/out"
complete_line list --sa
check "list's --sample" test "$(cat "$T/out")" = "--sample"
complete_line --segment "$S" list ""
check "list takes no instance" test -z "$(tr -d "\n" <"$T/out")"

finish
