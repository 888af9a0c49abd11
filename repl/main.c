/* main.c: husky's command line: replay a script, run -e commands, or start the interactive shell;
 * under mpirun, one rank of an MPI job (cluster.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "input.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: husky [-k] [-i] [-e 'COMMAND; COMMAND'] [SCRIPT.husky [NAME=VALUE...]]\n"
            "  SCRIPT     run the script and exit with its status (NAME=VALUE sets ${NAME} for it)\n"
            "  -e CMDS    run commands given on the command line\n"
            "  -i         stay interactive after the script or -e commands\n"
            "  -k         keep going after a failing command\n"
            "  -h         this help;  husky then 'help' lists the commands\n");
}

static int run(int argc, char **argv)
{
    const char *commands = NULL;
    int stay = 0, keep_going = 0, opt;
    while ((opt = getopt(argc, argv, "+e:ikhV")) != -1) {
        switch (opt) {
        case 'e': commands = optarg; break;
        case 'i': stay = 1; break;
        case 'k': keep_going = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("husky 0.1.0"); return 0;
        default: usage(stderr); return 2;
        }
    }
    const char *script = optind < argc ? argv[optind++] : NULL;
    int interactive = isatty(STDIN_FILENO) && cluster_ranks() < 2 && (stay || (!script && !commands));
    /* under mpirun stdin is never a terminal, but -i still means a person is typing */
    int person_at_mpirun = stay && cluster_ranks() > 1;
    struct shell sh;
    if (shell_init(&sh, interactive) != 0)
        return 1;
    sh.keep_going = keep_going;
    for (; optind < argc; optind++) {
        char *eq = strchr(argv[optind], '=');
        if (!eq || eq == argv[optind]) {
            fprintf(stderr, "husky: expected NAME=VALUE after the script, got '%s'\n", argv[optind]);
            shell_free(&sh);
            return 2;
        }
        *eq = '\0';
        shell_set_var(&sh, argv[optind], eq + 1);
    }
    int rc = 0;
    if (script)
        rc |= input_run_file(&sh, script);
    if (commands && !sh.quit && (rc == 0 || keep_going)) {
        sh.file = "-e";
        sh.line = 1;
        rc |= input_run_line(&sh, commands);
        sh.file = NULL;
    }
    if ((stay || (!script && !commands)) && !sh.quit) {
        if (person_at_mpirun)
            sh.keep_going = 1;
        input_loop(&sh);
    }
    if (sh.quit != 2 && hk_worker_busy(sh.worker))
        shell_wait(&sh);
    int failed = rc != 0 || sh.failed;
    if (sh.quit == 2)
        _exit(130);
    shell_free(&sh);
    return failed && !interactive && !person_at_mpirun ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (cluster_init(&argc, &argv) != 0)
        return 1;
    int rc = run(argc, argv);
    cluster_finish();
    return rc;
}
