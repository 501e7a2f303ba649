/*
 * log.h: consentd's log. Lines go to stderr with a syslog priority prefix ("<6>") that journald
 * reads under systemd; in the foreground on a terminal they carry no prefix. Bytes from peers
 * are escaped before they reach a line, so a client cannot forge one.
 */
#ifndef CONSENTD_LOG_H
#define CONSENTD_LOG_H

#include <stddef.h>

void	log_init(int verbose);
void	log_to_syslog(void);	/* once detached from the terminal */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));	/* + strerror */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy s into buf with every byte outside printable ASCII as \xNN; returns buf. */
char	*log_escape(const char *s, char *buf, size_t len);

#endif
