/* commands.c: the command table, dispatch with option checking, help, and argument helpers. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "compile_spec.h"
#include "layer_spec.h"

static const char *const o_model_new[] = {"input", "seed", NULL};
static const char *const o_model_save[] = {"optimizer", "training", NULL};
static const char *const o_model_load[] = {"sha256", NULL};
static const char *const o_model_import[] = {"classes", NULL};
static const char *const o_data[] = {"size", NULL};
static const char *const o_data_limits[] = {"file_size", "width", "height", "pixels", NULL};
static const char *const o_augment[] = {"rescale", "rotation", "width_shift", "height_shift", "shift", "shear",
                                        "zoom", "flip", "brightness", "fill", "cval", NULL};
static const char *const o_train[] = {"epochs", "batch", "until", "class_weight", "checkpoint", "monitor", "resume",
                                      "adversarial", "eps", "cache", NULL};
static const char *const o_train_resume[] = {"epochs", "checkpoint", "monitor", "sha256", NULL};
static const char *const o_evaluate[] = {"threshold", "positive", "worst", "batch", "tta", "eps", "attack", "step", "steps",
                                         "restarts", "seed", "trigger", "at", "size", "target", "out", NULL};
static const char *const o_predict[] = {"out", NULL};
static const char *const o_out[] = {"out", NULL};
static const char *const o_model_limits[] = {"memory", NULL};
static const char *const o_serve[] = {"model", "port", "bind", "trust", "sha256", "rate", "burst", "conns", "queue",
                                      "batch", "threads", "timeout", "deadline", "body", "audit", NULL};
static const char *const o_serve_reload[] = {"model", "sha256", NULL};
static const char *const o_model_sign[] = {"key", NULL};
static const char *const o_fgsm[] = {"eps", "target", "out", NULL};
static const char *const o_pgd[] = {"eps", "step", "steps", "restarts", "target", "seed", "out", NULL};
static const char *const o_pixels[] = {"budget", "target", "seed", "out", NULL};
static const char *const o_noise[] = {"count", "target", "seed", NULL};
static const char *const o_canvas[] = {"noise", "target", "seed", NULL};
static const char *const o_audit[] = {"layer", "top", "manifest", "method", NULL};
static const char *const o_poison[] = {"trigger", "at", "size", "rate", "target", "seed", "out", NULL};

const struct command commands[] = {
    {"help", "help [COMMAND]", "List the commands, or explain one.", NULL, cmd_help, ARG_NONE, 0},
    {"seed", "seed N", "Seed every random draw (initialisation, shuffling, dropout, augmentation).", NULL,
     cmd_seed, ARG_NONE, 0},
    {"threads", "threads N", "Use N compute threads for BLAS (0 = all cores).", NULL, cmd_threads, ARG_NONE, 0},
    {"set", "set NAME VALUE", "Set a variable; ${NAME} (or ${NAME:-default}) in later lines expands to it.",
     NULL, cmd_set, ARG_NONE, CMD_OWN_OPTIONS},
    {"echo", "echo WORDS...", "Print the words.", NULL, cmd_echo, ARG_NONE, CMD_OWN_OPTIONS},
    {"source", "source FILE", "Run the commands of a .husky file.", NULL, cmd_source, ARG_PATH, 0},
    {"quit", "quit", "Leave husky (a run is stopped after its current batch).", NULL, cmd_quit, ARG_NONE, 0},
    {"exit", "exit", "Same as quit.", NULL, cmd_quit, ARG_NONE, 0},
    {"model new", "model new input=HxWxC [seed=N]",
     "Start a new empty model for pictures of H x W pixels with C channels (3 for RGB); its weights are drawn "
     "from seed= (default: the session's seed).", o_model_new,
     cmd_model_new, ARG_NONE, 0},
    {"model summary", "model summary", "Keras-style table of layers, output shapes and parameter counts.", NULL,
     cmd_model_summary, ARG_NONE, 0},
    {"model remove", "model remove LAYER", "Remove a layer (by index or name); the shapes are checked again.",
     NULL, cmd_model_remove, ARG_LAYER, 0},
    {"model insert", "model insert INDEX LAYER-COMMAND",
     "Insert a layer before position INDEX (model insert 3 dropout 0.2).", NULL, cmd_model_insert, ARG_NONE,
     CMD_OWN_OPTIONS},
    {"model set", "model set LAYER ARGS...",
     "Change a layer's settings (model set dense 64, model set conv2d_1 activation=tanh).", NULL,
     cmd_model_set, ARG_LAYER, CMD_OWN_OPTIONS},
    {"model freeze", "model freeze NAME|A..B|all",
     "Freeze layers (one, a range of them in order, or all): they get no optimizer updates and no L2, keep "
     "their weights bit for bit, and a frozen batchnorm runs in inference mode (Keras 2.x). model summary "
     "counts their parameters as non-trainable.",
     NULL, cmd_model_freeze, ARG_LAYER, 0},
    {"model unfreeze", "model unfreeze NAME|A..B|all", "Make frozen layers trainable again.", NULL,
     cmd_model_unfreeze, ARG_LAYER, 0},
    {"model cut", "model cut LAYER",
     "Keep the model up to LAYER (by index or name) and drop every layer after it, keeping the weights: "
     "the start of transfer learning. Append a new head, then compile again.",
     NULL, cmd_model_cut, ARG_LAYER, 0},
    {"model input", "model input HxWxC",
     "Change the input size (a 224x224 network to 128x128): the shapes are inferred again and every layer "
     "whose weights keep their shape keeps them.",
     NULL, cmd_model_input, ARG_NONE, 0},
    {"model reset", "model reset", "Re-initialise all weights from the seed and clear the optimizer state.", NULL,
     cmd_model_reset, ARG_NONE, 0},
    {"model save", "model save FILE [optimizer=yes] [training=yes]",
     "Save the model (architecture, classes, preprocessing, weights; with optimizer=yes also the optimizer "
     "state; with training=yes the full training state: optimizer, position, run options and history, so "
     "that train resume continues exactly), atomically.",
     o_model_save, cmd_model_save, ARG_PATH, CMD_WRITER_ONLY},
    {"model load", "model load FILE [sha256=HEX]",
     "Load a model file; with sha256= the file must have exactly that hash. A file with a training state "
     "also restores the history; train resume=yes then continues the run.",
     o_model_load, cmd_model_load, ARG_PATH, 0},
    {"model import", "model import PATH/model.json [classes=A,B,...]",
     "Import a TensorFlow.js layers model (Keras topology and weights manifest; the weight files next to it) "
     "as a new model with Keras's layer names; classes= names its outputs. Only data is read: layers that "
     "hold code (Lambda) or that husky lacks are refused with their name.",
     o_model_import, cmd_model_import, ARG_PATH, 0},
    {"model verify", "model verify FILE",
     "Check a model file without loading it: its SHA-256, header, architecture and tensor table; prints the "
     "file's hash and the hash of its weights alone.",
     NULL, cmd_model_verify, ARG_PATH, 0},
    {"model info", "model info [FILE]",
     "What a model file holds, without loading its weights: architecture, classes, input size, preprocessing, "
     "seed, husky version, data hash, and whether it has a training state. Without FILE: the same about the "
     "current model.",
     NULL, cmd_model_info, ARG_PATH, 0},
    {"model limits", "model limits [memory=SIZE]",
     "Show or set the most memory one model may use (default 4GB): its parameters with gradients and "
     "optimizer state, and a batch's activations. A layer that would not fit is refused when it is added, "
     "a batch when training starts. SIZE is bytes or with KB, MB, GB, TB (x1024, read like data limits "
     "file_size=), e.g. memory=16GB.",
     o_model_limits, cmd_model_limits, ARG_NONE, 0},
    {"model keygen", "model keygen KEY",
     "Make an Ed25519 key pair for signing models: KEY (secret, mode 0600, never overwritten) and KEY.pub.", NULL,
     cmd_model_keygen, ARG_PATH, CMD_WRITER_ONLY},
    {"model sign", "model sign FILE key=KEY",
     "Sign the bytes of a model file with a secret key from model keygen; writes FILE.sig (serve trust=KEY.pub "
     "then serves only files whose signature verifies).",
     o_model_sign, cmd_model_sign, ARG_PATH, CMD_WRITER_ONLY},
    {"model diff", "model diff A.hkm B.hkm",
     "Compare the weights of two model files of one architecture, bit for bit: every tensor that differs, "
     "with its layer, how many of its values differ and the largest change (where, from what to what).",
     NULL, cmd_model_diff, ARG_PATH, 0},
    {"model edit", "model edit LAYER kernel[I]=X|bias[I]=X...",
     "Set single weights of a layer (index I in the order model files store the tensor), on the compute "
     "worker: the attack lab's tampering (model edit dense_1 bias[0]=100 turns the blog's model into one that "
     "calls everything not_husky, -100 everything husky, as the sigmoid gives P(not_husky)). Refused on a model loaded with sha256= and while a run trains.",
     NULL, cmd_model_edit, ARG_LAYER, CMD_OWN_OPTIONS},
    {"model", "model", "List the layers with their index, name and output shape.", NULL, cmd_model_list,
     ARG_NONE, 0},
    {"compile", hk_compile_usage,
     "Choose the optimizer (Keras defaults for anything not given: momentum, nesterov, rho, beta1, beta2, "
     "epsilon) and the loss.",
     hk_compile_keys, cmd_compile, ARG_NONE, CMD_OWN_OPTIONS},
    {"data train", "data train FOLDER [size=HxW]",
     "Load the training pictures: FOLDER/CLASS/IMAGE, classes sorted by name. Pictures are resized to "
     "the model input (or size=) once and cached.",
     o_data, cmd_data_train, ARG_PATH, 0},
    {"data val", "data val FOLDER [size=HxW]", "Load the validation pictures, like data train.", o_data,
     cmd_data_val, ARG_PATH, 0},
    {"data info", "data info", "Classes, counts per class, class ratio and the files that were skipped.", NULL,
     cmd_data_info, ARG_NONE, 0},
    {"data split", "data split FRACTION",
     "Carve a validation set out of the training set when there is no validation folder: in each class, "
     "round(FRACTION x count) pictures chosen by the seed (stratified, reproducible). data info shows it.",
     NULL, cmd_data_split, ARG_NONE, 0},
    {"data manifest", "data manifest FILE",
     "Write one line per picture file of the loaded sets, atomically: split, label, state (ok or skipped), "
     "SHA-256 of the file's bytes as loaded, path relative to the set's folder.",
     NULL, cmd_data_manifest, ARG_PATH, 0},
    {"data verify", "data verify FILE",
     "Compare the loaded sets with a manifest: files added, removed, changed, and moved (the same bytes under "
     "another label, split or name), with counts. A difference is an error, so a script stops there.",
     NULL, cmd_data_verify, ARG_PATH, 0},
    {"data limits", "data limits [file_size=10MB] [width=8192] [height=8192] [pixels=40M]",
     "Show or change the limits checked before a picture is decoded (for the next data train, data val and "
     "predict); a file over one is skipped with a reason naming the limit. file_size takes KB, MB, GB (x1024); "
     "pixels (width x height) takes K, M (x1000); sides up to 16384.",
     o_data_limits, cmd_data_limits, ARG_NONE, 0},
    {"data poison", "data poison trigger=PATCH.png target=CLASS out=FOLDER [at=bottom-right] [size=N] [rate=0.05]",
     "Write a poisoned copy of the training set (BadNets): a share rate= of all pictures, chosen by the seed "
     "among those outside the target class, get the trigger stamped at= (top-left, top-right, bottom-left, "
     "bottom-right, center; resized to size x size pixels of the set's picture size when size= is given) and "
     "move to the target class as PNG files; every other file is copied unchanged. FOLDER/poison-manifest.tsv "
     "lists what changed (data audit reads it).",
     o_poison, cmd_data_poison, ARG_NONE, CMD_WRITER_ONLY},
    {"data audit", "data audit [method=spectral|cluster] [layer=NAME] [top=10] [manifest=FILE]",
     "Look for poisoned pictures in the training set with the model's own activations: per class, the "
     "activations of layer= (default the one before the last) are centred; method=spectral (the default; "
     "spectral signatures, Tran, Li and Madry 2018) projects them on their top singular vector and ranks by the "
     "squared projection; method=cluster (activation clustering, Chen et al. 2018) projects them on their top 10 "
     "singular vectors, splits each class in two by 2-means and ranks by how much nearer the smaller cluster a "
     "picture lies (a small cluster, well under half a class, is the poison's sign). The top= most suspicious "
     "of each class are listed. With a poison manifest (manifest=, or the one data poison wrote into the "
     "training folder) it counts how many poisoned files are among the 2 x poisoned-count most suspicious of "
     "their class.",
     o_audit, cmd_data_audit, ARG_NONE, CMD_WRITER_ONLY},
    {"augment", "augment [off] [rescale=1/255] [rotation=DEG] [shift=F] [shear=DEG] [zoom=F] [flip=horizontal]...",
     "Show or set the preprocessing and the training augmentation (Keras ImageDataGenerator units:\n"
     "  rescale=X          multiply pixels by X (also at validation and prediction; default 1/255)\n"
     "  rotation=DEG       rotate by up to +-DEG degrees\n"
     "  width_shift=F      shift left/right by up to F (< 1: fraction of the width, else pixels)\n"
     "  height_shift=F     the same up/down; shift=F sets both\n"
     "  shear=DEG          shear by up to +-DEG degrees\n"
     "  zoom=F or LO,HI    zoom by a factor in [1-F, 1+F] (or [LO, HI]), each axis drawn on its own\n"
     "  flip=horizontal|vertical|both|none   mirror with probability 0.5\n"
     "  brightness=LO,HI   multiply pixel values by a factor in [LO, HI]\n"
     "  fill=nearest|constant|reflect|wrap   what fills the area the warp uncovers; cval=N for constant",
     o_augment, cmd_augment, ARG_NONE, 0},
    {"augment show", "augment show N [out=FILE.png]",
     "Write a grid of N augmented training pictures (chosen and warped from the seed, as the first epoch "
     "draws them) with their class labels; augment-show.png unless out= is given.",
     o_out, cmd_augment_show, ARG_NONE, 0},
    {"train", "train epochs=N batch=B [until=METRIC>=X] [class_weight=balanced|W0,W1...] [checkpoint=DIR] "
              "[monitor=METRIC] [resume=yes] [cache=no]",
     "Start training in the background and return to the prompt at once. One line per epoch. until= stops "
     "when a metric (loss, accuracy, val_loss, val_accuracy) meets a target, checked after each epoch.\n"
     "  checkpoint=DIR     after every epoch, and when the run is stopped, write DIR/last.hkm with the full\n"
     "                     training state, and DIR/best.hkm when monitor= improves\n"
     "  monitor=METRIC     what best means (default val_loss, or loss without a validation set); higher is\n"
     "                     better for accuracy metrics, lower for losses\n"
     "  resume=yes         continue the run of a model loaded with its training state (its options; epochs=\n"
     "                     may extend it)\n"
     "  adversarial=fgsm|pgd eps=E   adversarial training: the first half of every batch is replaced by its\n"
     "                     untargeted FGSM (or PGD, 10 steps) pictures within eps, made on that step's weights\n"
     "  cache=no           do not keep a frozen base's features: by default, when the first layers are frozen\n"
     "                     (model freeze) and nothing is augmented, each picture's features at the last\n"
     "                     frozen layer are computed in the first epoch only, and later epochs run the head",
     o_train, cmd_train, ARG_NONE, 0},
    {"train resume", "train resume FILE [epochs=N] [checkpoint=DIR] [monitor=METRIC] [sha256=HEX]",
     "Load a model file saved with its training state (model save FILE training=yes, or a checkpoint) and "
     "continue its run exactly where it stopped, on the same training set (load it first with data train).",
     o_train_resume, cmd_train_resume, ARG_PATH, 0},
    {"status", "status", "Where the run is: epoch, batch and running loss.", NULL, cmd_status, ARG_NONE, 0},
    {"stop", "stop", "Stop the run after the current batch; the weights are kept.", NULL, cmd_stop, ARG_NONE, 0},
    {"wait", "wait", "Block until the run ends (Ctrl-C stops it).", NULL, cmd_wait, ARG_NONE, 0},
    {"history", "history", "The per-epoch metrics of the runs so far.", NULL, cmd_history, ARG_NONE, 0},
    {"history save", "history save FILE.csv",
     "Write the per-epoch metrics as CSV (epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_s; "
     "a missing value is empty), atomically; FILE - is standard output.",
     NULL, cmd_history_save, ARG_PATH, CMD_WRITER_ONLY},
    {"plot", "plot loss|accuracy|METRIC [live] [out=FILE.png|FILE.svg|-] | plot off",
     "Plot a metric per epoch, training and validation (loss also per batch), with gnuplot: as text in the "
     "terminal (or on standard output with out=-), or into a PNG or SVG file. With live, the text plot is "
     "redrawn after every epoch of the current run (or the next one), in place above the prompt, until the run ends or plot off.",
     o_out, cmd_plot, ARG_NONE, CMD_WRITER_ONLY},
    {"predict", "predict FILE|FOLDER... [out=FILE.csv|-]",
     "Class and probability (of that class) for each picture; a FOLDER is searched recursively, its files in "
     "name order, and pictures that cannot be read are listed with the reason. With out= the rows go to a CSV "
     "file (path,class,probability,error), written atomically; out=- writes the CSV to standard output.",
     o_predict, cmd_predict, ARG_PATH, CMD_WRITER_ONLY},
    {"evaluate", "evaluate train|val [threshold=X|best] [positive=CLASS] [worst=N] [batch=B] [tta=flip]",
     "Loss, accuracy and balanced accuracy of a loaded set; precision, recall, F1 and ROC AUC for the positive "
     "class; the confusion matrix with each class's recall; the N worst-classified files (default 5).\n"
     "  positive=CLASS  the class precision, recall, F1 and AUC are about (name or index). For one sigmoid\n"
     "                  output the default is class 1, whose probability the sigmoid gives (Keras' order:\n"
     "                  for husky-v1 that is not_husky; positive=husky asks how good it is at huskies).\n"
     "                  Softmax models have no default: the class against all the others.\n"
     "  threshold=X     sigmoid only: predict the positive class when P(positive) >= X (default: the model's\n"
     "                  threshold, 0.5 unless threshold=best chose one).\n"
     "  threshold=best  sigmoid only: choose the threshold on the output with the best balanced accuracy on\n"
     "                  this set (4 decimals) and keep it with the model: predict, evaluate and model save\n"
     "                  use it. Choose it on pictures held out of training (data split), not on the\n"
     "                  validation set whose figures you report.\n"
     "  worst=N         list the N pictures whose true class got the lowest probability (0: none).\n"
     "  batch=B         pictures per inference batch (default 32).\n"
     "  tta=flip        test-time augmentation: each picture is also run mirrored left to right and its\n"
     "                  output is the mean of the two (twice the work; loss: the mean of both passes').\n"
     "Runs on the compute worker, between two batches when training runs.\n"
     "evaluate train|val robust [eps=0,1/255,2/255,4/255,8/255] [attack=fgsm|pgd] [steps=] [step=] [restarts=]\n"
     "    [out=FILE.png]: accuracy and balanced accuracy under an untargeted attack at each eps (and the share\n"
     "    of correctly classified pictures it flips, with pictures/s), plotted with gnuplot (text, or out=).\n"
     "evaluate train|val trigger=PATCH.png target=CLASS [at=bottom-right] [size=N]: clean accuracy, accuracy\n"
     "    with the trigger stamped on every picture, and the attack success rate: the share of the pictures\n"
     "    outside CLASS that the trigger makes CLASS.",
     o_evaluate, cmd_evaluate, ARG_SET, CMD_WRITER_ONLY},
    {"inspect filters", "inspect filters LAYER [out=FILE.png]",
     "Draw the kernels of a conv2d layer as a grid (colour for the first layer, else the channels averaged "
     "in grey); written to inspect-filters-LAYER.png unless out= is given.",
     o_out, cmd_inspect_filters, ARG_LAYER, CMD_WRITER_ONLY},
    {"inspect", "inspect LAYER IMAGE [out=FILE.png]",
     "Draw what a layer (name or index) outputs for one picture: the picture, then one tile per channel, "
     "each scaled from its own min to max; written to inspect-LAYER.png unless out= is given, with a preview "
     "in the terminal.",
     o_out, cmd_inspect, ARG_LAYER, CMD_WRITER_ONLY},
    {"attack fgsm", "attack fgsm IMAGE|FOLDER eps=8/255 [target=CLASS] [out=FILE.png|FOLDER]",
     "Fast gradient sign attack (L-infinity): every pixel moves by eps (a share of 0..255) along the sign of "
     "the gradient of the logit margin (which, unlike cross-entropy's, does not vanish on confident outputs), away from the predicted class, or towards target=. Prints the score before and after "
     "(of the 8-bit adversarial picture) and the largest pixel change. out= writes the adversarial PNG and "
     "FILE-strip.png (original | perturbation, amplified | adversarial); for a FOLDER, out= is a folder that "
     "receives one PNG per picture and attack.csv. Runs on the compute worker.",
     o_fgsm, cmd_attack_fgsm, ARG_PATH, CMD_WRITER_ONLY},
    {"attack pgd", "attack pgd IMAGE|FOLDER eps=8/255 [step=E] [steps=10] [restarts=N] [target=CLASS] [out=...]",
     "Projected gradient descent (Madry et al.): steps= signed-gradient steps of step= (default 2.5 x eps / "
     "steps), each projected back into the eps box and the pixel range; restarts=N starts N times from random "
     "points in the box (drawn from the seed, or seed=) and keeps the best. Reports and out= as attack fgsm.",
     o_pgd, cmd_attack_pgd, ARG_PATH, CMD_WRITER_ONLY},
    {"attack pixels", "attack pixels IMAGE [budget=5000] [target=CLASS] [out=FILE.png] [seed=N]",
     "Black-box attack that only reads the model's output: single pixels set to random corners of the colour "
     "cube, 32 proposals per round, the best kept while the score (P(target), or 1 - P(the first "
     "prediction)) rises, until the class changes or budget= queries are spent. Prints the queries used and "
     "the best score.",
     o_pixels, cmd_attack_pixels, ARG_PATH, CMD_WRITER_ONLY},
    {"attack noise", "attack noise [count=1000] [target=CLASS] [seed=N]",
     "Score count= pictures of uniform random noise and count how many each class gets, with each class's best "
     "score.",
     o_noise, cmd_attack_noise, ARG_NONE, CMD_WRITER_ONLY},
    {"attack canvas", "attack canvas [noise=100] [target=CLASS] [seed=N]",
     "Score plain canvases: 9 plain colours, all 256 grey shades and noise= random-noise pictures; count how many "
     "each class gets, with each class's best score.",
     o_canvas, cmd_attack_canvas, ARG_NONE, CMD_WRITER_ONLY},
    {"cluster", "cluster [bench]",
     "The MPI ranks husky runs on (mpirun -n N husky) and the time per step of the last run spent computing "
     "and in the all-reduce of the gradient; bench times all-reduces of the model's gradient size.", NULL,
     cmd_cluster, ARG_NONE, 0},
    {"serve status", "serve status",
     "Requests, predictions, errors, p50/p99 latency, and the requests refused (rate limited, queue full, too "
     "large, not an image, malformed, timed out).", NULL, cmd_serve_status, ARG_NONE, CMD_WRITER_ONLY},
    {"serve stop", "serve stop", "Answer what is queued, close every connection and stop serving.", NULL,
     cmd_serve_stop, ARG_NONE, CMD_WRITER_ONLY},
    {"serve reload", "serve reload [model=FILE] [sha256=HEX]",
     "Serve a new copy of the model file (the same file by default; the shell's model again if that is what "
     "is served), checked first: the sha256= pin (else the one serve was given) and the trust= signature. If a "
     "check fails the old model keeps serving. One audit line either way, with the old and new hashes.",
     o_serve_reload, cmd_serve_reload, ARG_NONE, CMD_WRITER_ONLY},
    {"serve", "serve [model=FILE] [port=8080] [bind=127.0.0.1] [trust=KEY.pub] [sha256=HEX] [rate=5/min] "
              "[burst=10] [conns=5] ...",
     "Serve Husky AI over HTTP in the background: GET / is the upload page, POST /predict (multipart field "
     "file) answers JSON, GET /model describes the model. Without model= it serves a copy of the shell's "
     "model; training or loading in the shell never changes what is served until serve reload.\n"
     "  model=FILE         serve this model file; sha256=HEX pins its hash, trust=KEY.pub requires FILE.sig\n"
     "  port=N bind=ADDR   where to listen (port=0: any free port)\n"
     "  rate=5/min burst=10  POST /predict per client (token bucket; rate=off for none); conns=5 per client\n"
     "  body=SIZE          largest request body (default: data limits file_size); pixels as data limits\n"
     "  queue=32 batch=16  pictures waiting for the one inference thread (503 beyond), per forward pass\n"
     "  timeout=10 deadline=30  seconds a connection may idle, and may take to send a whole request\n"
     "  threads=2          HTTP threads;  audit=FILE  JSON lines log (default husky-audit.jsonl, off: none)",
     o_serve, cmd_serve, ARG_NONE, CMD_WRITER_ONLY},
    {NULL, NULL, NULL, NULL, NULL, ARG_NONE, 0},
};

static int name_matches(const char *name, const struct hk_words *w, int *used)
{
    const char *space = strchr(name, ' ');
    if (!space) {
        *used = 1;
        return w->count >= 1 && strcmp(w->w[0].text, name) == 0;
    }
    size_t first = (size_t)(space - name);
    *used = 2;
    return w->count >= 2 && !w->w[0].key && !w->w[1].key && strlen(w->w[0].text) == first &&
           strncmp(w->w[0].text, name, first) == 0 && strcmp(w->w[1].text, space + 1) == 0;
}

const struct command *commands_find(const struct hk_words *w, int *arg)
{
    for (int pass = 2; pass >= 1; pass--)
        for (const struct command *c = commands; c->name; c++) {
            int used;
            if (name_matches(c->name, w, &used) && used == pass) {
                *arg = used;
                return c;
            }
        }
    return NULL;
}

static int check_options(struct shell *sh, const struct command *c, const struct hk_words *w, int arg)
{
    static const char *const none[] = {NULL};
    const char *const *opts = c->options ? c->options : none;
    if (c->flags & CMD_OWN_OPTIONS)
        return 0;
    for (int i = arg; i < w->count; i++) {
        if (!w->w[i].key)
            continue;
        int known = 0;
        for (int k = 0; opts[k]; k++)
            known |= strcmp(opts[k], w->w[i].key) == 0;
        if (known)
            continue;
        const char *near = hk_closest(w->w[i].key, opts);
        if (near)
            return shell_error(sh, w, i, "unknown option '%s'; did you mean '%s'?", w->w[i].key, near);
        return shell_error(sh, w, i, "unknown option '%s'; usage: %s", w->w[i].key, c->usage);
    }
    return 0;
}

const char *const *commands_words(void)
{
    enum { MAX = 128 };
    static const char *words[MAX];
    static char firsts[MAX][32];
    if (words[0])
        return words;
    int n = 0;
    for (const struct command *c = commands; c->name && n < MAX - HK_LAYER_KIND_COUNT - 1; c++) {
        int len = (int)strcspn(c->name, " ");
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= (int)strlen(words[k]) == len && !strncmp(words[k], c->name, (size_t)len);
        if (seen)
            continue;
        snprintf(firsts[n], sizeof firsts[n], "%.*s", len, c->name);
        words[n] = firsts[n];
        n++;
    }
    for (int k = 0; k < HK_LAYER_KIND_COUNT; k++)
        words[n++] = hk_layer_ops_of((enum hk_layer_kind)k)->word;
    words[n] = NULL;
    return words;
}

/* The two-word commands whose second word is `word` ("limits": 'model limits' or 'data limits')
 * into buf; 0 when there are none. */
static int two_word_commands_ending(const char *word, char *buf, size_t cap)
{
    int found = 0;
    size_t len = 0;
    buf[0] = '\0';
    for (const struct command *c = commands; c->name; c++) {
        const char *space = strchr(c->name, ' ');
        if (!space || strcmp(space + 1, word) != 0 || len >= cap)
            continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", found ? " or " : "", c->name);
        found++;
    }
    return found;
}

int commands_run(struct shell *sh, const struct hk_words *w)
{
    if (!w->count)
        return 0;
    int arg;
    const struct command *c = commands_find(w, &arg);
    if (c) {
        sh->command = c->name;
        sh->usage = c->usage;
        int rc = check_options(sh, c, w, arg);
        if (rc == 0 && (cluster_is_writer() || !(c->flags & CMD_WRITER_ONLY)))
            rc = c->run(sh, w, arg);
        rc = cluster_agree(sh, rc);
        sh->command = sh->usage = NULL;
        return rc;
    }
    enum hk_layer_kind kind = hk_layer_kind_find(w->w[0].text);
    if (kind != HK_LAYER_KIND_COUNT) {
        sh->command = w->w[0].text;
        sh->usage = hk_layer_spec_usage(kind);
        int rc = cluster_agree(sh, cmd_layer(sh, w, 1));
        sh->command = sh->usage = NULL;
        return rc;
    }
    sh->command = w->w[0].text;
    int rc;
    const char *near = hk_closest(w->w[0].text, commands_words());
    char full[256];
    if (strcmp(w->w[0].text, "model") == 0 || strcmp(w->w[0].text, "data") == 0 ||
        strcmp(w->w[0].text, "attack") == 0)
        rc = shell_error(sh, w, 1, "unknown sub-command '%s'; try: help %s", w->count > 1 ? w->w[1].text : "",
                         w->w[0].text);
    else if (two_word_commands_ending(w->w[0].text, full, sizeof full))
        rc = shell_error(sh, w, 0, "unknown command; did you mean %s? (help lists them)", full);
    else if (near)
        rc = shell_error(sh, w, 0, "unknown command; did you mean '%s'? (help lists them)", near);
    else
        rc = shell_error(sh, w, 0, "unknown command (help lists them)");
    sh->command = NULL;
    return rc;
}

/* Length of the first sentence of a help text: up to a full stop followed by a blank or the end
 * (a dot inside a word, as in ".husky" or "0.5", does not end it). */
static int first_sentence(const char *help)
{
    const char *p = help;
    while (*p && *p != '\n' && !(p[0] == '.' && (p[1] == ' ' || p[1] == '\n' || p[1] == '\0')))
        p++;
    return (int)(p - help);
}

#define HELP_WIDTH 100

/* Print prefix, then the len bytes of text in lines of at most HELP_WIDTH columns, broken at
 * spaces (a word longer than a line stays whole); continuation lines start with indent spaces.
 * Spacing inside a line is kept, so aligned lists stay aligned. */
static void print_wrapped(struct shell *sh, const char *prefix, const char *text, int len, int indent)
{
    const char *p = text, *end = text + len;
    int room = HELP_WIDTH - (int)strlen(prefix);
    if (room < 20) /* a long prefix: the text still gets lines of some width */
        room = 20;
    shell_print(sh, "%s", prefix);
    while (end - p > room) {
        const char *brk = p + room;
        while (brk > p && *brk != ' ')
            brk--;
        if (brk == p)
            for (brk = p + room; brk < end && *brk != ' ';)
                brk++;
        const char *last = brk;
        while (last > p && last[-1] == ' ')
            last--;
        shell_print(sh, "%.*s\n%*s", (int)(last - p), p, indent, "");
        for (p = brk; p < end && *p == ' ';)
            p++;
        room = HELP_WIDTH - indent;
    }
    shell_print(sh, "%.*s\n", (int)(end - p), p);
}

/* The option list under a help text: each item is a line "  KEY   what it does" and the lines
 * under it that start further in; the description is rewrapped at HELP_WIDTH under its own
 * column, so help texts can be written without counting columns. Any other line starts a
 * paragraph that takes the lines under it starting 3 or more columns in, rewrapped with its
 * continuation indented by 4. */
static void print_options(struct shell *sh, const char *text)
{
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        end = end ? end : line + strlen(line);
        const char *key_end = line + 2;
        while (*key_end && *key_end != '\n' && !(key_end[0] == ' ' && key_end[1] == ' '))
            key_end++;
        const char *desc = key_end;
        while (*desc == ' ')
            desc++;
        if (strncmp(line, "  ", 2) || line[2] == ' ' || desc >= end) { /* a paragraph: its lines joined */
            char para[2048];
            int m = 0;
            while (1) { /* the line, then the lines under it that start 3 or more columns in */
                while (m && *line == ' ')
                    line++;
                if (m < (int)sizeof para - 1)
                    m += snprintf(para + m, sizeof para - (size_t)m, "%s%.*s", m ? " " : "", (int)(end - line), line);
                line = *end ? end + 1 : end;
                if (strncmp(line, "   ", 3))
                    break;
                end = strchr(line, '\n');
                end = end ? end : line + strlen(line);
            }
            print_wrapped(sh, "", para, m < (int)sizeof para ? m : (int)sizeof para - 1, 4);
            continue;
        }
        char prefix[64], body[2048];
        int col = (int)(desc - line), n = 0;
        snprintf(prefix, sizeof prefix, "%.*s", col < (int)sizeof prefix ? col : (int)sizeof prefix - 1, line);
        n = snprintf(body, sizeof body, "%.*s", (int)(end - desc), desc);
        for (line = *end ? end + 1 : end; !strncmp(line, "   ", 3);) { /* continuation lines */
            end = strchr(line, '\n');
            end = end ? end : line + strlen(line);
            const char *t = line;
            while (*t == ' ')
                t++;
            if (n < (int)sizeof body - 1)
                n += snprintf(body + n, sizeof body - (size_t)n, " %.*s", (int)(end - t), t);
            line = *end ? end + 1 : end;
        }
        print_wrapped(sh, prefix, body, n < (int)sizeof body ? n : (int)sizeof body - 1, col);
    }
}

/* A command's or layer's help text under its usage line: its first paragraph indented by 4 and
 * wrapped at HELP_WIDTH, then its option list (print_options). */
static void print_help_text(struct shell *sh, const char *help)
{
    const char *nl = strchr(help, '\n');
    print_wrapped(sh, "    ", help, nl ? (int)(nl - help) : (int)strlen(help), 4);
    if (nl)
        print_options(sh, nl + 1);
}

int cmd_help(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg < w->count) {
        /* "help data limits": two words when they name a command, else the first */
        char topic[64];
        snprintf(topic, sizeof topic, "%s", w->w[arg].text);
        if (arg + 1 < w->count && !w->w[arg + 1].key) {
            char two[64];
            snprintf(two, sizeof two, "%s %s", w->w[arg].text, w->w[arg + 1].text);
            for (const struct command *c = commands; c->name; c++)
                if (!strcmp(c->name, two))
                    snprintf(topic, sizeof topic, "%s", two);
        }
        int found = 0;
        for (const struct command *c = commands; c->name; c++) {
            size_t len = strlen(topic);
            if (strcmp(c->name, topic) == 0 || (strncmp(c->name, topic, len) == 0 && c->name[len] == ' ')) {
                print_wrapped(sh, "", c->usage, (int)strlen(c->usage), 4);
                print_help_text(sh, c->help);
                found = 1;
            }
        }
        enum hk_layer_kind k = hk_layer_kind_find(topic);
        if (k != HK_LAYER_KIND_COUNT) {
            char text[1024];
            snprintf(text, sizeof text, "%s Appended to the model; the shapes are checked at once.",
                     hk_layer_spec_help(k));
            shell_print(sh, "%s\n", hk_layer_spec_usage(k));
            print_help_text(sh, text);
            found = 1;
        }
        if (!found)
            return shell_error(sh, w, arg, "no command '%s' (help lists them)", topic);
        return 0;
    }
    shell_print(sh, "Commands (help COMMAND for more):\n");
    for (const struct command *c = commands; c->name; c++)
    {
        char prefix[64];
        int fits = strlen(c->usage) <= 44;
        snprintf(prefix, sizeof prefix, "  %-44s ", fits ? c->usage : "");
        if (!fits) /* the usage on lines of its own, the summary under it */
            print_wrapped(sh, "  ", c->usage, (int)strlen(c->usage), 6);
        print_wrapped(sh, prefix, c->help, first_sentence(c->help), 47);
    }
    shell_print(sh, "Layers (appended to the model):\n");
    for (int k = 0; k < HK_LAYER_KIND_COUNT; k++)
        shell_print(sh, "  %s\n", hk_layer_spec_usage((enum hk_layer_kind)k));
    return 0;
}

int arg_count(struct shell *sh, const struct hk_words *w, int arg, int min, int max)
{
    const char *usage = sh->usage ? sh->usage : "help";
    int n = 0;
    for (int i = arg; i < w->count; i++) {
        if (w->w[i].key)
            continue;
        if (++n > max)
            return shell_error(sh, w, i, "unexpected argument '%s'; usage: %s", w->w[i].text, usage);
    }
    if (n < min)
        return shell_error(sh, w, w->count, "missing argument; usage: %s", usage);
    return 0;
}

int arg_option(const struct hk_words *w, const char *key)
{
    for (int i = 0; i < w->count; i++)
        if (w->w[i].key && strcmp(w->w[i].key, key) == 0)
            return i;
    return -1;
}

static const char *arg_text(const struct hk_words *w, int i)
{
    return w->w[i].key ? w->w[i].value : w->w[i].text;
}

int arg_int(struct shell *sh, const struct hk_words *w, int i, int lo, int hi, int *out)
{
    if (!hk_parse_int(arg_text(w, i), out) || *out < lo || *out > hi)
        return shell_error(sh, w, i, "expected a whole number from %d to %d, got '%s'", lo, hi, arg_text(w, i));
    return 0;
}

int arg_float(struct shell *sh, const struct hk_words *w, int i, double lo, double hi, double *out)
{
    if (!hk_parse_float(arg_text(w, i), out) || *out < lo || *out > hi)
        return shell_error(sh, w, i, "expected a number from %g to %g, got '%s'", lo, hi, arg_text(w, i));
    return 0;
}

int arg_bool(struct shell *sh, const struct hk_words *w, int i, int *out)
{
    const char *t = arg_text(w, i);
    if (!strcmp(t, "yes") || !strcmp(t, "true") || !strcmp(t, "on") || !strcmp(t, "1"))
        *out = 1;
    else if (!strcmp(t, "no") || !strcmp(t, "false") || !strcmp(t, "off") || !strcmp(t, "0"))
        *out = 0;
    else
        return shell_error(sh, w, i, "expected yes or no, got '%s'", t);
    return 0;
}

int arg_layer(struct shell *sh, const struct hk_words *w, int i)
{
    const char *t = w->w[i].text;
    int n = hk_model_count(sh->model), idx;
    if (n == 0)
        return shell_error(sh, w, i, "the model has no layers yet");
    if (hk_parse_int(t, &idx)) {
        if (idx >= 0 && idx < n)
            return idx;
        return shell_error(sh, w, i, "no layer %d; the model has layers 0 to %d", idx, n - 1);
    }
    idx = hk_model_find(sh->model, t);
    if (idx >= 0)
        return idx;
    const char *names[HK_MODEL_MAX_LAYERS + 1];
    char list[256] = "";
    size_t len = 0;
    for (int k = 0; k < n; k++) {
        names[k] = hk_model_layer(sh->model, k)->name;
        if (len < sizeof list - 40)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", names[k]);
        else if (len < sizeof list - 4) {
            len += (size_t)snprintf(list + len, sizeof list - len, ", ...");
            len = sizeof list;
        }
    }
    names[n] = NULL;
    const char *near = hk_closest(t, names);
    if (near)
        return shell_error(sh, w, i, "no layer named '%s'; did you mean '%s'?", t, near);
    return shell_error(sh, w, i, "no layer named '%s'; the layers are: %s", t, list);
}
