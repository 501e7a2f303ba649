/*
 * config.c: read consentd.conf and map peers to roles (see config.h).
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CONFIG_LINE_MAX	1024
#define PEER_GROUPS_MAX	256

static const char *const role_names[] = { "none", "app", "reader", "admin" };

const char *
role_name(enum role r)
{
	return (unsigned)r <= ROLE_ADMIN ? role_names[r] : "none";
}

static int
set_string(char **dst, const char *v)
{
	free(*dst);
	return (*dst = strdup(v)) == NULL ? -1 : 0;
}

/* Parse "uid=N", "user=NAME" or "group=NAME" into r. */
static int
parse_selector(struct role_rule *r, const char *sel, const char *file, int line)
{
	char *end;

	if (strncmp(sel, "uid=", 4) == 0) {
		errno = 0;
		r->id = strtoul(sel + 4, &end, 10);
		if (errno || *end || end == sel + 4)
			goto bad;
		r->match = MATCH_UID;
	} else if (strncmp(sel, "user=", 5) == 0) {
		struct passwd *pw = getpwnam(sel + 5);

		if (pw == NULL) {
			fprintf(stderr, "%s:%d: no user \"%s\"\n", file, line, sel + 5);
			return -1;
		}
		r->match = MATCH_UID;
		r->id = pw->pw_uid;
	} else if (strncmp(sel, "group=", 6) == 0) {
		struct group *gr = getgrnam(sel + 6);

		if (gr == NULL) {
			fprintf(stderr, "%s:%d: no group \"%s\"\n", file, line, sel + 6);
			return -1;
		}
		r->match = MATCH_GID;
		r->id = gr->gr_gid;
	} else
		goto bad;
	return 0;
bad:
	fprintf(stderr, "%s:%d: \"%s\": expected uid=N, user=NAME or group=NAME\n", file, line,
	    sel);
	return -1;
}

static int
parse_products(struct role_rule *r, char *list, const char *file, int line)
{
	for (char *p = strtok(list, ","); p != NULL; p = strtok(NULL, ",")) {
		if (r->nproducts == CONFIG_PRODUCTS_MAX) {
			fprintf(stderr, "%s:%d: more than %d products\n", file, line,
			    CONFIG_PRODUCTS_MAX);
			return -1;
		}
		if ((r->products[r->nproducts++] = strdup(p)) == NULL)
			return -1;
	}
	return 0;
}

static int
parse_role(struct config *c, enum role role, char **words, int n, const char *file, int line)
{
	struct role_rule *r;

	if (c->nrules == CONFIG_RULES_MAX) {
		fprintf(stderr, "%s:%d: more than %d role lines\n", file, line, CONFIG_RULES_MAX);
		return -1;
	}
	r = &c->rules[c->nrules];
	memset(r, 0, sizeof *r);
	r->role = role;
	if (n < 2 || parse_selector(r, words[1], file, line) == -1) {
		if (n < 2)
			fprintf(stderr, "%s:%d: %s needs uid=, user= or group=\n", file, line,
			    words[0]);
		return -1;
	}
	if (role == ROLE_APP) {
		if (n != 3 || strncmp(words[2], "products=", 9) != 0 || words[2][9] == '\0') {
			fprintf(stderr, "%s:%d: app needs products=P[,P...]\n", file, line);
			return -1;
		}
		if (parse_products(r, words[2] + 9, file, line) == -1)
			return -1;
	} else if (n != 2) {
		fprintf(stderr, "%s:%d: %s takes one selector\n", file, line, words[0]);
		return -1;
	}
	c->nrules++;
	return 0;
}

static int
parse_line(struct config *c, char *s, const char *file, int line)
{
	char *words[8], *save = NULL, *w;
	int n = 0;

	for (w = strtok_r(s, " \t\r\n", &save); w && n < 8; w = strtok_r(NULL, " \t\r\n", &save))
		words[n++] = w;
	if (n == 0 || words[0][0] == '#')
		return 0;
	if (strcmp(words[0], "admin") == 0)
		return parse_role(c, ROLE_ADMIN, words, n, file, line);
	if (strcmp(words[0], "reader") == 0)
		return parse_role(c, ROLE_READER, words, n, file, line);
	if (strcmp(words[0], "app") == 0)
		return parse_role(c, ROLE_APP, words, n, file, line);
	if (n != 2) {
		fprintf(stderr, "%s:%d: \"%s\" takes one value\n", file, line, words[0]);
		return -1;
	}
	if (strcmp(words[0], "socket") == 0)
		return set_string(&c->socket_path, words[1]);
	if (strcmp(words[0], "state-dir") == 0)
		return set_string(&c->state_dir, words[1]);
	if (strcmp(words[0], "policy-dir") == 0)
		return set_string(&c->policy_dir, words[1]);
	if (strcmp(words[0], "registry") == 0)
		return set_string(&c->registry, words[1]);
	if (strcmp(words[0], "socket-mode") == 0) {
		char *end;
		unsigned long m = strtoul(words[1], &end, 8);

		if (*end || m > 0777) {
			fprintf(stderr, "%s:%d: socket-mode must be octal, e.g. 0660\n", file,
			    line);
			return -1;
		}
		c->socket_mode = m;
		return 0;
	}
	fprintf(stderr, "%s:%d: unknown setting \"%s\"\n", file, line, words[0]);
	return -1;
}

int
config_load(struct config *c, const char *path)
{
	char buf[CONFIG_LINE_MAX];
	int line = 0, rc = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof buf, f) != NULL) {
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "%s:%d: line too long\n", path, line);
			rc = -1;
			break;
		}
		if (parse_line(c, buf, path, line) == -1)
			rc = -1;
	}
	fclose(f);
	return rc;
}

void
config_free(struct config *c)
{
	free(c->socket_path);
	free(c->state_dir);
	free(c->policy_dir);
	free(c->registry);
	for (int i = 0; i < c->nrules; i++)
		for (int j = 0; j < c->rules[i].nproducts; j++)
			free(c->rules[i].products[j]);
	memset(c, 0, sizeof *c);
}

/* Whether the peer's user belongs to gid (primary or supplementary). */
static bool
peer_in_group(const struct peer *p, gid_t gid)
{
	gid_t groups[PEER_GROUPS_MAX];
	int n = PEER_GROUPS_MAX;
	struct passwd *pw;

	if (p->gid == gid)
		return true;
	if ((pw = getpwuid(p->uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

void
config_peer(const struct config *c, struct peer *p)
{
	p->role = ROLE_NONE;
	p->rule = NULL;
	if (p->uid == 0) {
		p->role = ROLE_ADMIN;
		return;
	}
	for (int i = 0; i < c->nrules; i++) {
		const struct role_rule *r = &c->rules[i];

		if ((r->match == MATCH_UID && r->id == p->uid) ||
		    (r->match == MATCH_GID && peer_in_group(p, r->id))) {
			p->role = r->role;
			p->rule = r;
			return;
		}
	}
}

bool
peer_has_product(const struct peer *p, const char *product)
{
	if (p->role == ROLE_ADMIN || p->role == ROLE_READER)
		return true;
	if (p->role != ROLE_APP || p->rule == NULL || product == NULL)
		return false;
	for (int i = 0; i < p->rule->nproducts; i++)
		if (strcmp(p->rule->products[i], product) == 0)
			return true;
	return false;
}
