/* The settings table (settings.h), and the names of its ENUM values. The merge with a
 * config is grid/config.c's (hg_settings_merge), which knows the config's fields. */
#include "grid/settings.h"

#include <string.h>

#include "util/intparse.h"

#define HG_SETTING_ROW(ID, NAME, OPTION, KEY, ENV, KIND, MIN, MAX, DEF, EXPECTED, DOC) \
    [HG_SET_##ID] = { NAME, OPTION, KEY, ENV, KIND, MIN, MAX, DEF, EXPECTED, DOC },
static const hg_setting table[HG_NSETTINGS] = { HG_SETTINGS(HG_SETTING_ROW) };
#undef HG_SETTING_ROW

const hg_setting *hg_setting_get(hg_setting_id id)
{
    return (unsigned)id < HG_NSETTINGS ? &table[id] : NULL;
}

hg_setting_id hg_setting_id_of(const hg_setting *s)
{
    return (hg_setting_id)(s - table);
}

const hg_setting *hg_setting_by_option(const char *option)
{
    for (int i = 0; option && i < HG_NSETTINGS; i++)
        if (table[i].option && strcmp(table[i].option, option) == 0)
            return &table[i];
    return NULL;
}

const hg_setting *hg_setting_by_key(const char *key)
{
    for (int i = 0; key && i < HG_NSETTINGS; i++)
        if (table[i].key && strcmp(table[i].key, key) == 0)
            return &table[i];
    return NULL;
}

static const char *const backend_names[] = { [HG_BACKEND_NCCL] = "nccl", [HG_BACKEND_MPI] = "mpi" };
#define NBACKENDS (sizeof(backend_names) / sizeof(backend_names[0]))

/* The index of name in names[0 .. n), or -1 (name NULL included). */
static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

const char *hg_backend_name(hg_backend backend)
{
    return (unsigned)backend < NBACKENDS ? backend_names[backend] : "?";
}

int hg_backend_from_name(const char *name, hg_backend *out)
{
    int i = name_index(backend_names, NBACKENDS, name);
    if (i >= 0)
        *out = (hg_backend)i;
    return i < 0 ? -1 : 0;
}

static const char *const preflight_names[] = { [HG_PREFLIGHT_FULL] = "full",
                                                [HG_PREFLIGHT_WORLD] = "world",
                                                [HG_PREFLIGHT_NONE] = "none" };
#define NPREFLIGHTS (sizeof(preflight_names) / sizeof(preflight_names[0]))

const char *hg_preflight_name(hg_preflight p)
{
    return (unsigned)p < NPREFLIGHTS ? preflight_names[p] : "?";
}

int hg_preflight_from_name(const char *name, hg_preflight *out)
{
    int i = name_index(preflight_names, NPREFLIGHTS, name);
    if (i >= 0)
        *out = (hg_preflight)i;
    return i < 0 ? -1 : 0;
}

/* An ENUM's value by name, as configs, both command lines and the environment spell it. */
static int enum_from_name(hg_setting_id id, const char *text, int *out)
{
    if (id == HG_SET_BACKEND) {
        hg_backend b;
        if (hg_backend_from_name(text, &b) != 0)
            return -1;
        *out = (int)b;
        return 0;
    }
    if (id == HG_SET_PREFLIGHT) {
        hg_preflight p;
        if (hg_preflight_from_name(text, &p) != 0)
            return -1;
        *out = (int)p;
        return 0;
    }
    return -1;
}

int hg_setting_parse(const hg_setting *s, const char *who, const char *text, int *out,
                     hg_error *err)
{
    int v;
    if (s->kind == HG_SETTING_ENUM) {
        if (enum_from_name(hg_setting_id_of(s), text, &v) != 0)
            return hg_error_set(err, HG_EINVAL, "%s: expected %s, got '%s'", who, s->expected,
                                text);
    } else if (hg_int_parse(text, s->min, s->max, &v) != 0) {
        return hg_error_set(err, HG_EINVAL, "%s: expected %s in %d..%d, got '%s'", who,
                            s->expected, s->min, s->max, text);
    }
    *out = v;
    return 0;
}

void hg_settings_none_given(int given[HG_NSETTINGS])
{
    for (int i = 0; i < HG_NSETTINGS; i++)
        given[i] = HG_SETTING_UNSET;
}
