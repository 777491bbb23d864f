/* hgrid-launch: parse the command line and run one mode. Only main prints errors of
 * its own and picks the exit status. */
#include <stdio.h>

#include "cli.h"
#include "dryrun.h"
#include "launch.h"
#include "validate.h"
#include "version.h"

int main(int argc, char **argv)
{
    hg_cli cli;
    hg_error err;
    hg_error_clear(&err);
    int status;

    if (hg_cli_parse(argc, argv, &cli, &err) != 0) {
        fprintf(stderr, "hgrid-launch: %s\n", err.msg);
        hg_cli_free(&cli);
        return 2;
    }
    if (cli.help) {
        hg_cli_usage(stdout);
        status = 0;
    } else if (cli.version) {
        printf("hgrid-launch %s\n", HG_VERSION);
        status = 0;
    } else if (cli.dry_run) {
        hg_dryrun_opts o = { cli.format, cli.rank, cli.strict ? HG_VALIDATE_STRICT : 0 };
        status = hg_dryrun(cli.configs, cli.nconfigs, &o, stdout, stderr);
    } else {
        status = hg_launch(&cli);
    }
    hg_cli_free(&cli);
    return status;
}
