/* master.h - the master process of 'postern serve'.
 *
 * Binds every listener and loads TLS material (as root when started as
 * root), then forks the workers, which drop privileges. It restarts a worker
 * that dies, stops everything on SIGTERM/SIGINT (sessions get server.grace,
 * then are killed), and on SIGHUP re-reads the configuration and certificates:
 * listeners whose address is unchanged are kept open (no connection is
 * refused during a reload), new ones are bound, removed ones closed, and a
 * new generation of workers replaces the old one. Old workers (SIGUSR1)
 * accept nothing more and exit when their sessions end, or after
 * server.reload_grace.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include "lib/common.h"

struct cli;
struct config;

/* Runs until stopped; returns the exit status. cfg is consumed. */
int master_run(const struct cli *cli, struct config *cfg);

#endif
