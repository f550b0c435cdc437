/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's command line (SPEC §6): the input is an argument vector, its
 * strings separated by NUL bytes, after an implicit argv[0].  Whatever the
 * parser decides, it must decide it cleanly: a known result code, a
 * message for every usage error, and on success only instances that the
 * library itself would accept.  The escaping helpers that put untrusted
 * names into messages are held to their promise too: valid UTF-8 out, no
 * control bytes, never past the buffer.
 */
#include <errno.h>
#include <string.h>

#include "args.h"
#include "fuzz.h"

#define MAX_ARGS 64

/* Valid UTF-8 with no C0 control bytes and no DEL: safe for a terminal. */
static int printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		size_t n = yc_utf8_seq(p + i, len - i);

		if (!n || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)))
			return 0;
		i += n;
	}
	return 1;
}

static void check_escape(const char *s)
{
	static const size_t sizes[] = { 1, 2, 4, 5, 8, 17, 64, 320 };
	char buf[320 + 1];

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t sz = sizes[k];

		/* A guard byte just past the promised size must survive. */
		buf[sz] = 'G';
		FUZZ_ASSERT(yc_escape(s, buf, sz) == buf);
		FUZZ_ASSERT(buf[sz] == 'G');
		FUZZ_ASSERT(strnlen(buf, sz) < sz);
		FUZZ_ASSERT(printable(buf));
	}
}

static void check_instance(const char *arg)
{
	static const size_t msglens[] = { 0, 1, 9, YC_MSG_MAX };
	struct yank_instance inst;
	char msg[YC_MSG_MAX], buf[400];

	for (size_t k = 0; k < sizeof(msglens) / sizeof(msglens[0]); k++) {
		size_t ml = msglens[k];
		int r;

		memset(msg, 'X', sizeof(msg));
		memset(&inst, 0, sizeof(inst));
		r = yc_parse_instance(arg, &inst, msg, ml);
		FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
		/* Never a byte past @msglen, whatever the outcome. */
		if (ml < sizeof(msg))
			FUZZ_ASSERT(msg[ml] == 'X');
		if (r < 0) {
			if (ml)
				FUZZ_ASSERT(strnlen(msg, ml) < ml);
			if (ml > 1)
				FUZZ_ASSERT(msg[0] != '\0');
			if (ml == YC_MSG_MAX)
				FUZZ_ASSERT(printable(msg));
			continue;
		}
		FUZZ_ASSERT(yank_check_instance(&inst) == 0);
		if (inst.name)
			FUZZ_ASSERT(inst.name > arg && inst.name <= arg + strlen(arg));
		yc_format_instance(inst.type, inst.name, buf, sizeof(buf));
		FUZZ_ASSERT(printable(buf));
	}
	/* Messages name what a library check rejected, whatever it was. */
	for (int t = 0; t <= 4; t++) {
		struct yank_instance any = { (enum yank_type)t, arg };
		int r = yank_check_instance(&any);

		if (r < 0)
			FUZZ_ASSERT(yc_name_problem(arg, r) != NULL);
		yc_format_instance((enum yank_type)t, arg, buf, sizeof(buf));
		FUZZ_ASSERT(strlen(buf) < sizeof(buf) && printable(buf));
		yc_format_instance((enum yank_type)t, arg, buf, 7);
		FUZZ_ASSERT(strlen(buf) < 7);
	}
}

static void check_args(int argc, char **argv)
{
	struct yc_args a;
	char msg[YC_MSG_MAX];
	int r;

	memset(msg, 'X', sizeof(msg));
	r = yc_parse_args(argc, argv, &a, msg, sizeof(msg));
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	FUZZ_ASSERT(strnlen(msg, sizeof(msg)) < sizeof(msg));
	if (r < 0) {
		FUZZ_ASSERT(msg[0] != '\0');
		FUZZ_ASSERT(printable(msg));
		FUZZ_ASSERT(yc_exit_code(r) == YC_EXIT_USAGE);
	} else {
		FUZZ_ASSERT(a.help || a.version || a.cmd != YC_CMD_NONE);
		if (a.timeout_ms)
			FUZZ_ASSERT(a.timeout_ms >= YC_TIMEOUT_MIN_MS &&
				    a.timeout_ms <= YC_TIMEOUT_MAX_MS);
		if (a.segment)
			FUZZ_ASSERT(a.segment[0] != '\0');
		if (a.cmd != YC_CMD_NONE)
			FUZZ_ASSERT(yc_command_name(a.cmd) != NULL);
		if (a.cmd == YC_CMD_YANK && !a.help && !a.version)
			FUZZ_ASSERT(a.n_instances > 0);
		/* Nothing unchecked may reach a yank. */
		for (size_t i = 0; i < a.n_instances; i++)
			FUZZ_ASSERT(yank_check_instance(&a.instances[i]) == 0);
	}
	yc_args_free(&a);
	FUZZ_ASSERT(a.instances == NULL && a.n_instances == 0);

	/* Without room for a message the result must not change. */
	struct yc_args b;
	int r2 = yc_parse_args(argc, argv, &b, msg, 0);

	FUZZ_ASSERT(r2 == r);
	yc_args_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	char *copy;
	int argc = 1;

	/* One copy with a terminating NUL: the last argument ends there. */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "yankctl";
	for (size_t i = 0; i < size && argc <= MAX_ARGS; i++) {
		argv[argc++] = copy + i;
		i += strlen(copy + i);
	}
	argv[argc] = NULL;

	check_args(argc, argv);
	for (int i = 1; i < argc; i++) {
		check_instance(argv[i]);
		check_escape(argv[i]);
	}
	free(copy);
	return 0;
}
