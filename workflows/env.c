/* env.c - what shipped activities need from the worker: paths and a Databricks client. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/workflows.h"

struct sl_wf_env {
    char *db_path;
    char *data_dir;
    sl_engine *engine;
    sl_dbx_config cfg;
    bool has_cfg;
    pthread_mutex_t mu;
    sl_dbx_client *dbx;
    bool resolved;    /* configuration looked at once; dbx or err is the answer */
    sl_err dbx_err;
};

sl_code sl_wf_env_new(const sl_wf_env_opts *o, sl_wf_env **out, sl_err *err)
{
    (void)err;
    sl_wf_env *env = sl_xcalloc(1, sizeof(*env));
    env->db_path = sl_xstrdup(o && o->db_path ? o->db_path : "sluice.db");
    const char *dd = o && o->data_dir ? o->data_dir : getenv("SLUICE_DATA_DIR");
    env->data_dir = sl_xstrdup(dd && *dd ? dd : "sluice-data");
    if (o && o->dbx) {
        env->cfg = *o->dbx;
        env->has_cfg = true;
    }
    pthread_mutex_init(&env->mu, NULL);
    *out = env;
    return SL_OK;
}

void sl_wf_env_free(sl_wf_env *env)
{
    if (!env)
        return;
    sl_dbx_client_free(env->dbx);
    pthread_mutex_destroy(&env->mu);
    free(env->db_path);
    free(env->data_dir);
    free(env);
}

const char *sl_wf_env_db_path(const sl_wf_env *env)
{
    return env->db_path;
}

const char *sl_wf_env_data_dir(const sl_wf_env *env)
{
    return env->data_dir;
}

void sl_wf_env_set_engine(sl_wf_env *env, sl_engine *e)
{
    env->engine = e;
}

sl_engine *sl_wf_env_engine(const sl_wf_env *env)
{
    return env->engine;
}

void sl_wf_env_set_dbx(sl_wf_env *env, sl_dbx_client *take)
{
    pthread_mutex_lock(&env->mu);
    sl_dbx_client_free(env->dbx);
    env->dbx = take;
    env->resolved = true;
    pthread_mutex_unlock(&env->mu);
}

sl_code sl_wf_env_dbx(sl_wf_env *env, sl_dbx_client **out, sl_err *err)
{
    *out = NULL;
    pthread_mutex_lock(&env->mu);
    if (!env->resolved) {
        env->resolved = true;
        sl_err_clear(&env->dbx_err);
        sl_dbx_settings s;
        sl_dbx_settings_init(&s);
        if (sl_dbx_config_resolve_default(env->has_cfg ? &env->cfg : NULL, &s, &env->dbx_err) ==
                SL_OK &&
            sl_dbx_client_new(&s, &env->dbx, &env->dbx_err) != SL_OK)
            env->dbx = NULL;
        sl_dbx_settings_cleanup(&s);
        if (!env->dbx) {
            env->dbx_err.retryable = false;
            sl_err_prefix(&env->dbx_err, "Databricks is not configured");
        }
    }
    sl_code rc = SL_OK;
    if (env->dbx) {
        *out = env->dbx;
    } else {
        rc = env->dbx_err.code ? env->dbx_err.code : SL_EINVAL;
        if (err)
            *err = env->dbx_err;
    }
    pthread_mutex_unlock(&env->mu);
    return rc;
}

sl_wf_env *sl_act_wf_env(sl_act *act)
{
    return (sl_wf_env *)sl_act_env(act);
}
