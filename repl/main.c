/* main.c: husky's command line: replay a script, run -e commands, or start the interactive shell;
 * under mpirun, one rank of an MPI job (cluster.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "commands.h"
#include "input.h"
#include "modelfile.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: husky [-k] [-i] [-e 'COMMAND; COMMAND'] [SCRIPT.husky [NAME=VALUE...]]\n"
            "  SCRIPT     run the script and exit with its status (NAME=VALUE sets ${NAME} for it)\n"
            "  -e CMDS    run commands given on the command line\n"
            "  -i         stay interactive after the script or -e commands\n"
            "  -k         keep going after a failing command\n"
            "  --serve FILE [port=N] [OPTION=VALUE...]\n"
            "             serve the model file over HTTP without a prompt (options as the serve command's);\n"
            "             SIGTERM or SIGINT stops it cleanly, SIGHUP reloads the file (checked first)\n"
            "  -h, --help     this help;  husky then 'help' lists the commands\n"
            "  -V, --version  husky's version\n");
}

/* husky --serve FILE [OPTION=VALUE...]: `serve model=FILE ...`, then wait for a signal with
 * SIGTERM, SIGINT and SIGHUP blocked in every thread (main blocked them before any thread started). */
static int serve_mode(int argc, char **argv, const sigset_t *sigs)
{
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    size_t len = 32;
    for (int i = 2; i < argc; i++)
        len += 2 * strlen(argv[i]) + 8;
    char *line = malloc(len);
    if (!line)
        return 1;
    /* one word per argument, its value quoted so that spaces survive the lexer (which has no
       escapes: a value with both kinds of quotes cannot be written) */
    char *p = line + sprintf(line, "serve");
    for (int i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *value = i == 2 ? argv[i] : eq ? eq + 1 : NULL;
        int keylen = i == 2 ? 5 : eq ? (int)(eq - argv[i]) : 0;
        if (!value || strpbrk(argv[i], " \t;") == argv[i] || (strchr(value, '"') && strchr(value, '\''))) {
            fprintf(stderr, "husky --serve: expected OPTION=VALUE after the model file, got '%s'\n", argv[i]);
            free(line);
            return 2;
        }
        char q = strchr(value, '"') ? '\'' : '"';
        p += sprintf(p, " %.*s=%c%s%c", keylen, i == 2 ? "model" : argv[i], q, value, q);
    }
    struct shell sh;
    if (shell_init(&sh, 0) != 0) {
        free(line);
        return 1;
    }
    sh.file = "--serve";
    sh.line = 1;
    int rc = input_run_line(&sh, line);
    free(line);
    fflush(stdout);
    while (rc == 0 && sh.server) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            break;
        if (sig != SIGHUP)
            break;
        input_run_line(&sh, "serve reload");
        fflush(stdout);
    }
    if (sh.server)
        input_run_line(&sh, "serve stop");
    shell_free(&sh);
    return rc ? 1 : 0;
}

static int run(int argc, char **argv)
{
    const char *commands = NULL;
    int stay = 0, keep_going = 0, opt;
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    while ((opt = getopt_long(argc, argv, "+e:ikhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'e': commands = optarg; break;
        case 'i': stay = 1; break;
        case 'k': keep_going = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("husky " HK_VERSION); return 0;
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
    int serving = argc > 1 && !strcmp(argv[1], "--serve");
    sigset_t sigs;
    sigemptyset(&sigs);
    if (serving) {
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    }
    if (cluster_init(&argc, &argv) != 0)
        return 1;
    int rc = serving ? serve_mode(argc, argv, &sigs) : run(argc, argv);
    cluster_finish();
    return rc;
}
