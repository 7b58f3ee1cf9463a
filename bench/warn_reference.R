# Reference detectors for bench/bench_warn_real.py, from R's surveillance package:
# EARS C1, C2, C3 (earsC), farringtonFlexible (Noufaily's negative-binomial threshold) and a
# quasi-Poisson regression on each series' own recent weeks.
#
#   Rscript bench/warn_reference.R IN.csv OUT.csv
#
# IN: series, t (1-based day), count, first, last (the days to judge, per series).
# OUT: series, t, method, score: how strongly the method alarms on that day, as -log10 of the
# smallest alpha at which it does (EARS), or of the p-value (farringtonFlexible, regression). The benchmark sweeps thresholds on these scores.

suppressPackageStartupMessages(library(surveillance))

args <- commandArgs(trailingOnly = TRUE)
input <- read.csv(args[1])
REGRESSION_DAYS <- 56  # past days the regression fits on
C3_ALPHAS <- 10^-seq(0.5, 7, by = 0.5)
MIN_SIGMA <- 0.5  # EARS: a floor under the baseline week's SD (0 makes any rise after a flat week infinite)
MIN_DAYS <- 28

wide <- function(rows) {
  ids <- sort(unique(rows$series))
  days <- max(rows$t)
  m <- matrix(0, nrow = days, ncol = length(ids))
  m[cbind(rows$t, match(rows$series, ids))] <- rows$count
  list(ids = ids, counts = m)
}

long <- function(ids, range, score, method) {
  data.frame(series = rep(ids, each = length(range)), t = rep(range, times = length(ids)),
             method = method, score = as.vector(score))
}

ears_scores <- function(counts, range, variant) {
  bound <- function(alpha) {
    upperbound(earsC(sts(observed = counts, frequency = 7),
                     control = list(range = range, method = variant, baseline = 7, alpha = alpha,
                                    minSigma = MIN_SIGMA)))
  }
  y <- counts[range, , drop = FALSE]
  if (variant == "C3") {
    # C3's bound is not linear in the normal quantile: the alarm level is found on a grid.
    score <- matrix(0, nrow = length(range), ncol = ncol(counts))
    for (alpha in C3_ALPHAS) {
      fired <- y > bound(alpha)
      score[!is.na(fired) & fired] <- -log10(alpha)
    }
    return(score)
  }
  # C1's and C2's bound is mean + sd * qnorm(1 - alpha): two alphas give each day's mean and
  # sd, so the score is the alpha at which the day's count meets the bound, with no sweep.
  z1 <- qnorm(1 - 0.1)
  z2 <- qnorm(1 - 0.001)
  u1 <- bound(0.1)
  slope <- (bound(0.001) - u1) / (z2 - z1)
  intercept <- u1 - slope * z1
  z <- (y - intercept) / slope
  score <- -log10(pmax(pnorm(z, lower.tail = FALSE), 1e-300))
  score[!is.finite(score) | is.na(score)] <- 0
  score
}

farrington_scores <- function(counts, range) {
  # A week is the period on daily counts (freq 7): the reference values are the same weekday
  # +- w days in each of the b weeks before.
  range <- range[range >= 7 * 4 + 1 + 1]
  if (length(range) == 0) return(NULL)
  s <- farringtonFlexible(sts(observed = counts, frequency = 7),
                          control = list(range = range, b = 4, w = 1, thresholdMethod = "nbPlugin",
                                         alpha = 0.01, noPeriods = 1, limit54 = c(0, 4),
                                         pastWeeksNotIncluded = 0, glmWarnings = FALSE))
  p <- s@control$pvalue
  p[is.na(p)] <- 1
  list(range = range, score = -log10(pmax(p, 1e-300)))
}

regression_scores <- function(counts, range) {
  dow <- factor((seq_len(nrow(counts)) - 1) %% 7)
  design <- model.matrix(~ dow)
  score <- matrix(0, nrow = length(range), ncol = ncol(counts))
  for (i in seq_along(range)) {
    t <- range[i]
    past <- max(1, t - REGRESSION_DAYS):(t - 1)
    if (length(past) < MIN_DAYS) next
    x <- design[past, , drop = FALSE]
    keep <- colSums(abs(x)) > 0
    x <- x[, keep, drop = FALSE]
    for (j in seq_len(ncol(counts))) {
      y <- counts[past, j]
      if (sum(y) == 0) { mu <- 0; phi <- 1 } else {
        fit <- suppressWarnings(glm.fit(x, y, family = quasipoisson()))
        mu <- exp(sum(design[t, keep] * fit$coefficients, na.rm = TRUE))
        phi <- max(1, sum(fit$weights * fit$residuals^2) / max(1, fit$df.residual))
      }
      y_t <- counts[t, j]
      if (y_t <= 0) next
      p <- if (mu <= 0) 1e-300 else if (phi > 1) {
        pnbinom(y_t - 1, size = mu / (phi - 1), mu = mu, lower.tail = FALSE)
      } else ppois(y_t - 1, mu, lower.tail = FALSE)
      score[i, j] <- -log10(max(p, 1e-300))
    }
  }
  score
}

out <- list()
for (span in split(input, paste(input$first, input$last))) {
  w <- wide(span)
  range <- span$first[1]:span$last[1]
  for (variant in c("C1", "C2", "C3")) {
    out[[length(out) + 1]] <- long(w$ids, range, ears_scores(w$counts, range, variant),
                                   paste0("ears_", tolower(variant)))
  }
  f <- farrington_scores(w$counts, range)
  if (!is.null(f)) out[[length(out) + 1]] <- long(w$ids, f$range, f$score, "farringtonFlexible")
  out[[length(out) + 1]] <- long(w$ids, range, regression_scores(w$counts, range), "quasipoisson_glm")
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
