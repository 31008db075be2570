/* The liquid layer's gates and recurrence in one pass over memory (see chartlnn/kernels/scan_library.py).

   proj (B, T, 4H) float32: per direction d (0 forward, 1 backward) the columns [d*2H, d*2H + H)
   hold the time gate's pre-activation and [d*2H + H, d*2H + 2H) the target's. mask (B, T): 1 at
   real tokens. out (B, T, 2H): the forward states, then the backward ones. Per direction and
   channel, from h = 0, in reading order (backward: from the last token):

       a = sigmoid(max(time, floor)),  h = a * h + (1 - a) * tanh(target)

   a padded step keeps the state. The state is carried in double, so a note of any length is
   exact to float32 rounding. liquid_backward is the gradient of that with respect to proj.
   gelu (torch's exact, erf form) and layer_norm are the blocks' other elementwise steps, for the
   torch-free runtime (chartlnn/inference/numpy_tagger.py): one pass each where numpy makes several. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline int64_t position(int64_t step, int64_t steps, int direction) {
    return direction ? steps - 1 - step : step;
}

void liquid_forward(const float *proj, const uint8_t *mask, float *out,
                    int64_t batch, int64_t steps, int64_t hidden, float floor_) {
    double *h = malloc(sizeof(double) * hidden);
    float *one_minus_a = malloc(sizeof(float) * hidden);
    float *target = malloc(sizeof(float) * hidden);
    for (int64_t b = 0; b < batch; b++) {
        for (int direction = 0; direction < 2; direction++) {
            for (int64_t c = 0; c < hidden; c++) h[c] = 0.0;
            for (int64_t s = 0; s < steps; s++) {
                int64_t t = position(s, steps, direction);
                const float *p = proj + (b * steps + t) * 4 * hidden + direction * 2 * hidden;
                float *o = out + (b * steps + t) * 2 * hidden + direction * hidden;
                if (mask[b * steps + t]) {
                    for (int64_t c = 0; c < hidden; c++) {
                        float time = p[c] < floor_ ? floor_ : p[c];
                        float e = expf(-time);
                        one_minus_a[c] = e / (1.0f + e);
                        target[c] = tanhf(p[hidden + c]);
                    }
                    for (int64_t c = 0; c < hidden; c++) {
                        double keep = 1.0 - (double)one_minus_a[c];
                        h[c] = keep * h[c] + (double)one_minus_a[c] * (double)target[c];
                    }
                }
                for (int64_t c = 0; c < hidden; c++) o[c] = (float)h[c];
            }
        }
    }
    free(h);
    free(one_minus_a);
    free(target);
}

void liquid_backward(const float *proj, const uint8_t *mask, const float *out, const float *grad_out,
                     float *grad_proj, int64_t batch, int64_t steps, int64_t hidden, float floor_) {
    double *g = malloc(sizeof(double) * hidden);  /* dLoss/dh at the current step, all paths */
    for (int64_t b = 0; b < batch; b++) {
        for (int direction = 0; direction < 2; direction++) {
            for (int64_t c = 0; c < hidden; c++) g[c] = 0.0;
            for (int64_t s = steps - 1; s >= 0; s--) {
                int64_t t = position(s, steps, direction);
                const float *p = proj + (b * steps + t) * 4 * hidden + direction * 2 * hidden;
                float *dp = grad_proj + (b * steps + t) * 4 * hidden + direction * 2 * hidden;
                const float *dout = grad_out + (b * steps + t) * 2 * hidden + direction * hidden;
                const float *before = s > 0 ? out + (b * steps + position(s - 1, steps, direction))
                                                  * 2 * hidden + direction * hidden : NULL;
                for (int64_t c = 0; c < hidden; c++) g[c] += (double)dout[c];
                if (!mask[b * steps + t]) {
                    for (int64_t c = 0; c < 2 * hidden; c++) dp[c] = 0.0f;
                    continue;
                }
                for (int64_t c = 0; c < hidden; c++) {
                    float time = p[c] < floor_ ? floor_ : p[c];
                    float e = expf(-time);
                    double one_minus_a = (double)(e / (1.0f + e));
                    double a = 1.0 - one_minus_a;
                    double target = (double)tanhf(p[hidden + c]);
                    double previous = before ? (double)before[c] : 0.0;
                    double grad_a = g[c] * (previous - target);
                    dp[c] = p[c] < floor_ ? 0.0f : (float)(grad_a * a * one_minus_a);
                    dp[hidden + c] = (float)(g[c] * one_minus_a * (1.0 - target * target));
                    g[c] *= a;
                }
            }
        }
    }
    free(g);
}

void gelu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

void layer_norm(const float *x, float *out, const float *weight, const float *bias,
                int64_t rows, int64_t width, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * width;
        float *o = out + r * width;
        double sum = 0.0, squares = 0.0;
        for (int64_t c = 0; c < width; c++) sum += row[c];
        double mean = sum / width;
        for (int64_t c = 0; c < width; c++) squares += (row[c] - mean) * (row[c] - mean);
        float inverse = (float)(1.0 / sqrt(squares / width + eps)), m = (float)mean;
        for (int64_t c = 0; c < width; c++) o[c] = (row[c] - m) * inverse * weight[c] + bias[c];
    }
}
