/*
 * log.c: see log.h.
 */
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define EVENT_FIELDS_MAX	8

static int	log_verbose;
static int	log_prefix;	/* priority prefixes, for journald */
static int	log_syslog;
static int	log_journal;	/* stderr is the journal: events go with their fields */

/* Whether stderr is the stream systemd connected to the journal (JOURNAL_STREAM=dev:ino). */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%ju:%ju", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_to_syslog(void)
{
	openlog("consentd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

void
log_init(int verbose)
{
	log_verbose = verbose;
	log_prefix = !isatty(STDERR_FILENO);
	log_journal = stderr_is_journal();
}

/* One line, in one write, so that lines of the writer and loop threads never interleave. */
static void
log_line(int pri, const char *msg, const char *suffix)
{
	char line[1200], prefix[8] = "";
	int n;

	if (log_syslog) {
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	if (log_prefix)
		snprintf(prefix, sizeof prefix, "<%d>", pri & 7);
	n = snprintf(line, sizeof line, "%sconsentd: %s%s%s\n", prefix, msg, suffix ? ": " : "",
	    suffix ? suffix : "");
	if (n >= (int)sizeof line)
		line[sizeof line - 2] = '\n';
	if (write(STDERR_FILENO, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1) < 0)
		return;		/* nowhere left to say so */
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_line(pri, msg, suffix);
}

/* The event to the journal with its fields; -1 when it could not be sent there. */
static int
journal_event(int pri, const char *msgid, const struct log_field *fields, size_t n,
    const char *msg)
{
	char text[EVENT_FIELDS_MAX + 4][1100];
	struct iovec iov[EVENT_FIELDS_MAX + 4];
	size_t k = 0;

	snprintf(text[k++], sizeof text[0], "MESSAGE=consentd: %s", msg);
	snprintf(text[k++], sizeof text[0], "PRIORITY=%d", pri);
	snprintf(text[k++], sizeof text[0], "MESSAGE_ID=%s", msgid);
	snprintf(text[k++], sizeof text[0], "SYSLOG_IDENTIFIER=consentd");
	for (size_t i = 0; i < n && i < EVENT_FIELDS_MAX; i++)
		if (fields[i].value != NULL)
			snprintf(text[k++], sizeof text[0], "%s=%s", fields[i].key,
			    fields[i].value);
	for (size_t i = 0; i < k; i++) {
		iov[i].iov_base = text[i];
		iov[i].iov_len = strlen(text[i]);
	}
	return sd_journal_sendv(iov, (int)k) < 0 ? -1 : 0;
}

void
log_event(int pri, const char *msgid, const struct log_field *fields, size_t n,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!log_journal || journal_event(pri, msgid, fields, n, msg) == -1)
		log_line(pri, msg, NULL);
}

void
log_warn(const char *fmt, ...)
{
	char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}
