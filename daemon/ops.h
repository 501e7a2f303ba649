/*
 * ops.h: what op handlers share: request-key readers that answer bad input with the
 * contract's error, and the handlers themselves.
 */
#ifndef CONSENTD_OPS_H
#define CONSENTD_OPS_H

#include "consentd.h"

/*
 * Each reader returns 0 and sets *out, or -1 with *reply set to the error to send. Absent
 * optional keys leave *out NULL / -1.
 */
int	req_string(struct request *, const char *key, bool required, size_t max,
	    const char **out, json_t **reply);
int	req_id(struct request *, const char *key, enum id_kind, bool required, int *out,
	    json_t **reply);
/* An optional whole number in [min, max]; *out keeps its default when the key is absent. */
int	req_int(struct request *, const char *key, int64_t min, int64_t max, int64_t *out,
	    json_t **reply);
int	req_bool(struct request *, const char *key, bool *out, json_t **reply);
/* The product key: known, and one this peer may act for. */
int	req_product(struct request *, int *out, json_t **reply);
json_t	*req_error(struct request *, enum proto_error, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

enum op_result	op_hello(struct request *, json_t **);
enum op_result	op_check(struct request *, json_t **);
enum op_result	op_explain(struct request *, json_t **);
enum op_result	op_decisions(struct request *, json_t **);
enum op_result	op_policy(struct request *, json_t **);
enum op_result	op_set_subject(struct request *, json_t **);
enum op_result	op_grant(struct request *, json_t **);
enum op_result	op_withdraw(struct request *, json_t **);
enum op_result	op_refuse(struct request *, json_t **);
enum op_result	op_status(struct request *, json_t **);
enum op_result	op_stats(struct request *, json_t **);
enum op_result	op_reload(struct request *, json_t **);
enum op_result	op_verify(struct request *, json_t **);
enum op_result	op_history(struct request *, json_t **);
enum op_result	op_export(struct request *, json_t **);
enum op_result	op_cancel(struct request *, json_t **);
enum op_result	op_purge(struct request *, json_t **);
enum op_result	op_subscribe(struct request *, json_t **);
/* A new ledger write or read of op, for r's peer; NULL when out of memory. */
struct ledger_write *ops_new_write(struct request *, enum ledger_op, const char *product,
		    const char *subject);

#endif
