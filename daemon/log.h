/*
 * log.h: consentd's log. Lines go to stderr with a syslog priority prefix ("<6>") that journald
 * reads under systemd; in the foreground on a terminal they carry no prefix. Bytes from peers
 * are escaped before they reach a line, so a client cannot forge one.
 *
 * Events an operator may want to find or alert on also carry a stable MESSAGE_ID and fields of
 * their own (CONSENTD_*): sent to the journal with them when stderr is the journal, and as a
 * plain line otherwise. scripts/consentd.catalog explains each id.
 */
#ifndef CONSENTD_LOG_H
#define CONSENTD_LOG_H

#include <stddef.h>
#include <syslog.h>

#define MSGID_START		"94742d5f00c04e6ebdd38e656a434381"
#define MSGID_STOP		"ef7ed71464f9422d9950e1d04fa10241"
#define MSGID_RELOAD		"38109c70a2a1410ba8cf4adf2f270e6d"
#define MSGID_RELOAD_FAILED	"bd337c449ced4221b2b0c5de09df141b"
#define MSGID_LEDGER_FAILURE	"469d0a0ac574482ba505e6dfebb53c59"
#define MSGID_EXCEPTION_USED	"849c4b38c10e4e1dac2be9d06a42ca6c"
#define MSGID_CONSENT_WRITE	"65f6e213ef734b819f9bc070fe1647f0"
#define MSGID_CHAIN_BROKEN	"7f34f01064a74893b30b09cd5ba435b9"
#define MSGID_PURGE		"16f87eebb5bb4436bf9887c5d7085960"

/* A field of an event: KEY (CONSENTD_...) and its value, NULL for none. */
struct log_field {
	const char	*key;
	const char	*value;
};

void	log_init(int verbose);
void	log_to_syslog(void);	/* once detached from the terminal */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));	/* + strerror */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* An event: the message, with msgid and the n fields for the journal. */
void	log_event(int pri, const char *msgid, const struct log_field *fields, size_t n,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copy s into buf with every byte outside printable ASCII as \xNN; returns buf. */
char	*log_escape(const char *s, char *buf, size_t len);

#endif
