/*
 * yank_strerror: a static table, so it is thread-safe and needs no buffer.
 * Where SPEC or QEMU give the wording, it is theirs.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <yank.h>

#include "internal.h"

static const struct {
	int err;
	const char *msg;
} messages[] = {
	{ EEXIST, "duplicate yank instance" },
	{ ENOENT, "Instance not found" },
	{ EBUSY, "yank instance still has functions registered" },
	{ EINVAL, "invalid argument" },
	{ ENAMETOOLONG, "instance name longer than 255 bytes" },
	{ ENOSPC, "yank registry full" },
	{ ETIMEDOUT, "timed out (registry lock not obtained, or an agent did not answer, in time)" },
	{ EACCES, "permission denied" },
	{ EPROTO, "registry segment corrupt or of an unknown layout version" },
	{ EIO, "some yank functions could not be run" },
	{ ESTALE, "fd no longer refers to the registered socket" },
	{ EDEADLK, "called from inside a yank callback" },
	{ ENOTSOCK, "not a socket" },
	{ EPROTONOSUPPORT, "unknown protocol version" },
};

YANK_PUBLIC const char *yank_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(messages); i++)
		if (messages[i].err == err)
			return messages[i].msg;
	const char *d = strerrordesc_np(err);
	return d ? d : "unknown error";
}
