/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * libyank-preload.so: the libc calls it interposes (SPEC §12).  Each
 * wrapper keeps the host's view exact: the real call's result and errno
 * are what the program sees, and errno is saved around everything the
 * shim does besides.  The real functions come from dlsym(RTLD_NEXT), all
 * at once in the constructor or on the first call that comes before it;
 * a call made while dlsym itself is running (it may allocate, and an
 * allocator may close an fd) goes straight to the kernel.
 *
 * The private libyank linked into this library calls connect, accept4
 * and close too; the build renames those calls to yank__pl_sys_*, below,
 * so that the library never runs through these wrappers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static struct {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*fclose)(FILE *);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
} real;

static int resolved;
static __thread int resolving __attribute__((tls_model("initial-exec")));

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* 1 when the real functions are known; 0 while dlsym is running on this thread. */
static int resolve(void)
{
	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
		return 1;
	if (resolving)
		return 0;
	resolving = 1;
	*(void **)&real.connect = next("connect");
	*(void **)&real.accept = next("accept");
	*(void **)&real.accept4 = next("accept4");
	*(void **)&real.close = next("close");
	*(void **)&real.dup2 = next("dup2");
	*(void **)&real.dup3 = next("dup3");
	*(void **)&real.close_range = next("close_range");
	*(void **)&real.closefrom = next("closefrom");
	*(void **)&real.fclose = next("fclose");
	*(void **)&real.execve = next("execve");
	*(void **)&real.execv = next("execv");
	*(void **)&real.execvp = next("execvp");
	*(void **)&real.execvpe = next("execvpe");
	*(void **)&real.fexecve = next("fexecve");
	*(void **)&real.execveat = next("execveat");
	resolving = 0;
	__atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
	return 1;
}

static void atfork_child(void)
{
	yank__pl_fork_child();
}

__attribute__((constructor)) static void shim_init(void)
{
	int e = errno;
	resolve();
	yank__pl_config_load();
	pthread_atfork(NULL, NULL, atfork_child);
	errno = e;
}

/* ---- what the private libyank calls instead of the wrappers ---- */

int yank__pl_real_close(int fd)
{
	if (resolve() && real.close)
		return real.close(fd);
	return (int)syscall(SYS_close, fd);
}

int yank__pl_sys_close(int fd);
int yank__pl_sys_connect(int fd, const struct sockaddr *sa, socklen_t len);
int yank__pl_sys_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

int yank__pl_sys_close(int fd)
{
	return yank__pl_real_close(fd);
}

int yank__pl_sys_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (resolve() && real.connect)
		return real.connect(fd, sa, len);
	return (int)syscall(SYS_connect, fd, sa, len);
}

int yank__pl_sys_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (resolve() && real.accept4)
		return real.accept4(fd, sa, len, flags);
	return (int)syscall(SYS_accept4, fd, sa, len, flags);
}

/* ---- sockets ---- */

/* A stream socket of a family we name: the only kind SPEC §12 registers. */
static int is_stream(int fd, int family)
{
	int type = 0;
	socklen_t len = sizeof(type);
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return 0;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Register before the real connect, so that a connect that hangs can be yanked too. */
static int before_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	char peer[YANK_NAME_MAX + 1];
	if (!sa || len < (socklen_t)sizeof(sa->sa_family) || !is_stream(fd, sa->sa_family))
		return 0;
	yank__pl_peer(sa, len, peer, sizeof(peer));
	yank__pl_register(fd, '>', peer);
	return 1;
}

/* Still connecting or connected, for these; any other failure ends the socket's try. */
static int connect_lives(int e)
{
	return e == EINPROGRESS || e == EINTR || e == EALREADY || e == EISCONN;
}

PRELOAD_PUBLIC int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!resolve() || !real.connect)
		return (int)syscall(SYS_connect, fd, sa, len);
	int e = errno;
	int tried = before_connect(fd, sa, len);
	errno = e;
	int r = real.connect(fd, sa, len);
	if (r == 0 || !tried || connect_lives(errno))
		return r;
	e = errno;
	yank__pl_closing(fd);
	errno = e;
	return r;
}

static void after_accept(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char peer[YANK_NAME_MAX + 1];
	int e = errno;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && is_stream(fd, ss.ss_family)) {
		yank__pl_peer((struct sockaddr *)&ss, len, peer, sizeof(peer));
		yank__pl_register(fd, '<', peer);
	}
	errno = e;
}

PRELOAD_PUBLIC int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	if (!resolve() || !real.accept)
		return (int)syscall(SYS_accept4, fd, sa, len, 0);
	int r = real.accept(fd, sa, len);
	if (r >= 0)
		after_accept(r);
	return r;
}

PRELOAD_PUBLIC int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (!resolve() || !real.accept4)
		return (int)syscall(SYS_accept4, fd, sa, len, flags);
	int r = real.accept4(fd, sa, len, flags);
	if (r >= 0)
		after_accept(r);
	return r;
}

/* ---- closing ---- */

static void closing(int fd)
{
	int e = errno;
	yank__pl_closing(fd);
	errno = e;
}

PRELOAD_PUBLIC int close(int fd)
{
	if (!resolve() || !real.close)
		return (int)syscall(SYS_close, fd);
	closing(fd);
	return real.close(fd);
}

/* dup2/dup3 close @newfd only when @oldfd is open and differs from it. */
static void replacing(int oldfd, int newfd)
{
	int e = errno;
	if (oldfd != newfd && fcntl(oldfd, F_GETFD) >= 0)
		yank__pl_closing(newfd);
	errno = e;
}

PRELOAD_PUBLIC int dup2(int oldfd, int newfd)
{
	if (!resolve() || !real.dup2)
		return (int)syscall(SYS_dup2, oldfd, newfd);
	replacing(oldfd, newfd);
	return real.dup2(oldfd, newfd);
}

PRELOAD_PUBLIC int dup3(int oldfd, int newfd, int flags)
{
	if (!resolve() || !real.dup3)
		return (int)syscall(SYS_dup3, oldfd, newfd, flags);
	replacing(oldfd, newfd);
	return real.dup3(oldfd, newfd, flags);
}

static void closing_range(unsigned int first, unsigned int last)
{
	int e = errno;
	int hwm = yank__pl_hwm();
	if (hwm >= 0 && last > (unsigned int)hwm)
		last = (unsigned int)hwm;
	for (unsigned int fd = first; hwm >= 0 && fd <= last; fd++)
		yank__pl_closing((int)fd);
	errno = e;
}

PRELOAD_PUBLIC int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!resolve() || !real.close_range)
		return (int)syscall(SYS_close_range, first, last, flags);
	/* CLOEXEC closes nothing now; the exec that would is wrapped too. */
	if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		closing_range(first, last);
	return real.close_range(first, last, flags);
}

PRELOAD_PUBLIC void closefrom(int lowfd)
{
	if (!resolve() || !real.closefrom) {
		syscall(SYS_close_range, lowfd < 0 ? 0 : lowfd, ~0U, 0);
		return;
	}
	closing_range(lowfd < 0 ? 0 : (unsigned int)lowfd, ~0U);
	real.closefrom(lowfd);
}

/* libc closes the fd of a FILE internally, out of our sight: look before it does. */
PRELOAD_PUBLIC int fclose(FILE *fp)
{
	if (!resolve() || !real.fclose) {
		errno = ENOSYS;
		return EOF;
	}
	if (fp) {
		int e = errno;
		int fd = fileno(fp);
		if (fd >= 0)
			yank__pl_closing(fd);
		errno = e;
	}
	return real.fclose(fp);
}

/* ---- exec: the new image starts clean ---- */

static void parking(void)
{
	int e = errno;
	yank__pl_exec_park();
	errno = e;
}

/* Only reached when the exec failed: its errno is the program's. */
static int unparked(int r)
{
	int e = errno;
	yank__pl_exec_unpark();
	errno = e;
	return r;
}

static int no_real(void)
{
	errno = ENOSYS;
	return -1;
}

PRELOAD_PUBLIC int execve(const char *path, char *const argv[], char *const envp[])
{
	if (!resolve() || !real.execve)
		return (int)syscall(SYS_execve, path, argv, envp);
	parking();
	return unparked(real.execve(path, argv, envp));
}

PRELOAD_PUBLIC int execv(const char *path, char *const argv[])
{
	if (!resolve() || !real.execv)
		return no_real();
	parking();
	return unparked(real.execv(path, argv));
}

PRELOAD_PUBLIC int execvp(const char *file, char *const argv[])
{
	if (!resolve() || !real.execvp)
		return no_real();
	parking();
	return unparked(real.execvp(file, argv));
}

PRELOAD_PUBLIC int execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!resolve() || !real.execvpe)
		return no_real();
	parking();
	return unparked(real.execvpe(file, argv, envp));
}

PRELOAD_PUBLIC int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!resolve() || !real.fexecve)
		return no_real();
	parking();
	return unparked(real.fexecve(fd, argv, envp));
}

PRELOAD_PUBLIC int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	if (!resolve() || !real.execveat)
		return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
	parking();
	return unparked(real.execveat(dirfd, path, argv, envp, flags));
}

/*
 * The execl family calls libc's internal execve, not ours: gather the
 * arguments (on the stack, as libc does: malloc is not to be trusted in a
 * vfork child) and go through the wrappers above.
 */
static size_t count_args(const char *arg, va_list ap)
{
	size_t n = 1;
	va_list c;
	va_copy(c, ap);
	for (const char *a = arg; a; a = va_arg(c, const char *))
		n++;
	va_end(c);
	return n;
}

static void fill_args(char **argv, const char *arg, va_list ap)
{
	size_t i = 0;
	for (const char *a = arg; a; a = va_arg(ap, const char *))
		argv[i++] = (char *)a;
	argv[i] = NULL;
}

PRELOAD_PUBLIC int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char **argv = __builtin_alloca(count_args(arg, ap) * sizeof(char *));
	fill_args(argv, arg, ap);
	va_end(ap);
	return execv(path, argv);
}

PRELOAD_PUBLIC int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char **argv = __builtin_alloca(count_args(arg, ap) * sizeof(char *));
	fill_args(argv, arg, ap);
	va_end(ap);
	return execvp(file, argv);
}

PRELOAD_PUBLIC int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char **argv = __builtin_alloca(count_args(arg, ap) * sizeof(char *));
	fill_args(argv, arg, ap);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}
