/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * rb-peer: a libyank peer driven line by line, for the robustness suites
 * (tests/integration/test-fault.c, test-stopped.c, test-security.c).
 *
 * stdin carries one command per line; each gets exactly one reply line on
 * stdout, "ok [values]" or "err <negative errno> [detail]".  Asynchronous
 * events go to fd 3 when it is open: "cb INST" when a callback runs (with
 * " DEAD" appended if its record had been unregistered: a rule 6
 * violation), "eof INST" when a blocked recv() returns 0.  The driver side
 * is tests/helpers/rb-peer.h.
 *
 * INST is c:NAME (chardev), b:NAME (block-node) or m (migration).
 *
 *   open SEG [lock=MS] [agent=MS] [group=GID] [existing] [cap=I,R,P]
 *   close                  yank_close
 *   inst INST | uninst INST
 *   fd INST                socketpair; register end A; "ok A B"
 *   unfd INST [keep]       unregister the newest fd of INST; close both ends
 *                          unless "keep"
 *   cb INST | uncb INST    register / unregister a callback
 *   block INST             a thread blocks in recv() on the newest A of INST
 *   yank INST...           yank_yank_detailed: "ok" or
 *                          "err R n=N KIND/err/fd/pid ..."
 *   query                  "ok N INST/pid/fds/cbs/alive ..."
 *   status                 "ok integrity=.. live=.. dead=.. ..."
 *   gc                     "ok REAPED"
 *   fault SPEC | nofault   set / unset YANK_FAULT (read at each fault point)
 *   cred UID GID [G1,G2..] drop to these ids (setgroups, setresgid, setresuid)
 *   fds                    "ok N": open fds in this process
 *   sleep MS | exit CODE | ping
 *   exec                   execve() itself, as QEMU's cpr-exec does: same pid,
 *                          same start time, a new image; it replies "ok" anew
 *   closerange             as a daemon that closes every fd: close_range(4, ~0),
 *                          then open host files on the numbers freed; "ok N"
 *   hostcheck              those host files are all still open and unchanged
 *
 * Never used outside tests: it exits on EOF of stdin, and dies with its
 * parent (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <yank.h>

#define CB_LIVE 0x4c495645u
#define CB_DEAD 0x44454144u

struct fdrec {
	char spec[300];
	int a, b;
	struct fdrec *next;
};

struct cbrec {
	uint32_t magic;
	char spec[300];
	struct cbrec *next;
};

static yank_registry *reg;
static struct fdrec *fds_head;
static struct cbrec *cbs_head, *cbs_dead;
static int ev_ok;

__attribute__((format(printf, 1, 2))) static void reply(const char *fmt, ...)
{
	char buf[16384];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(121);
		off += (int)w;
	}
}

/* From any thread: one write, atomic on a pipe. */
static void event(const char *what, const char *spec, const char *extra)
{
	if (!ev_ok)
		return;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s %s%s\n", what, spec, extra);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!write(3, buf, (size_t)n);
}

static void callback(void *opaque)
{
	struct cbrec *c = opaque;
	event("cb", c->spec, c->magic == CB_LIVE ? "" : " DEAD");
}

static int parse_inst(const char *s, struct yank_instance *in, char *name, size_t cap)
{
	if (!s)
		return -1;
	if (!strcmp(s, "m")) {
		in->type = YANK_MIGRATION;
		in->name = NULL;
		return 0;
	}
	if ((s[0] != 'c' && s[0] != 'b') || s[1] != ':' || strlen(s + 2) >= cap)
		return -1;
	in->type = s[0] == 'c' ? YANK_CHARDEV : YANK_BLOCK_NODE;
	strcpy(name, s + 2);
	in->name = name;
	return 0;
}

static const char *spec_of(const struct yank_instance *in, char *buf, size_t cap)
{
	if (in->type == YANK_MIGRATION)
		snprintf(buf, cap, "m");
	else
		snprintf(buf, cap, "%c:%s", in->type == YANK_CHARDEV ? 'c' : 'b', in->name);
	return buf;
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static const char *kind_name(enum yank_failure_kind k)
{
	switch (k) {
	case YANK_FAIL_STALE:
		return "STALE";
	case YANK_FAIL_OWNER_GONE:
		return "OWNER_GONE";
	case YANK_FAIL_NO_AGENT:
		return "NO_AGENT";
	case YANK_FAIL_FALLBACK:
		return "FALLBACK";
	case YANK_FAIL_CALLBACK:
		return "CALLBACK";
	case YANK_FAIL_SHUTDOWN:
		return "SHUTDOWN";
	case YANK_FAIL_PROTOCOL:
		return "PROTOCOL";
	case YANK_FAIL_VANISHED:
		return "VANISHED";
	case YANK_FAIL_PROXY:
		return "PROXY";
	}
	return "UNKNOWN";
}

struct blocker {
	int fd;
	char spec[300];
};

static void *block_thread(void *arg)
{
	struct blocker *b = arg;
	char c;
	ssize_t r;
	do
		r = recv(b->fd, &c, 1, 0);
	while (r < 0 && errno == EINTR);
	char extra[64];
	snprintf(extra, sizeof(extra), " %zd", r < 0 ? (ssize_t)-errno : r);
	event(r == 0 ? "eof" : "recv", b->spec, extra);
	free(b);
	return NULL;
}

static void cmd_open(char **save)
{
	const char *seg = strtok_r(NULL, " ", save);
	struct yank_open_opts o = { 0 };
	int existing = 0;
	for (char *t; (t = strtok_r(NULL, " ", save));) {
		if (!strncmp(t, "lock=", 5))
			o.lock_timeout_ms = (uint32_t)atoi(t + 5);
		else if (!strncmp(t, "agent=", 6))
			o.agent_timeout_ms = (uint32_t)atoi(t + 6);
		else if (!strncmp(t, "group=", 6)) {
			o.use_group = 1;
			o.group = (gid_t)atoi(t + 6);
		} else if (!strcmp(t, "existing"))
			existing = 1;
		else if (!strncmp(t, "cap=", 4))
			sscanf(t + 4, "%u,%u,%u", &o.max_instances, &o.max_records,
			       &o.max_processes);
	}
	if (reg) {
		reply("err %d already open", -EALREADY);
		return;
	}
	int r = existing ? yank_open_existing(seg, &o, &reg) : yank_open_with(seg, &o, &reg);
	if (r < 0)
		reply("err %d %s", r, yank_strerror(r));
	else
		reply("ok");
}

static void cmd_fd(const struct yank_instance *in, const char *spec)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		reply("err %d socketpair", -errno);
		return;
	}
	int r = yank_register_fd(reg, in, sv[0]);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		reply("err %d %s", r, yank_strerror(r));
		return;
	}
	struct fdrec *f = calloc(1, sizeof(*f));
	snprintf(f->spec, sizeof(f->spec), "%s", spec);
	f->a = sv[0];
	f->b = sv[1];
	f->next = fds_head;
	fds_head = f;
	reply("ok %d %d", sv[0], sv[1]);
}

static struct fdrec **find_fd(const char *spec)
{
	for (struct fdrec **p = &fds_head; *p; p = &(*p)->next)
		if (!strcmp((*p)->spec, spec))
			return p;
	return NULL;
}

static void cmd_unfd(const struct yank_instance *in, const char *spec, const char *opt)
{
	struct fdrec **p = find_fd(spec);
	if (!p) {
		reply("err %d no such fd here", -ENOENT);
		return;
	}
	int r = yank_unregister_fd(reg, in, (*p)->a);
	if (r < 0) {
		reply("err %d %s", r, yank_strerror(r));
		return;
	}
	struct fdrec *f = *p;
	*p = f->next;
	if (!opt || strcmp(opt, "keep")) {
		close(f->a);
		close(f->b);
		free(f);
	} else {
		/* Kept open and still ours: a later shutdown of it would show. */
		snprintf(f->spec, sizeof(f->spec), "kept:%s", spec);
		f->next = fds_head;
		fds_head = f;
	}
	reply("ok");
}

static void cmd_cb(const struct yank_instance *in, const char *spec)
{
	struct cbrec *c = calloc(1, sizeof(*c));
	c->magic = CB_LIVE;
	snprintf(c->spec, sizeof(c->spec), "%s", spec);
	int r = yank_register_function(reg, in, callback, c);
	if (r < 0) {
		free(c);
		reply("err %d %s", r, yank_strerror(r));
		return;
	}
	c->next = cbs_head;
	cbs_head = c;
	reply("ok");
}

static void cmd_uncb(const struct yank_instance *in, const char *spec)
{
	for (struct cbrec **p = &cbs_head; *p; p = &(*p)->next) {
		if (strcmp((*p)->spec, spec))
			continue;
		int r = yank_unregister_function(reg, in, callback, *p);
		if (r < 0) {
			reply("err %d %s", r, yank_strerror(r));
			return;
		}
		struct cbrec *c = *p;
		*p = c->next;
		/* Never freed: if it ran now, the event would say DEAD. */
		__atomic_store_n(&c->magic, CB_DEAD, __ATOMIC_RELEASE);
		c->next = cbs_dead;
		cbs_dead = c;
		reply("ok");
		return;
	}
	reply("err %d no such callback here", -ENOENT);
}

static void cmd_yank(char **save)
{
	struct yank_instance list[64];
	char names[64][300];
	size_t n = 0;
	for (char *t; n < 64 && (t = strtok_r(NULL, " ", save)); n++)
		if (parse_inst(t, &list[n], names[n], sizeof(names[n])) < 0) {
			reply("err %d bad instance %s", -EINVAL, t);
			return;
		}
	struct yank_failure *f = NULL;
	size_t nf = 0;
	int r = yank_yank_detailed(reg, list, n, &f, &nf);
	char buf[12000];
	size_t len = 0;
	for (size_t i = 0; i < nf && len < sizeof(buf) - 400; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, " %s/%d/%d/%d",
					kind_name(f[i].kind), f[i].err, f[i].fd, (int)f[i].pid);
	buf[len] = '\0';
	yank_failures_free(f, nf);
	if (r == 0 && nf == 0)
		reply("ok");
	else
		reply("err %d n=%zu%s", r, nf, buf);
}

static void cmd_query(void)
{
	struct yank_instance_info *info;
	size_t n;
	int r = yank_query(reg, &info, &n);
	if (r < 0) {
		reply("err %d %s", r, yank_strerror(r));
		return;
	}
	char *buf = malloc(n * 300 + 64);
	size_t len = (size_t)sprintf(buf, "ok %zu", n);
	for (size_t i = 0; i < n; i++) {
		char sb[300];
		struct yank_instance in = { info[i].type, info[i].name };
		len += (size_t)sprintf(buf + len, " %s/%d/%u/%u/%d", spec_of(&in, sb, sizeof(sb)),
				       (int)info[i].pid, info[i].n_fds, info[i].n_callbacks,
				       info[i].owner_alive);
	}
	yank_query_free(info, n);
	reply("%s", buf);
	free(buf);
}

static void cmd_status(void)
{
	struct yank_status st;
	int r = yank_status(reg, &st);
	if (r < 0) {
		reply("err %d %s", r, yank_strerror(r));
		return;
	}
	reply("ok integrity=%d live=%u dead=%u used_inst=%u used_rec=%u used_proc=%u holder=%d "
	      "torn=%u",
	      st.integrity, st.live_processes, st.dead_processes, st.used_instances,
	      st.used_records, st.used_processes, (int)st.lock_holder, st.torn_slots);
}

static void cmd_cred(char **save)
{
	const char *u = strtok_r(NULL, " ", save), *g = strtok_r(NULL, " ", save);
	const char *gl = strtok_r(NULL, " ", save);
	gid_t groups[16];
	int ng = 0;
	if (!u || !g) {
		reply("err %d usage", -EINVAL);
		return;
	}
	if (gl) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", gl);
		char *s2;
		for (char *t = strtok_r(tmp, ",", &s2); t && ng < 16; t = strtok_r(NULL, ",", &s2))
			groups[ng++] = (gid_t)atoi(t);
	}
	gid_t gid = (gid_t)atoi(g);
	uid_t uid = (uid_t)atoi(u);
	if (setgroups((size_t)ng, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		reply("err %d cred", -errno);
		return;
	}
	/* A credential change clears the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	reply("ok");
}

/* The host's own files, opened on the numbers closerange freed. */
#define HOST_FILES 32
static int host_fd[HOST_FILES], n_host;
static const char host_text[] = "host data, not the library's";

static void cmd_closerange(void)
{
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0) {
		reply("err %d close_range", -errno);
		return;
	}
	for (n_host = 0; n_host < HOST_FILES; n_host++) {
		int fd = memfd_create("host", MFD_CLOEXEC);
		if (fd < 0 || write(fd, host_text, sizeof(host_text)) != (ssize_t)sizeof(host_text)) {
			reply("err %d memfd", -errno);
			return;
		}
		host_fd[n_host] = fd;
	}
	reply("ok %d", n_host);
}

static void cmd_hostcheck(void)
{
	for (int i = 0; i < n_host; i++) {
		char buf[sizeof(host_text) + 8];
		struct stat st;
		if (fstat(host_fd[i], &st) < 0) {
			reply("err %d fd %d closed", -errno, host_fd[i]);
			return;
		}
		ssize_t n = pread(host_fd[i], buf, sizeof(buf), 0);
		if (st.st_size != (off_t)sizeof(host_text) || n != (ssize_t)sizeof(host_text) ||
		    memcmp(buf, host_text, sizeof(host_text))) {
			reply("err %d fd %d changed (size %lld)", -EIO, host_fd[i], (long long)st.st_size);
			return;
		}
	}
	reply("ok %d", n_host);
}

static void command(char *line)
{
	char *save;
	char *cmd = strtok_r(line, " ", &save);
	if (!cmd) {
		reply("err %d empty", -EINVAL);
		return;
	}
	if (!strcmp(cmd, "ping")) {
		reply("ok %d", (int)getpid());
		return;
	}
	if (!strcmp(cmd, "open")) {
		cmd_open(&save);
		return;
	}
	if (!strcmp(cmd, "fault")) {
		const char *s = strtok_r(NULL, " ", &save);
		setenv("YANK_FAULT", s ? s : "", 1);
		reply("ok");
		return;
	}
	if (!strcmp(cmd, "nofault")) {
		unsetenv("YANK_FAULT");
		reply("ok");
		return;
	}
	if (!strcmp(cmd, "cred")) {
		cmd_cred(&save);
		return;
	}
	if (!strcmp(cmd, "fds")) {
		reply("ok %d", count_fds());
		return;
	}
	if (!strcmp(cmd, "sleep")) {
		const char *s = strtok_r(NULL, " ", &save);
		long ms = s ? atol(s) : 0;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		reply("ok");
		return;
	}
	if (!strcmp(cmd, "exec")) {
		execl("/proc/self/exe", "rb-peer", "--after-exec", (char *)NULL);
		reply("err %d exec", -errno);
		return;
	}
	if (!strcmp(cmd, "closerange")) {
		cmd_closerange();
		return;
	}
	if (!strcmp(cmd, "hostcheck")) {
		cmd_hostcheck();
		return;
	}
	if (!strcmp(cmd, "exit")) {
		const char *s = strtok_r(NULL, " ", &save);
		_exit(s ? atoi(s) : 0);
	}
	if (!reg) {
		reply("err %d not open", -EBADF);
		return;
	}
	if (!strcmp(cmd, "close")) {
		yank_close(reg);
		reg = NULL;
		reply("ok");
		return;
	}
	if (!strcmp(cmd, "yank")) {
		cmd_yank(&save);
		return;
	}
	if (!strcmp(cmd, "query")) {
		cmd_query();
		return;
	}
	if (!strcmp(cmd, "status")) {
		cmd_status();
		return;
	}
	if (!strcmp(cmd, "gc")) {
		size_t n = 0;
		int r = yank_gc(reg, &n);
		if (r < 0)
			reply("err %d %s", r, yank_strerror(r));
		else
			reply("ok %zu", n);
		return;
	}
	const char *spec = strtok_r(NULL, " ", &save);
	struct yank_instance in;
	char name[300];
	if (parse_inst(spec, &in, name, sizeof(name)) < 0) {
		reply("err %d bad instance", -EINVAL);
		return;
	}
	int r;
	if (!strcmp(cmd, "inst")) {
		r = yank_register_instance(reg, &in);
	} else if (!strcmp(cmd, "uninst")) {
		r = yank_unregister_instance(reg, &in);
	} else if (!strcmp(cmd, "fd")) {
		cmd_fd(&in, spec);
		return;
	} else if (!strcmp(cmd, "unfd")) {
		cmd_unfd(&in, spec, strtok_r(NULL, " ", &save));
		return;
	} else if (!strcmp(cmd, "cb")) {
		cmd_cb(&in, spec);
		return;
	} else if (!strcmp(cmd, "uncb")) {
		cmd_uncb(&in, spec);
		return;
	} else if (!strcmp(cmd, "block")) {
		struct fdrec **p = find_fd(spec);
		if (!p) {
			reply("err %d no such fd here", -ENOENT);
			return;
		}
		struct blocker *b = calloc(1, sizeof(*b));
		b->fd = (*p)->a;
		snprintf(b->spec, sizeof(b->spec), "%s", spec);
		pthread_t t;
		if (pthread_create(&t, NULL, block_thread, b) != 0) {
			free(b);
			reply("err %d pthread_create", -EAGAIN);
			return;
		}
		pthread_detach(t);
		reply("ok");
		return;
	} else {
		reply("err %d unknown command %s", -EINVAL, cmd);
		return;
	}
	if (r < 0)
		reply("err %d %s", r, yank_strerror(r));
	else
		reply("ok");
}

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	ev_ok = fcntl(3, F_GETFD) >= 0;
	if (argc > 1 && !strcmp(argv[1], "--after-exec"))
		reply("ok %d", (int)getpid()); /* the answer to "exec" */
	char buf[8192];
	size_t len = 0;
	for (;;) {
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			command(buf);
			size_t used = (size_t)(nl - buf) + 1;
			memmove(buf, buf + used, len - used);
			len -= used;
			continue;
		}
		if (len == sizeof(buf))
			len = 0; /* a line too long: dropped */
		ssize_t r = read(0, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	_exit(0);
}
