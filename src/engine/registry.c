/* registry.c - workflow and activity functions by type name. */
#include <stdlib.h>
#include <string.h>

#include "sluice/engine.h"

struct reg_entry {
    char *name;
    void (*fn)(void);
};

struct sl_registry {
    struct reg_entry *wfs, *acts;
    size_t n_wfs, n_acts;
    char *names;
};

sl_registry *sl_registry_new(void)
{
    return sl_xcalloc(1, sizeof(sl_registry));
}

void sl_registry_free(sl_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_wfs; i++)
        free(r->wfs[i].name);
    for (size_t i = 0; i < r->n_acts; i++)
        free(r->acts[i].name);
    free(r->wfs);
    free(r->acts);
    free(r->names);
    free(r);
}

static void add(struct reg_entry **v, size_t *n, const char *name, void (*fn)(void))
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].name, name) == 0) {
            (*v)[i].fn = fn;
            return;
        }
    *v = sl_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].name = sl_xstrdup(name);
    (*v)[*n].fn = fn;
    (*n)++;
}

static void (*find(const struct reg_entry *v, size_t n, const char *name))(void)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].fn;
    return NULL;
}

/* Function pointers are stored as void(*)(void) and cast back to their real type. */
void sl_registry_add_workflow(sl_registry *r, const char *type, sl_workflow_fn fn)
{
    add(&r->wfs, &r->n_wfs, type, (void (*)(void))fn);
    free(r->names);
    r->names = NULL;
}

void sl_registry_add_activity(sl_registry *r, const char *type, sl_activity_fn fn)
{
    add(&r->acts, &r->n_acts, type, (void (*)(void))fn);
}

sl_workflow_fn sl_registry_workflow(const sl_registry *r, const char *type)
{
    return (sl_workflow_fn)find(r->wfs, r->n_wfs, type);
}

sl_activity_fn sl_registry_activity(const sl_registry *r, const char *type)
{
    return (sl_activity_fn)find(r->acts, r->n_acts, type);
}

const char *sl_registry_workflow_names(const sl_registry *r)
{
    if (!r->names) {
        size_t len = 1;
        for (size_t i = 0; i < r->n_wfs; i++)
            len += strlen(r->wfs[i].name) + 2;
        ((sl_registry *)r)->names = sl_xcalloc(1, len);
        for (size_t i = 0; i < r->n_wfs; i++) {
            if (i)
                strcat(r->names, ", ");
            strcat(r->names, r->wfs[i].name);
        }
    }
    return r->names;
}
