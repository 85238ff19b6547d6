/* migrations.h - the schema migrations embedded at build time (see cmake/embed_migrations.cmake). */
#ifndef SLUICE_STORE_MIGRATIONS_H
#define SLUICE_STORE_MIGRATIONS_H

struct sl__migration {
    int version;      /* from the file name: 0001_init.sql -> 1 */
    const char *name; /* "0001_init" */
    const char *sql;
};
extern const struct sl__migration sl__migrations[];
extern const int sl__migrations_count;

#endif
