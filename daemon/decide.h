/*
 * decide.h: the decision rules of CONTRACT §5, as a pure function.
 *
 * Input: a loaded policy set, a request naming registry indexes, and a snapshot of the subject's
 * consent state for that product. Output: the decision, its reasons, basis, prompt and a trace
 * of every rule evaluated with the policy clause it comes from. No I/O, no allocation: the
 * caller owns every buffer, so the engine is unit-testable and fast.
 */
#ifndef CONSENTD_DECIDE_H
#define CONSENTD_DECIDE_H

#include <stdint.h>

#include "policy.h"

#define DECIDE_REFUSAL_WINDOW_SECONDS	(48 * 3600)
#define DECIDE_REASONS_MAX		4
#define DECIDE_TRACE_MAX		64
#define DECIDE_SCOPE_BYTES		256
#define DECIDE_DETAIL_BYTES		256

enum outcome { OUTCOME_ALLOW, OUTCOME_PROMPT, OUTCOME_DENY };	/* strictness order */

enum consent_state { CONSENT_NONE, CONSENT_GRANTED, CONSENT_WITHDRAWN, CONSENT_REFUSED };

/* One scope's current state, as the ledger derives it. */
struct consent_entry {
	const char		*scope;
	enum consent_state	 state;
	const char		*policy_version;
	int64_t			 at;
	bool			 has_guardian;
};

/* What is known of one subject for one product. */
struct subject_state {
	enum age_band			 age_band;
	int				 region;	/* enum region, REGION_NONE */
	const struct consent_entry	*entries;
	size_t				 nentries;
};

struct decide_request {
	int		 product, feature, field, permission, purpose, exception;	/* -1: none */
	int		 platform;		/* enum platform */
	const char	*os_version;
	const char	*rom;
	int		 region;		/* enum region; REGION_NONE: the subject's */
	int64_t		 now;
	bool		 explain;		/* fill the trace (costly: only for explain) */
};

struct trace_step {
	const char		*rule;
	const char		*result;	/* "pass", "allow", "prompt", "deny", "skip" */
	char			 detail[DECIDE_DETAIL_BYTES];
	const struct cites	*cite;
};

struct decision {
	enum outcome		 outcome;
	const char		*reasons[DECIDE_REASONS_MAX];
	size_t			 nreasons;
	enum basis		 basis;
	char			 detail[DECIDE_DETAIL_BYTES];
	/* with OUTCOME_PROMPT */
	char			 prompt_scope[DECIDE_SCOPE_BYTES];
	int			 prompt_purpose;	/* -1: none */
	bool			 separate;
	int64_t			 retry_after;		/* 0: none */
	bool			 exception_used;
	const struct table	*table;
	bool			 tracing;
	size_t			 ntrace;	/* 0 unless the request asked to explain */
	struct trace_step	 trace[DECIDE_TRACE_MAX];
};

/* Evaluate the rules for req; always fills out (deny when in doubt). */
void	decide(const struct policy_set *, const struct decide_request *,
	    const struct subject_state *, struct decision *out);

const char	*outcome_name(enum outcome);

/* The state of scope in s, or NULL. */
const struct consent_entry *subject_scope(const struct subject_state *, const char *scope);

#endif
