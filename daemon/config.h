/*
 * config.h: consentd.conf: where things live, and who may do what.
 *
 *   socket        PATH          # --socket overrides
 *   socket-mode   0666
 *   state-dir     DIR           # --state-dir overrides
 *   policy-dir    DIR           # --policy-dir overrides
 *   registry      FILE          # default: registry.json beside the policy directory
 *   admin|reader  uid=N | user=NAME | group=NAME
 *   app           uid=N | user=NAME | group=NAME  products=P[,P...]
 *
 * The first role line matching a peer decides its role; root is always admin.
 */
#ifndef CONSENTD_CONFIG_H
#define CONSENTD_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

#define CONFIG_RULES_MAX	256
#define CONFIG_PRODUCTS_MAX	16

enum role { ROLE_NONE, ROLE_APP, ROLE_READER, ROLE_ADMIN };

struct role_rule {
	enum role	 role;
	enum { MATCH_UID, MATCH_GID } match;
	unsigned long	 id;
	char		*products[CONFIG_PRODUCTS_MAX];
	int		 nproducts;
};

struct config {
	char		*socket_path;
	unsigned	 socket_mode;
	char		*state_dir;
	char		*policy_dir;
	char		*registry;
	struct role_rule rules[CONFIG_RULES_MAX];
	int		 nrules;
};

/* What a peer may do, fixed at accept. */
struct peer {
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	enum role	 role;
	const struct role_rule *rule;	/* for an app: its products */
};

/* Read path into c (defaults kept for what it does not say); -1 with messages on stderr. */
int		 config_load(struct config *, const char *path);
void		 config_free(struct config *);
/* The role of a peer with these credentials. */
void		 config_peer(const struct config *, struct peer *);
bool		 peer_has_product(const struct peer *, const char *product);
const char	*role_name(enum role);

#endif
