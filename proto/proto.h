/*
 * proto.h: the consentd wire protocol, shared by consentd and consentctl.
 *
 * Newline-delimited JSON over an AF_UNIX stream socket: one object per line, UTF-8, at most
 * PROTO_LINE_MAX_BYTES including the newline. Every reply carries "ok"; failures carry
 * "error": {"code", "message"}. See proto/PROTOCOL.md.
 */
#ifndef CONSENTD_PROTO_H
#define CONSENTD_PROTO_H

#include <stddef.h>
#include <jansson.h>

#define PROTO_VERSION		1
#define PROTO_LINE_MAX_BYTES	(64 * 1024)

enum proto_error {
	PROTO_ERR_BAD_JSON,
	PROTO_ERR_BAD_REQUEST,
	PROTO_ERR_UNKNOWN_OP,
	PROTO_ERR_UNKNOWN_PRODUCT,
	PROTO_ERR_UNKNOWN_FEATURE,
	PROTO_ERR_UNKNOWN_FIELD,
	PROTO_ERR_UNKNOWN_PERMISSION,
	PROTO_ERR_UNKNOWN_PURPOSE,
	PROTO_ERR_UNKNOWN_EXCEPTION,
	PROTO_ERR_UNKNOWN_SCOPE,
	PROTO_ERR_FORBIDDEN,
	PROTO_ERR_TOO_LARGE,
	PROTO_ERR_BUSY,
	PROTO_ERR_LEDGER_UNAVAILABLE,
	PROTO_ERR_CANCEL_BLOCKED,
	PROTO_ERR_CHAIN_BROKEN,
	PROTO_ERR_INTERNAL,
	PROTO_ERR_COUNT
};

/* The wire name of an error code ("bad_json", ...). */
const char	*proto_error_name(enum proto_error);

/*
 * Find the end of the first line in buf[0..len). Returns the length of the line without its
 * newline, or -1 when no newline is there yet. *too_large is set when the line (complete or not)
 * is longer than PROTO_LINE_MAX_BYTES allows.
 */
long		 proto_line_end(const char *buf, size_t len, int *too_large);

/* A new reply object {"id": id, "ok": true}; id may be NULL (absent). */
json_t		*proto_reply_ok(json_t *id);

/* A new error reply {"id", "ok": false, "error": {"code", "message"}}; printf-style message. */
json_t		*proto_reply_error(json_t *id, enum proto_error, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Encode obj as one compact line with its trailing newline. Returns a malloc'd buffer and its
 * length in *len, or NULL on allocation failure. Does not consume obj.
 */
char		*proto_encode(const json_t *obj, size_t *len);

/*
 * A reply line written piece by piece, for the hot path where building a jansson object only
 * to dump it would cost more than the answer itself. Once an addition fails (out of memory),
 * failed stays set and the buffer must not be sent.
 */
struct proto_buf {
	char	*data;
	size_t	 len, cap;
	int	 failed;
};

void		 proto_buf_add(struct proto_buf *, const char *, size_t);
/* Add s as it is: for keys, punctuation and ids known to need no escaping. */
void		 proto_buf_add_raw(struct proto_buf *, const char *s);
/* Add s as a quoted, escaped JSON string (s is UTF-8, as every string consentd holds). */
void		 proto_buf_add_string(struct proto_buf *, const char *s);
/* Add a JSON scalar (a request id) as jansson encodes it. */
void		 proto_buf_add_scalar(struct proto_buf *, const json_t *);
void		 proto_buf_free(struct proto_buf *);

/* Whether a request id is acceptable: absent (NULL) or a JSON scalar. */
int		 proto_id_valid(const json_t *id);

#endif
