/*
 * policy.h: the id registry and the loaded policy tables.
 *
 * A policy set is immutable once loaded: the registry, every table of every product and version,
 * and which version is current per product. Requests hold a reference to the set they started
 * with, so a reload never changes a decision half-way. Strings point into the JSON documents the
 * set keeps alive.
 */
#ifndef CONSENTD_POLICY_H
#define CONSENTD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

enum id_kind {
	ID_PRODUCT, ID_FEATURE, ID_FIELD, ID_PERMISSION, ID_PURPOSE, ID_EXCEPTION, ID_KIND_COUNT
};

enum basis {
	BASIS_NONE, BASIS_CONTRACT, BASIS_LEGAL_OBLIGATION, BASIS_CONSENT, BASIS_SEPARATE_CONSENT,
	BASIS_LEGITIMATE_INTEREST, BASIS_EXCEPTION
};

enum platform { PLATFORM_NONE = -1, PLATFORM_ANDROID, PLATFORM_IOS, PLATFORM_WEB, PLATFORM_COUNT };

enum region {
	REGION_NONE = -1, REGION_CN, REGION_HK, REGION_EEA, REGION_UK, REGION_CH, REGION_IN,
	REGION_RU, REGION_SG, REGION_OTHER, REGION_COUNT
};

enum age_band { AGE_ADULT, AGE_MINOR, AGE_CHILD, AGE_BAND_COUNT };

/* The data subject's rights a policy grants, and how requests are answered (response). */
enum right {
	RIGHT_ACCESS, RIGHT_COPY, RIGHT_CORRECTION, RIGHT_DELETION, RIGHT_WITHDRAWAL,
	RIGHT_CANCELLATION, RIGHT_PORTABILITY, RIGHT_EXPLANATION, RIGHT_OBJECTION,
	RIGHT_RESTRICTION, RIGHT_COMPLAINT, RIGHT_RESPONSE, RIGHT_COUNT
};
enum need { NEED_REQUIRED, NEED_OPTIONAL, NEED_CONDITIONAL };

enum purpose_kind { PURPOSE_PLAIN, PURPOSE_MARKETING, PURPOSE_PERSONALISATION, PURPOSE_PROFILING,
	PURPOSE_SERVICE };

struct cite {
	const char	*seed;
	const char	*section;
	int		 first_line, last_line;
	const char	*quote;
	const char	*section_title;		/* resolved from the seed's table */
};

struct cites {
	struct cite	*v;
	size_t		 n;
};

struct idlist {
	int		*v;
	size_t		 n;
};

struct limits {
	bool		 present;
	unsigned	 platforms;		/* bit per enum platform; 0: any */
	const char	*os_min[PLATFORM_COUNT];	/* inclusive, NULL: none */
	const char	*os_below[PLATFORM_COUNT];	/* exclusive, NULL: none */
	const char	**roms;
	size_t		 nroms;
	unsigned	 regions;		/* bit per enum region; 0: any */
};

struct regional_basis {
	unsigned	 regions;
	enum basis	 basis;
};

struct field_decl {
	int			 field;
	enum need		 need;
	const char		*condition;
	enum basis		 basis;
	struct regional_basis	*regional;
	size_t			 nregional;
	struct idlist		 purposes;	/* empty: the feature's */
	struct limits		 limits;
	struct cites		 cite;
};

struct permission_decl {
	int		 permission;
	struct idlist	 purposes;		/* empty: the feature's */
	struct limits	 limits;
	struct cites	 cite;
};

struct feature_decl {
	int			 feature;
	const char		*name_zh;
	bool			 optional;
	enum basis		 basis;
	struct idlist		 purposes;
	struct field_decl	*fields;
	size_t			 nfields;
	struct permission_decl	*permissions;
	size_t			 npermissions;
	struct idlist		 members;
	struct cites		 cite;
	const struct table	*owner;		/* the table declaring it (umbrella, if adopted) */
	const struct cites	*adopted;	/* why the product adopts it, or NULL */
};

struct purpose_decl {
	int			 purpose;
	bool			 switchable;
	bool			 default_on;
	signed char		 region_default[REGION_COUNT];	/* -1 unset, 0 off, 1 on */
	enum purpose_kind	 kind;
	struct cites		 cite;
};

struct field_attr {
	bool		 declared;
	bool		 sensitive;
	bool		 never_collect;
	const char	*name_zh;
	struct cites	 cite;
	struct cites	 never_cite;
};

struct minors_rule {
	bool		 refuse[AGE_BAND_COUNT];
	bool		 guardian[AGE_BAND_COUNT];
	bool		 purposes_refused_band[AGE_BAND_COUNT];
	struct idlist	 purposes_refused;
	struct cites	 cite;
};

struct table {
	const char		*file;		/* path it was loaded from */
	int			 product;
	const char		*version;
	const char		*name_zh;
	const char		*seed;
	json_t			*doc;
	struct feature_decl	**feature;	/* by registry feature index, own or adopted */
	struct feature_decl	*own;		/* features this table declares */
	size_t			 nown;
	struct purpose_decl	**purpose;	/* by registry purpose index */
	struct purpose_decl	*purposes;
	size_t			 npurposes;
	struct field_attr	*field;		/* by registry field index */
	struct minors_rule	 minors;
	bool			*exception;	/* by registry exception index */
	struct cites		 exceptions_cite;
	int			 retention_years;	/* after cancel; 0: as long as the purpose */
	struct cites		 rights[RIGHT_COUNT];	/* n == 0: the policy does not say */
	struct cites		 reconsent;	/* where it asks again for new purposes */
	int			 response_days;		/* to answer a request; 0: not stated */
	const struct table	*umbrella;
};

struct registry {
	json_t		*doc;
	const char	**ids[ID_KIND_COUNT];	/* sorted, for binary search */
	size_t		 count[ID_KIND_COUNT];
	int		*feature_product;	/* product index of each feature */
	int		*permission_platform;	/* enum platform of each permission */
};

struct policy_set {
	int		 refs;
	struct registry	 reg;
	struct table	**tables;
	size_t		 ntables;
	struct table	**current;		/* by product index; NULL: none (the umbrella has one) */
	char		 loaded_at[32];
	void		*arena_head;		/* the arena the set was built in */
};

/* An error found while loading: file, JSON path and what is wrong. */
struct policy_errors {
	char	**lines;
	size_t	  n;
};

/*
 * Load the registry file and every "*.json" table of dir. Returns a set with one reference, or
 * NULL with every problem in errs (one line each, "file: path: message"). Never partially loads.
 */
struct policy_set	*policy_load(const char *registry_path, const char *dir,
			    struct policy_errors *errs);
/*
 * The same over several directories, earlier ones first: a table file in an earlier one
 * replaces the file of the same name in a later one (the operator's /etc/consentd/policies over
 * the packaged /usr/share/consentd/policies). Only the last directory must exist.
 */
struct policy_set	*policy_load_dirs(const char *registry_path, const char *const *dirs,
			    size_t ndirs, struct policy_errors *);
void			 policy_errors_free(struct policy_errors *);
struct policy_set	*policy_ref(struct policy_set *);
void			 policy_unref(struct policy_set *);

/* Index of an id of the given kind, or -1. */
int			 registry_find(const struct registry *, enum id_kind, const char *);
const char		*registry_name(const struct registry *, enum id_kind, int);

/* The table of product at version (NULL: current), or NULL. */
const struct table	*policy_table(const struct policy_set *, int product, const char *version);

const char		*basis_name(enum basis);
const char		*region_name(enum region);
const char		*right_name(enum right);
/* The citations as the protocol shows them: seed, section, title, lines, quote. */
json_t			*cites_json(const struct cites *);
bool			 idlist_has(const struct idlist *, int id);
/* The feature's declaration of field (permission), or NULL. */
const struct field_decl	*feature_field(const struct feature_decl *, int field);
const struct permission_decl *feature_permission(const struct feature_decl *, int permission);
/* Where the policy asks for consent again for new uses (its own clauses, or the umbrella's). */
const struct cites	*policy_reconsent(const struct table *);
/* The table's declaration of purpose, or the umbrella's where the table is silent; or NULL. */
const struct purpose_decl *policy_purpose(const struct table *, int purpose);
int			 platform_parse(const char *);
int			 region_parse(const char *);
int			 age_band_parse(const char *);
const char		*age_band_name(enum age_band);

/* Compare OS versions numerically component by component ("8" = "8.0" < "8.1" < "10.3"). */
int			 os_version_cmp(const char *, const char *);
/* Whether s is a version: digits separated by single dots. */
bool			 os_version_valid(const char *);

#endif
