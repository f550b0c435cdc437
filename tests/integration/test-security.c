/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * SPEC §4 and §9, another uid: with a real second uid (nobody, 65534) and
 * a group of our own (RB_GID, which needs no /etc/group entry):
 *  - the default 0600 segment cannot be opened or listed by it;
 *  - it gets no fds from an agent and runs no callbacks, whether it comes
 *    through the library (group-mode segment) or straight to the agent's
 *    socket, and the pidfd fallback is refused to it (EPERM);
 *  - the group option grants exactly that group;
 *  - a segment that another uid created, or that anyone made
 *    world-accessible, is refused (-EACCES), never trusted silently;
 *  - who an agent serves is decided by the kernel's record of the
 *    segment's group, not by bytes a group member can write.
 * Every refusal is checked for fd leaks in the refused process.
 *
 * The test process is root; the other uid's processes are rb-peer,
 * rb-rawclient and yankctl started with dropped ids (setgroups,
 * setresgid, setresuid before exec).
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <sys/stat.h>

#include <yank.h>

#include "testutil.h"
#include "../helpers/rb-peer.h"

#define RB_UID 65534
#define RB_NOGROUP 65534
#define RB_GID 47001

static const struct rb_cred NOBODY = { RB_UID, RB_NOGROUP, 0, { 0 } };
/* In RB_GID as a supplementary group only: SO_PEERCRED shows nogroup. */
static const struct rb_cred NOBODY_SUPP = { RB_UID, RB_NOGROUP, 1, { RB_GID } };
/* RB_GID as its group. */
static const struct rb_cred NOBODY_G = { RB_UID, RB_GID, 0, { 0 } };

static char tmpdir[64];

/*
 * The helpers and yankctl must be executable by the other uid.  When the
 * build tree is not (a 0700 home, say), copy them into a 0755 directory.
 */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n;
	int ok = out >= 0;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t)n) == n;
	close(in);
	if (out >= 0)
		close(out);
	return ok ? 0 : -1;
}

static int other_uid_can_exec(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		rb_become(&NOBODY);
		_exit(access(path, X_OK) == 0 ? 0 : 1);
	}
	return tu_exit_code(pid, 5000) == 0;
}

static void setup(void)
{
	/* Every test here plays two users, which takes root. */
	if (geteuid() != 0)
		cr_skip_test("needs root to run peers as uid 65534 and as group 47001");
	signal(SIGPIPE, SIG_IGN);
	char path[4600];
	snprintf(path, sizeof(path), "%s/rb-peer", rb_helpers());
	if (other_uid_can_exec(path))
		return;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/yank-rb-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	chmod(tmpdir, 0755);
	static const char *const progs[] = { "rb-peer", "rb-rawclient", "rb-scribble" };
	char to[4700];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", rb_helpers(), progs[i]);
		snprintf(to, sizeof(to), "%s/%s", tmpdir, progs[i]);
		cr_assert_eq(copy_file(path, to), 0, "copy %s", path);
	}
	const char *y = rb_yankctl_path();
	if (y) {
		snprintf(to, sizeof(to), "%s/yankctl", tmpdir);
		cr_assert_eq(copy_file(y, to), 0);
		setenv("YANKCTL", to, 1);
	}
	setenv("HELPERS", tmpdir, 1);
}

static void teardown(void)
{
	if (!tmpdir[0])
		return;
	char p[128];
	static const char *const progs[] = { "rb-peer", "rb-rawclient", "rb-scribble", "yankctl" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, progs[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 60);

static yank_registry *open_root(const char *seg, int group)
{
	struct yank_open_opts o = { .max_instances = 64, .max_records = 256, .max_processes = 16,
				    .lock_timeout_ms = (uint32_t)rb_ms(3000),
				    .agent_timeout_ms = (uint32_t)rb_ms(300) };
	if (group) {
		o.use_group = 1;
		o.group = RB_GID;
	}
	yank_registry *reg = NULL;
	int r = yank_open_with(seg, &o, &reg);
	cr_assert_eq(r, 0, "yank_open_with(%s): %s", seg, yank_strerror(r));
	return reg;
}

/* A root owner of c:x: fd (its far end returned), callback, a thread blocked in recv. */
static int start_owner(struct rb_peer *o, const char *seg, int group)
{
	cr_assert_eq(rb_peer_start(o, NULL), 0);
	if (group)
		PEER_OK(o, "open %s agent=%ld group=%d", seg, rb_ms(1000), RB_GID);
	else
		PEER_OK(o, "open %s agent=%ld", seg, rb_ms(1000));
	PEER_OK(o, "inst c:x");
	int fd = rb_add_fd(o, "c:x");
	PEER_OK(o, "cb c:x");
	PEER_OK(o, "block c:x");
	return fd;
}

/* What the owner tests start from: a root registry and its owner of c:x. */
struct scene {
	const char *seg;
	yank_registry *reg;
	struct rb_peer o;
	int far; /* our copy of the far end of c:x's socket */
};

static void scene_start(struct scene *sc, const char *tag, int group)
{
	sc->seg = tu_segment(tag);
	sc->reg = open_root(sc->seg, group);
	sc->far = start_owner(&sc->o, sc->seg, group);
}

static void scene_end(struct scene *sc)
{
	rb_peer_kill(&sc->o);
	close(sc->far);
	yank_close(sc->reg);
	shm_unlink(sc->seg);
}

/* Nothing happened to c:x: its socket is up, its callback did not run. */
static void assert_untouched(struct rb_peer *o, int far, const char *who)
{
	cr_assert_not(rb_sees_eof(far, 200), "%s: the owner's socket was shut down", who);
	char ev[512];
	cr_assert_not(rb_any_event(o, 100, ev, sizeof(ev)), "%s: the owner saw '%s'", who, ev);
}

/* Done with @p (a yanker or client): kill it; the owner must not have noticed it. */
static void dismiss(struct scene *sc, struct rb_peer *p, const char *who)
{
	rb_peer_kill(p);
	assert_untouched(&sc->o, sc->far, who);
}

static int peer_fds(struct rb_peer *p)
{
	PEER_OK(p, "fds");
	int n = -1;
	sscanf(p->last, "ok %d", &n);
	return n;
}

/* A yanker as @cred with @seg open (a short agent bound: refusals come fast). */
static void start_yanker(struct rb_peer *y, const struct rb_cred *cred, const char *seg)
{
	cr_assert_eq(rb_peer_start(y, cred), 0);
	PEER_OK(y, "open %s agent=%ld", seg, rb_ms(300));
}

/* @cred's process: opening @seg fails with -EACCES and leaves no fd behind. */
static void assert_refused(const char *seg, const struct rb_cred *cred, const char *who)
{
	struct rb_peer p;
	cr_assert_eq(rb_peer_start(&p, cred), 0);
	int n0 = peer_fds(&p);
	int r = rb_cmd(&p, "open %s existing", seg);
	cr_assert_eq(r, -EACCES, "%s: yank_open_existing: %d '%s'", who, r, p.last);
	r = rb_cmd(&p, "open %s", seg);
	cr_assert_eq(r, -EACCES, "%s: yank_open: %d '%s'", who, r, p.last);
	r = rb_cmd(&p, "open %s group=%d", seg, RB_GID);
	cr_assert_eq(r, -EACCES, "%s: yank_open_with(group): %d '%s'", who, r, p.last);
	cr_assert_eq(peer_fds(&p), n0, "%s: refused opens leaked fds", who);
	rb_peer_kill(&p);
}

static void assert_yankctl_refused(const char *seg, const struct rb_cred *cred, const char *who)
{
	if (!rb_have_yankctl("its refusal is not checked"))
		return;
	rb_assert_yankctl_exit(seg, 1000, cred, 4, who, "list", NULL);
	rb_assert_yankctl_exit(seg, 1000, cred, 4, who, "status", NULL);
	rb_assert_yankctl_exit(seg, 1000, cred, 4, who, "yank", "chardev:x");
}

Test(security, default_segment_is_0600_and_refuses_another_uid)
{
	struct scene sc;
	scene_start(&sc, "default", 0);
	struct stat st = rb_seg_stat(sc.seg);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert_eq(st.st_uid, 0);

	assert_refused(sc.seg, &NOBODY, "nobody");
	assert_refused(sc.seg, &NOBODY_SUPP, "nobody in the group (not a group segment)");
	assert_refused(sc.seg, &NOBODY_G, "nobody with the group as its gid (not a group segment)");
	assert_yankctl_refused(sc.seg, &NOBODY, "nobody");
	assert_untouched(&sc.o, sc.far, "after the refusals");

	scene_end(&sc);
}

/*
 * Straight to the agent's socket, past the segment's permissions: the
 * socket's directory is the owner's alone, so another uid cannot even
 * connect, let alone flood it (the agent's own uid check stays behind it).
 */
Test(security, agent_serves_no_other_uid)
{
	struct scene sc;
	struct rb_peer raw;
	scene_start(&sc, "agent", 0);

	static const char *const as[] = { "65534:65534", "65534:65534:47001", "65534:47001" };
	for (size_t i = 0; i < 3; i++) {
		rb_rawclient(&raw, sc.seg, "c:x", "--as", as[i]);
		cr_assert_str_eq(raw.last, "fail -13 connect",
				 "another uid (%s) at the agent: '%s'", as[i], raw.last);
		cr_assert_eq(rb_peer_wait(&raw, 5000), 0);
		dismiss(&sc, &raw, as[i]);
	}

	/* The same client as root is served: the refusal was the uid's. */
	rb_rawclient(&raw, sc.seg, "c:x", NULL, NULL);
	cr_assert(!strncmp(raw.last, "res n=2 nfds=1 ", 15), "root at the agent: '%s'", raw.last);
	rb_peer_kill(&raw);
	cr_assert(rb_event_is(&sc.o, 2000, "cb c:x"), "root's request ran no callback");

	scene_end(&sc);
}

/*
 * A group segment that a supplementary member can open and list: its yank
 * is still refused by the agent (SO_PEERCRED shows its own gid, not the
 * registry's) and by the kernel for pidfd_getfd (EPERM): no fd shut, no
 * callback run, no fd leaked in the refused yanker.
 */
Test(security, group_reader_without_agent_rights_cannot_yank)
{
	struct scene sc;
	struct rb_peer y;
	scene_start(&sc, "supp", 1);

	cr_assert_eq(rb_peer_start(&y, &NOBODY_SUPP), 0);
	int n0 = peer_fds(&y);
	PEER_OK(&y, "open %s agent=%ld", sc.seg, rb_ms(300));
	int n1 = peer_fds(&y);
	PEER_OK(&y, "query");
	cr_assert(strstr(y.last, "c:x/"), "the group member cannot list: '%s'", y.last);
	int r = rb_cmd(&y, "yank c:x");
	cr_log_info("refused group yank: %s", y.last);
	cr_assert_eq(r, -EIO, "yank by a uid the agent does not serve: %d '%s'", r, y.last);
	cr_assert(strstr(y.last, "FALLBACK/-1/"), "the fd's failure is not EPERM: '%s'", y.last);
	cr_assert(strstr(y.last, "CALLBACK/"), "the callback's failure is not reported: '%s'",
		  y.last);
	cr_assert_eq(peer_fds(&y), n1, "the refused yank leaked fds in the yanker");
	PEER_OK(&y, "close");
	cr_assert_eq(peer_fds(&y), n0, "open+close leaked fds");
	dismiss(&sc, &y, "refused group yank");

	scene_end(&sc);
}

/*
 * The refused yanker is told why: the agent answers EACCES, and that is
 * what the failure report carries (not "owner gone" or a broken pipe,
 * which would send an operator after the wrong problem).
 */
Test(security, refused_yanker_is_told_permission_denied)
{
	struct scene sc;
	struct rb_peer y;
	scene_start(&sc, "why", 1);
	start_yanker(&y, &NOBODY_SUPP, sc.seg);
	for (int i = 0; i < 5; i++) {
		int r = rb_cmd(&y, "yank c:x");
		cr_assert_eq(r, -EIO, "%d '%s'", r, y.last);
		cr_assert(strstr(y.last, "CALLBACK/-13/"),
			  "the callback's failure does not say EACCES (the agent's answer): '%s'",
			  y.last);
	}
	dismiss(&sc, &y, "refused group yank");
	scene_end(&sc);
}

/* The owner is stopped: an unprivileged yanker's pidfd fallback gets EPERM. */
Test(security, pidfd_fallback_is_refused_to_an_unprivileged_uid)
{
	struct scene sc;
	struct rb_peer y;
	scene_start(&sc, "pidfd", 1);
	start_yanker(&y, &NOBODY_G, sc.seg);
	int n1 = peer_fds(&y);
	rb_peer_stop(&sc.o);
	int r = rb_cmd(&y, "yank c:x");
	cr_assert_eq(r, -EIO, "yank of a stopped root owner by nobody: %d '%s'", r, y.last);
	cr_assert(strstr(y.last, "FALLBACK/-1/"), "pidfd_getfd was not refused (EPERM): '%s'",
		  y.last);
	cr_assert(strstr(y.last, "CALLBACK/"), "'%s'", y.last);
	cr_assert_eq(peer_fds(&y), n1, "the refused fallback leaked fds (pidfd?)");
	cr_assert_not(rb_sees_eof(sc.far, 200), "the stopped owner's socket was shut down");
	kill(sc.o.pid, SIGCONT);
	char ev[512];
	cr_assert_not(rb_any_event(&sc.o, 500, ev, sizeof(ev)), "the owner, continued, did '%s'",
		      ev);
	rb_peer_kill(&y);
	scene_end(&sc);
}

/*
 * Who may yank is the kernel's word (the segment file's group), not the
 * segment's bytes: a member of the group can write the header, and must
 * not thereby open the agents of processes that join later to a group of
 * its choosing.  (Agent addresses are no secret: the segment and
 * /proc/net/unix list them; the directory's group is what keeps them out.)
 */
Test(security, agent_group_comes_from_the_kernel_not_from_the_segment)
{
	struct scene sc = { .seg = tu_segment("scribble") };
	sc.reg = open_root(sc.seg, 1);
	struct rb_peer m, raw;
	char *sargv[] = { (char *)"rb-scribble", (char *)sc.seg, (char *)"gid", (char *)"65534",
			  NULL };
	cr_assert_eq(rb_spawn(&m, "rb-scribble", sargv, &NOBODY_G), 0);
	cr_assert_eq(rb_reply(&m, 5000), 0, "the member could not write the header: '%s'",
		     m.last);
	rb_peer_kill(&m);
	sc.far = start_owner(&sc.o, sc.seg, 0); /* root joins the group segment afterwards */

	rb_rawclient(&raw, sc.seg, "c:x", "--as", "65534:65534");
	cr_assert_str_eq(raw.last, "fail -13 connect",
			 "an outsider (gid 65534, not in group %d) at the agent of a root owner, "
			 "after a member wrote gid 65534 into the header: '%s'",
			 RB_GID, raw.last);
	dismiss(&sc, &raw, "outsider");
	scene_end(&sc);
}

/* use_group: exactly that group may open (0660), list and yank; others may not. */
Test(security, group_option_grants_exactly_the_group)
{
	struct scene sc;
	struct rb_peer y;
	scene_start(&sc, "group", 1);
	struct stat st = rb_seg_stat(sc.seg);
	cr_assert_eq(st.st_mode & 0777, 0660, "group segment mode %o", st.st_mode & 0777);
	cr_assert_eq(st.st_gid, RB_GID, "group segment gid %d", (int)st.st_gid);

	assert_refused(sc.seg, &NOBODY, "nobody outside the group");
	assert_yankctl_refused(sc.seg, &NOBODY, "nobody outside the group");

	cr_assert_eq(rb_peer_start(&y, &NOBODY_G), 0);
	int n0 = peer_fds(&y);
	PEER_OK(&y, "open %s existing", sc.seg);
	PEER_OK(&y, "query");
	cr_assert(strstr(y.last, "c:x/"), "the group cannot list: '%s'", y.last);
	if (rb_yankctl_path()) {
		long dt;
		char out[4096];
		int rc = rb_yankctl(sc.seg, 1000, &NOBODY_G, 10000, out, sizeof(out), &dt, "list",
				    NULL);
		cr_assert_eq(rc, 0, "`yankctl list` by the group exited %d", rc);
		cr_assert(strstr(out, "x"), "%s", out);
	}
	PEER_OK(&y, "yank c:x");
	cr_assert(rb_sees_eof(sc.far, rb_ms(1000)), "the group's yank did not shut the fd");
	cr_assert(rb_event_is(&sc.o, 2000, "cb c:x"), "the group's yank ran no callback");
	PEER_OK(&y, "close");
	cr_assert_eq(peer_fds(&y), n0, "open+yank+close leaked fds");
	rb_peer_kill(&y);

	scene_end(&sc);
}

static int root_open_fails(const char *seg, int want, const char *what)
{
	int n0 = tu_count_fds();
	yank_registry *r = NULL;
	int e = yank_open(seg, &r);
	cr_assert_eq(e, want, "%s: yank_open: %s, want %s", what, yank_strerror(e),
		     yank_strerror(want));
	e = yank_open_existing(seg, NULL, &r);
	cr_assert_eq(e, want, "%s: yank_open_existing: %s, want %s", what, yank_strerror(e),
		     yank_strerror(want));
	cr_assert_eq(tu_count_fds(), n0, "%s: the refused open leaked fds", what);
	return 0;
}

/* Segments we must not trust: another uid's, or world-accessible ones. */
Test(security, foreign_and_world_accessible_segments_are_refused)
{
	char path[300];
	const char *s = tu_segment("foreign");
	char seg[200];
	snprintf(seg, sizeof(seg), "%s", s);
	snprintf(path, sizeof(path), "/dev/shm%s", seg);

	/* 1. A registry nobody created (0600, nobody's): root refuses it. */
	struct rb_peer p;
	cr_assert_eq(rb_peer_start(&p, &NOBODY), 0);
	PEER_OK(&p, "open %s", seg);
	PEER_OK(&p, "inst c:bait");
	struct stat st = rb_seg_stat(seg);
	cr_assert_eq(st.st_uid, RB_UID);
	root_open_fails(seg, -EACCES, "nobody's 0600 registry");
	assert_yankctl_refused(seg, NULL, "root on nobody's registry");

	/* 2. The same made world-accessible: nobody itself must refuse it now. */
	cr_assert_eq(chmod(path, 0666), 0);
	root_open_fails(seg, -EACCES, "nobody's 0666 registry");
	{
		struct rb_peer q;
		cr_assert_eq(rb_peer_start(&q, &NOBODY), 0);
		int n0 = peer_fds(&q);
		int r = rb_cmd(&q, "open %s existing", seg);
		cr_assert_eq(r, -EACCES, "its own registry at 0666: %d '%s'", r, q.last);
		cr_assert_eq(peer_fds(&q), n0);
		rb_peer_kill(&q);
	}
	rb_peer_kill(&p);
	shm_unlink(seg);

	/* 3. Root's own registry, made 0666: refused too, by root and by nobody. */
	yank_registry *reg = open_root(seg, 0);
	yank_close(reg);
	cr_assert_eq(chmod(path, 0666), 0);
	root_open_fails(seg, -EACCES, "root's 0666 registry");
	assert_refused(seg, &NOBODY, "nobody on root's 0666 registry");
	cr_assert_eq(chmod(path, 0606), 0);
	root_open_fails(seg, -EACCES, "root's 0606 registry");
	shm_unlink(seg);

	/* 4. A group registry of nobody's, for a group root is not in: refused. */
	cr_assert_eq(rb_peer_start(&p, &NOBODY_G), 0);
	PEER_OK(&p, "open %s group=%d", seg, RB_GID);
	PEER_OK(&p, "inst c:bait");
	st = rb_seg_stat(seg);
	cr_assert_eq(st.st_mode & 0777, 0660);
	root_open_fails(seg, -EACCES, "nobody's group registry");
	rb_peer_kill(&p);
	shm_unlink(seg);

	/* 5. Garbage planted by nobody: refused before a byte of it is read. */
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		rb_become(&NOBODY);
		int fd = shm_open(seg, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			_exit(1);
		char junk[8192];
		memset(junk, 0xa5, sizeof(junk));
		_exit(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk) ? 0 : 2);
	}
	cr_assert_eq(tu_exit_code(pid, 5000), 0);
	root_open_fails(seg, -EACCES, "nobody's garbage");
	/* The same bytes, root's own and 0600: not ours to trust either way, -EPROTO. */
	cr_assert_eq(chown(path, 0, 0), 0);
	root_open_fails(seg, -EPROTO, "root's 0600 garbage");
	shm_unlink(seg);
}
