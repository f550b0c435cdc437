#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Root's yankctl over every user's registry: registrants of root, of
# nobody (65534) and of a third uid (47002) in their own default
# registries /yank-<uid>, listed together with their users and yanked in
# one command; a name two users registered is refused as ambiguous; --user
# by name and by number; a corrupt registry of one user hides nobody
# else's; a user who is not root still sees only its own.
#
# The default registries are real names: instance names carry this run's
# pid so that they cannot meet anything else on the host, and a registry
# this test created is removed at the end (one that was there is left).
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "skipped: needs root and setpriv(1) to run registrants as other users" >&2
	echo "0 passed, 0 failed"
	exit 77
fi
THIRD=47002
BROKEN=47003

# Other uids must be able to run the binaries: copy them where they can.
X=$(mktemp -d /tmp/yank-host.XXXXXX)
chmod 755 "$X"
cp "$EXAMPLES/registrant" "$EXAMPLES/hang-server" "$YANKCTL" "$X/"
cleanup_host() {
	rm -rf "$X"
	for u in 0 65534 $THIRD $BROKEN; do
		[ -n "${had[$u]:-}" ] || rm -f "/dev/shm/yank-$u"
	done
	cleanup
}
trap cleanup_host EXIT
declare -A had
for u in 0 65534 $THIRD $BROKEN; do
	[ -e "/dev/shm/yank-$u" ] && had[$u]=1
done
if [ -n "${had[$THIRD]:-}" ] || [ -n "${had[$BROKEN]:-}" ]; then
	echo "skipped: /dev/shm/yank-$THIRD or yank-$BROKEN exists: another run owns them" >&2
	echo "0 passed, 0 failed"
	exit 77
fi

# start_as NAME UID INSTANCE...: a registrant of that user in its default registry.
start_as() {
	local name=$1 u=$2
	shift 2
	start_peer "$name" setpriv --reuid="$u" --regid="$u" --clear-groups \
		"$X/registrant" -t 90 "$port" "$@"
}

R=$$
start_server
start_as r 0 "chardev:root-$R"
start_as n 65534 "chardev:nob-$R" "block-node:shared-$R"
start_as t $THIRD "chardev:third-$R" "block-node:shared-$R"

# --- list: every user's instances, with their users ---
expect_rc 0 "root's list covers every registry" "$X/yankctl" list
if head -1 "$T/out" | grep -qE '^USER +TYPE +NAME +PID +FDS +CALLBACKS +VERDICT +COMMAND$'; then ok; else not_ok "header: $(head -1 "$T/out")"; fi
if grep -qE "^root +chardev +root-$R +$r_pid +1 +0 +(waiting [0-9]+(ms|s)|idle) +[^ ]*registrant " "$T/out"; then ok; else not_ok "root's row: $(cat "$T/out")"; fi
if grep -qE "^nobody +chardev +nob-$R +$n_pid " "$T/out"; then ok; else not_ok "nobody's row: $(cat "$T/out")"; fi
if grep -qE "^$THIRD +chardev +third-$R +$t_pid " "$T/out"; then ok; else not_ok "uid $THIRD's row (no passwd entry: the number): $(cat "$T/out")"; fi
expect_rc 0 "list --json" "$X/yankctl" --json list
cp "$T/out" "$T/list.json"
json_check "$T/list.json" "any(o.get('id') == 'nob-$R' and o['user'] == 'nobody' and o['uid'] == 65534 for o in d)" "nobody's instance has user and uid"
json_check "$T/list.json" "any(o.get('id') == 'third-$R' and o['user'] == '$THIRD' and o['uid'] == $THIRD for o in d)" "the third uid's instance"
json_check "$T/list.json" "any(o.get('id') == 'root-$R' and o['uid'] == 0 for o in d)" "root's instance"

# --- status and gc cover each registry ---
expect_rc 0 "status of every registry" "$X/yankctl" status
out_has "segment:         /yank-65534" "status reports nobody's registry"
out_has "segment:         /yank-$THIRD" "status reports the third uid's registry"
out_has "user:            nobody (uid 65534)" "status names the user"
expect_rc 0 "status --json" "$X/yankctl" --json status
cp "$T/out" "$T/status.json"
json_check "$T/status.json" "any(o['uid'] == $THIRD and o['ok'] and o['segment'] == '/yank-$THIRD' for o in d)" "status --json has a report per registry"
expect_rc 0 "gc of every registry" "$X/yankctl" gc
out_has "reaped 0 instances" "gc reaps nothing that lives"

# --- a name two users registered: refused, nothing yanked ---
expect_rc 1 "a name in two registries is ambiguous" "$X/yankctl" yank "chardev:nob-$R" "block-node:shared-$R"
err_has "ambiguous: block-node:shared-$R is registered by users $THIRD and nobody; use --user" "the ambiguity names both users"
check "nothing yanked: nobody's chardev still hung" bash -c "! grep -qsF 'nob-$R: recv() returned' '$T/n.out'"
expect_rc 2 "a name in no registry" "$X/yankctl" yank "chardev:root-$R" "chardev:nowhere-$R"
err_has "chardev:nowhere-$R: Instance not found" "the missing name is named"
check "nothing yanked: root's chardev still hung" bash -c "! grep -qsF 'root-$R: recv() returned' '$T/r.out'"

# --- QMP over every registry: query-yank lists all, yank resolves across ---
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-yank","id":1}' \
	"{\"execute\":\"yank\",\"id\":2,\"arguments\":{\"instances\":[{\"type\":\"block-node\",\"node-name\":\"shared-$R\"}]}}" \
	"{\"execute\":\"yank\",\"id\":3,\"arguments\":{\"instances\":[{\"type\":\"chardev\",\"id\":\"nowhere-$R\"}]}}" >"$T/qmp.in"
expect_rc 0 "qmp over every registry" timeout 20 "$X/yankctl" qmp <"$T/qmp.in"
sed -n 3p "$T/out" >"$T/q1.json"
sed -n 4p "$T/out" >"$T/q2.json"
sed -n 5p "$T/out" >"$T/q3.json"
json_check "$T/q1.json" "d['id'] == 1 and {'nob-$R', 'root-$R', 'third-$R'} <= {o.get('id') for o in d['return']}" "query-yank lists every user's instances"
json_check "$T/q2.json" "d['id'] == 2 and d['error']['class'] == 'GenericError' and 'ambiguous' in d['error']['desc']" "a QMP yank of an ambiguous name is refused"
json_check "$T/q3.json" "d['id'] == 3 and d['error']['class'] == 'DeviceNotFound'" "a QMP yank of a name in no registry"
check "the ambiguous QMP yank yanked nothing" bash -c "! grep -qsF 'shared-$R: recv() returned' '$T/n.out'"

# --- --user, by name and by number ---
expect_rc 0 "--user by name" "$X/yankctl" --user nobody list
if grep -q "nob-$R" "$T/out" && ! grep -q "third-$R\|root-$R" "$T/out"; then ok; else not_ok "--user nobody: $(cat "$T/out")"; fi
if head -1 "$T/out" | grep -qE '^TYPE +NAME'; then ok; else not_ok "one user's list has no USER column: $(head -1 "$T/out")"; fi
expect_rc 0 "--user by number settles the ambiguity" "$X/yankctl" --user $THIRD yank "block-node:shared-$R"
check "the third uid's block-node recovered" wait_for "recovered t block-node:shared-$R"
check "nobody's block-node of the same name did not" bash -c "! grep -qsF 'shared-$R: recv() returned' '$T/n.out'"
expect_rc 1 "an unknown user" "$X/yankctl" --user no-such-user-$R list
err_has "no user named" "an unknown user is named"
expect_rc 1 "--user with --segment" "$X/yankctl" --user nobody --segment /yank-x list

# --- one yank over two users' registries ---
expect_rc 0 "one yank covers root's and nobody's instances" "$X/yankctl" yank "chardev:root-$R" "chardev:nob-$R"
check "root's chardev recovered" wait_for "recovered r chardev:root-$R"
check "nobody's chardev recovered" wait_for "recovered n chardev:nob-$R"

# --- a corrupt registry of one user hides no other ---
head -c 8192 /dev/urandom >"/dev/shm/yank-$BROKEN"
chown $BROKEN:$BROKEN "/dev/shm/yank-$BROKEN"
chmod 600 "/dev/shm/yank-$BROKEN"
expect_rc 0 "list with one corrupt registry" "$X/yankctl" list
out_has "third-$R" "the others are listed"
err_has "segment /yank-$BROKEN (user $BROKEN):" "one warning names the corrupt registry"
check "one warning only" test "$(grep -c "yank-$BROKEN" "$T/err")" = 1
expect_rc 0 "status with one corrupt registry" "$X/yankctl" status
out_has "unusable" "status reports the corrupt registry"
expect_rc 0 "yank with one corrupt registry" "$X/yankctl" yank "chardev:third-$R"
check "the third uid's chardev recovered" wait_for "recovered t chardev:third-$R"
# A registry owned by a user other than the one its name says is refused.
chown 65534 "/dev/shm/yank-$BROKEN"
expect_rc 0 "list with a misowned registry" "$X/yankctl" list
err_has "trusted only when it is that user's or root's" "the misowned registry is refused, with its rule"

# --- a user who is not root sees only its own ---
start_as n2 65534 "chardev:nob2-$R"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_rc 0 "nobody's list" "${NOBODY[@]}" "$X/yankctl" list
if grep -q "nob2-$R" "$T/out" && ! grep -q "third-$R\|root-$R" "$T/out" && ! head -1 "$T/out" | grep -q USER; then
	ok
else
	not_ok "nobody sees only its own: $(cat "$T/out")"
fi
expect_rc 4 "nobody may not open another user's registry" "${NOBODY[@]}" "$X/yankctl" --user $THIRD list


# --- everything unreadable: 4, when this test's registries are the only ones ---
others=$(ls /dev/shm | grep -E '^yank-[0-9]+$' | grep -vxE "yank-(0|65534|$THIRD|$BROKEN)")
if [ -z "$others" ] && [ -z "${had[0]:-}" ] && [ -z "${had[65534]:-}" ]; then
	for u in 0 65534 $THIRD; do
		cp "/dev/shm/yank-$BROKEN" "$T/junk"
		cat "$T/junk" >"/dev/shm/yank-$u.tmp" && chown $u:$u "/dev/shm/yank-$u.tmp" && chmod 600 "/dev/shm/yank-$u.tmp"
		mv -f "/dev/shm/yank-$u.tmp" "/dev/shm/yank-$u"
	done
	expect_rc 4 "no registry readable" "$X/yankctl" list
	expect_rc 4 "status with no registry readable" "$X/yankctl" status
else
	echo "note: other registries on this host; the all-unreadable case is not checked" >&2
fi

finish
