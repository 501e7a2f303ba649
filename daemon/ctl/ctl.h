/*
 * consentctl's parts: the command table and its arguments (consentctl.c, args.c), the
 * connection (conn.c), aligned tables (table.c) and how each reply is shown (print.c,
 * print-policy.c).
 */
#ifndef CONSENTCTL_CTL_H
#define CONSENTCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#define DEFAULT_SOCKET		"/run/consentd/consentd.sock"

/* pkcheck's convention: the answer in 0 to 2, failures from 3 on. */
#define EXIT_ALLOW		0
#define EXIT_DENY		1
#define EXIT_PROMPT		2
#define EXIT_ERROR		3
#define EXIT_USAGE		4
#define EXIT_UNREACHABLE	5

/* Which exit codes a command can give, for its --help. */
enum exits {
	EXITS_PLAIN,		/* 0 done, 3 to 5 */
	EXITS_DECISION,		/* check, explain: 0 to 2 the decision, 3 to 5 */
	EXITS_WATCH,		/* 0 interrupted, 3 overflow, 5 closed */
};

struct cmd {
	const char		*name;
	const char		*alias;		/* another name it answers to, or NULL */
	const char		*op;		/* NULL: raw, or a command with sub-words */
	const char		*args[4];	/* positional request keys; "?key" is optional */
	const char		*metavars[4];	/* how --help names them; NULL: the key */
	const char		*options;	/* space-separated option names */
	const char		*help;		/* one line, for the list of commands */
	const char		*about;		/* more, for the command's own --help */
	enum exits		 exits;
	int			(*print)(json_t *reply);	/* a successful reply for a
								   person; the exit code */
	const struct cmd	*subs;		/* sub-words (policy list|show|diff) */
	size_t			 nsubs;
};

/* args.c */
const struct cmd *find_cmd(const struct cmd *table, size_t n, const char *word,
		    const char *parent);
bool		 takes_value(const struct cmd *c, const char *arg);
json_t		*make_request(const struct cmd *c, const char *parent, int argc, char **argv);
void		 usage(FILE *f, const struct cmd *table, size_t n);
void		 cmd_help(FILE *f, const struct cmd *c, const char *parent);

/* conn.c: a connection to the daemon; buf keeps what was read past the last line taken. */
struct conn {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
	size_t	 seen;		/* bytes of buf already searched for a newline */
};

int		 connect_socket(const char *path);
char		*read_line(struct conn *cn);
char		*call(struct conn *cn, json_t *req);
json_t		*take_reply(const char *line, bool raw_json, int *rc);
int		 run_watch(struct conn *cn, json_t *req, bool raw_json);

/* table.c */
struct table;
struct table	*table_new(size_t ncols);
void		 table_cell(struct table *t, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 table_list(struct table *t, json_t *a, const char *none);
void		 table_end_row(struct table *t);
void		 table_print(struct table *t, FILE *f, const char *indent);
void		 table_free(struct table *t);
const char	*text(json_t *o, const char *key);
long long	 number(json_t *o, const char *key);
const char	*iso_time(json_t *o, const char *key, char *buf, size_t len);
char		*join(json_t *a, const char *sep, const char *none);
void		 print_names(json_t *a);

/* print.c */
int		 decision_exit(json_t *r);
int		 print_check(json_t *r);
int		 print_explain(json_t *r);
int		 print_hello(json_t *r);
int		 print_recorded(json_t *r);
int		 print_status(json_t *r);
int		 print_decisions(json_t *r);
int		 print_stats(json_t *r);
int		 print_reload(json_t *r);
int		 print_verify(json_t *r);
int		 print_history(json_t *r);
size_t		 print_events(json_t *events);
int		 print_export(json_t *r);
int		 print_cancel(json_t *r);
int		 print_purge(json_t *r);
void		 print_error(json_t *r);
bool		 print_event(const char *line, bool raw_json);

/* print-policy.c */
int		 print_policy_list(json_t *r);
int		 print_policy_show(json_t *r);
int		 print_policy_diff(json_t *r);

#endif
