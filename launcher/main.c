/* hgrid-launch: parse the command line and run one mode. Only main prints errors of
 * its own and picks the exit status. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dryrun.h"
#include "launch.h"
#include "wire/protocol.h"
#include "grid/validate.h"
#include "util/version.h"

int main(int argc, char **argv)
{
    hg_cli cli;
    hg_error err;
    hg_error_clear(&err);
    int status;

    if (hg_cli_parse(argc, argv, &cli, &err) != 0) {
        fprintf(stderr, "hgrid-launch: %s\n", err.msg);
        hg_cli_free(&cli);
        return HG_EXIT_USAGE;
    }
    if (cli.help) {
        hg_cli_usage(stdout);
        status = 0;
    } else if (cli.version) {
        printf("hgrid-launch %s\n", HG_VERSION);
        status = 0;
    } else if (cli.dry_run) {
        /* A reader that goes away (`| head`) must give "cannot write the plan" and
         * status 1, not death by SIGPIPE (141). Dry-run only: a launch's children must
         * not inherit an ignored SIGPIPE. */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
        hg_dryrun_opts o = { cli.format, cli.rank, cli.strict ? HG_VALIDATE_STRICT : 0,
                              cli.gpus_per_node };
        status = hg_dryrun(cli.configs, cli.nconfigs, &o, stdout, stderr);
    } else {
        status = hg_launch(&cli);
    }
    hg_cli_free(&cli);
    return status;
}
