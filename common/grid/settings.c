/* The settings table (settings.h) and the one merge of given, config and default. */
#include "grid/settings.h"

#include <string.h>

#include "grid/config.h"
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

/* An ENUM's value by name: the names are the config's (grid/config.c), which configs,
 * both command lines and the environment spell alike. */
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

/* The config's value of a setting that has a key (the default where the file did not
 * set it: config.c takes the defaults from the table). */
static int config_value(const hg_config *cfg, hg_setting_id id)
{
    switch (id) {
    case HG_SET_BACKEND: return (int)cfg->backend;
    case HG_SET_TIMEOUT: return (int)cfg->init_timeout_s.v;
    case HG_SET_PREFLIGHT: return (int)cfg->preflight;
    case HG_SET_VERIFY: return cfg->verify;
    case HG_SET_RANKS_PER_ROOT: return (int)cfg->nccl_ranks_per_root.v;
    case HG_SET_MAX_RESTARTS: return (int)cfg->max_restarts.v;
    case HG_SET_STALL_TIMEOUT: return (int)cfg->stall_timeout_s.v;
    case HG_SET_FIRST_BEAT_TIMEOUT: return (int)cfg->first_beat_timeout_s.v;
    default: return table[id].def; /* no key: unreachable for a complete table */
    }
}

void hg_settings_none_given(int given[HG_NSETTINGS])
{
    for (int i = 0; i < HG_NSETTINGS; i++)
        given[i] = HG_SETTING_UNSET;
}

void hg_settings_merge(const int *given, const hg_config *cfg, hg_setting_values *out)
{
    for (int i = 0; i < HG_NSETTINGS; i++) {
        if (given && given[i] != HG_SETTING_UNSET) {
            out->v[i] = given[i];
            out->from[i] = HG_FROM_GIVEN;
        } else if (cfg && table[i].key) {
            out->v[i] = config_value(cfg, (hg_setting_id)i);
            out->from[i] = HG_FROM_CONFIG;
        } else {
            out->v[i] = table[i].def;
            out->from[i] = HG_FROM_DEFAULT;
        }
    }
}
