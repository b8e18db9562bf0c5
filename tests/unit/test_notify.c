/* SPDX-License-Identifier: BSD-2-Clause */
/* The sd_notify parser: what systemd services send, and garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/notify.h"
#include "daemon/util.h"

static int
parse(const char *s, struct notify_msg *m, const char **why)
{
	return notify_parse(s, strlen(s), m, why);
}

static void
ready_status_watchdog(void **state)
{
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("READY=1\nSTATUS=serving 3 clients\nWATCHDOG=1\nSTOPPING=1\n", &m, &why), 0);
	assert_true(m.ready);
	assert_true(m.watchdog);
	assert_true(m.stopping);
	assert_false(m.watchdog_trigger);
	assert_true(m.has_status);
	assert_string_equal(m.status, "serving 3 clients");
	assert_false(m.has_extend);
}

static void
values_other_than_1_do_not_count(void **state)
{
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("READY=0\nWATCHDOG=2", &m, &why), 0);
	assert_false(m.ready);
	assert_false(m.watchdog);
	assert_int_equal(parse("WATCHDOG=trigger", &m, &why), 0);
	assert_true(m.watchdog_trigger);
}

static void
fd_store_keys(void **state)
{
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("FDSTORE=1\nFDNAME=counter", &m, &why), 0);
	assert_true(m.fdstore);
	assert_false(m.fdstore_remove);
	assert_false(m.fdpoll_off);
	assert_string_equal(m.fdname, "counter");
	assert_int_equal(parse("FDSTORE=1\nFDPOLL=0", &m, &why), 0);
	assert_string_equal(m.fdname, "stored");	/* systemd's default */
	assert_true(m.fdpoll_off);
	assert_int_equal(parse("FDSTOREREMOVE=1\nFDNAME=x", &m, &why), 0);
	assert_true(m.fdstore_remove);
	assert_false(m.fdstore);
	assert_int_equal(parse("FDSTORE=1\nFDNAME=a:b", &m, &why), -1);
	assert_string_equal(why, "FDNAME holds a ':' or a character that is not printable ASCII");
	assert_int_equal(parse("FDSTORE=1\nFDNAME=", &m, &why), -1);
	assert_string_equal(why, "FDNAME must be 1-255 characters");
}

static void
extend_timeout(void **state)
{
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("EXTEND_TIMEOUT_USEC=5000000", &m, &why), 0);
	assert_true(m.has_extend);
	assert_int_equal(m.extend_usec, 5000000);
	assert_int_equal(parse("EXTEND_TIMEOUT_USEC=12x", &m, &why), -1);
	assert_string_equal(why, "EXTEND_TIMEOUT_USEC is not a number");
	assert_int_equal(parse("EXTEND_TIMEOUT_USEC=", &m, &why), -1);
	assert_int_equal(parse("EXTEND_TIMEOUT_USEC=99999999999999999999", &m, &why), -1);
}

static void
unknown_keys_and_blank_lines_are_ignored(void **state)
{
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("\n\nMAINPID=42\nERRNO=2\nX_CUSTOM=a=b\nREADY=1\n\n", &m, &why), 0);
	assert_true(m.ready);
}

static void
garbage_is_malformed(void **state)
{
	struct notify_msg m;
	const char *why = NULL;
	const char nul[] = "READY=1\0STATUS=x";

	(void)state;
	assert_int_equal(parse("hello", &m, &why), -1);
	assert_string_equal(why, "a line is not KEY=VALUE");
	assert_int_equal(parse("READY=1\n=1", &m, &why), -1);
	assert_int_equal(notify_parse(nul, sizeof(nul) - 1, &m, &why), -1);
	assert_string_equal(why, "NUL byte in the message");
	assert_false(m.ready);	/* nothing of a malformed message counts */
}

static void
oversize_status_is_truncated(void **state)
{
	char buf[NOTIFY_MAX_DATAGRAM];
	struct notify_msg m;
	const char *why = NULL;

	(void)state;
	memcpy(buf, "STATUS=", 7);
	memset(buf + 7, 'x', sizeof(buf) - 7);
	assert_int_equal(notify_parse(buf, sizeof(buf), &m, &why), 0);
	assert_int_equal(strlen(m.status), NOTIFY_MAX_STATUS - 1);
}

static void
status_text_is_made_utf8(void **state)
{
	char buf[NOTIFY_MAX_DATAGRAM];
	struct notify_msg m;
	const char *why = NULL;
	size_t n;

	(void)state;
	/* a stray byte, a surrogate, an overlong '/', good text kept */
	assert_int_equal(parse("STATUS=caf\xc3\xa9 \xff \xed\xa0\x80 \xc0\xaf ok",
	    &m, &why), 0);
	assert_string_equal(m.status, "caf\xc3\xa9 ? ??? ?? ok");
	/* truncation never cuts a character in two: 'é' straddles the cut */
	memcpy(buf, "STATUS=", 7);
	n = 7 + NOTIFY_MAX_STATUS - 2;
	memset(buf + 7, 'x', n - 7);
	memcpy(buf + n, "\xc3\xa9tail", 6);
	assert_int_equal(notify_parse(buf, n + 6, &m, &why), 0);
	assert_int_equal(strlen(m.status), NOTIFY_MAX_STATUS - 2);
	assert_int_equal(m.status[NOTIFY_MAX_STATUS - 3], 'x');
}

static void
utf8_scrub_counts_and_valid_agrees(void **state)
{
	char s[] = "ok \xe2\x82\xac \xf4\x90\x80\x80 \xe2\x82";

	(void)state;
	assert_true(utf8_valid("plain \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_false(utf8_valid(s));
	assert_int_equal(utf8_scrub(s), 6);	/* past U+10FFFF: 4, cut euro: 2 */
	assert_string_equal(s, "ok \xe2\x82\xac ???? ??");
	assert_true(utf8_valid(s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ready_status_watchdog),
		cmocka_unit_test(values_other_than_1_do_not_count),
		cmocka_unit_test(extend_timeout),
		cmocka_unit_test(unknown_keys_and_blank_lines_are_ignored),
		cmocka_unit_test(garbage_is_malformed),
		cmocka_unit_test(oversize_status_is_truncated),
		cmocka_unit_test(status_text_is_made_utf8),
		cmocka_unit_test(fd_store_keys),
		cmocka_unit_test(utf8_scrub_counts_and_valid_agrees),
	};

	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
