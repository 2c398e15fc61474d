"""Holt-Winters from scratch (Numba recursions, adjoint gradient) against statsmodels, side by side.

Targets (issue 9):

1. Holt-Winters fit on the hourly bike-share series (additive trend and daily season, m = 24): at least
   5x faster than statsmodels' ``ExponentialSmoothing(...).fit()`` of the same model in the same run, with
   equal or lower in-sample SSE.
2. Fitting 1,000 simulated monthly series (additive Holt-Winters, m = 12): at least 10x faster than
   statsmodels, with the same accuracy (in-sample SSE and out-of-sample MAE on a held-out year).

Both candidates run in one process, alternating, with BLAS limited to one thread for both (L-BFGS-B's
tiny BLAS calls are slower multi-threaded on a busy machine; the limit is applied to statsmodels too).

    .venv/bin/python benchmarks/forecast.py                 # full run
    .venv/bin/python benchmarks/forecast.py --series 100 --repeat 3   # quicker
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from mlbook.bench import compare
from mlbook.forecast import fit_holt_winters, load_bikeshare, mae
from mlbook.forecast._threads import single_threaded_blas


def statsmodels_fit(y: np.ndarray, period: int):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on some series; its SSE is reported anyway
        return ExponentialSmoothing(y, trend="add", seasonal="add", seasonal_periods=period).fit()


def simulated_monthly(n_series: int, length: int = 120, seed: int = 0) -> np.ndarray:
    """``(n_series, length)`` monthly series: random level, slope, seasonal shape, noise and a wandering level."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = np.empty((n_series, length))
    for i in range(n_series):
        shape = rng.normal(size=12)
        shape -= shape.mean()
        level = rng.uniform(50, 500)
        walk = np.cumsum(rng.normal(0, rng.uniform(0.1, 2.0), length))
        out[i] = level + rng.normal(0, 0.5) * t + rng.uniform(5, 30) * shape[t % 12] + walk \
            + rng.normal(0, rng.uniform(1, 5), length)
    return out


def hourly(repeat: int) -> None:
    y = load_bikeshare(fill="linear")["demand"].to_numpy()
    with single_threaded_blas():
        ours, ref = fit_holt_winters(y, 24), statsmodels_fit(y, 24)
        result = compare({"statsmodels": lambda: statsmodels_fit(y, 24), "mlbook (Numba)": lambda: fit_holt_winters(y, 24)},
                         repeat=repeat, number=1, warmup=1)
    speedup = result.speedup("mlbook (Numba)")
    print(f"\n1. Holt-Winters (additive trend, daily season m=24) on {y.size} hourly values")
    print(result.table())
    print(f"   speed-up {speedup:.1f}x (target >= 5x: {'met' if speedup >= 5 else 'NOT met'})")
    print(f"   in-sample SSE: mlbook {ours.sse:.6g}, statsmodels {ref.sse:.6g} "
          f"(ratio {ours.sse / ref.sse:.4f}; target <= 1: {'met' if ours.sse <= ref.sse else 'NOT met'})")
    print(f"   parameters: mlbook alpha={ours.alpha:.3f} beta={ours.beta:.3f} gamma={ours.gamma:.3f}; statsmodels "
          f"alpha={ref.params['smoothing_level']:.3f} beta={ref.params['smoothing_trend']:.3f} "
          f"gamma={ref.params['smoothing_seasonal']:.3f}")


def monthly(n_series: int, repeat: int) -> None:
    data = simulated_monthly(n_series)
    train, test = data[:, :-12], data[:, -12:]

    def ours_all():
        return [fit_holt_winters(y, 12) for y in train]

    def ref_all():
        return [statsmodels_fit(y, 12) for y in train]

    with single_threaded_blas():
        fits_ours, fits_ref = ours_all(), ref_all()
        result = compare({"statsmodels": ref_all, "mlbook (Numba)": ours_all}, repeat=repeat, number=1, warmup=0)
    speedup = result.speedup("mlbook (Numba)")
    sse_ratio = np.array([a.sse / b.sse for a, b in zip(fits_ours, fits_ref)])
    mae_ours = np.mean([mae(t, f.forecast(12)) for t, f in zip(test, fits_ours)])
    mae_ref = np.mean([mae(t, np.asarray(f.forecast(12))) for t, f in zip(test, fits_ref)])
    print(f"\n2. Holt-Winters (additive, m=12) on {n_series} simulated monthly series of {train.shape[1]} values")
    print(result.table())
    print(f"   speed-up {speedup:.1f}x (target >= 10x: {'met' if speedup >= 10 else 'NOT met'})")
    print(f"   in-sample SSE ratio mlbook/statsmodels: median {np.median(sse_ratio):.4f}, "
          f"ours lower or equal (within 0.1%) on {np.mean(sse_ratio <= 1.001):.1%} of series, "
          f"worst {sse_ratio.max():.4f}")
    print(f"   out-of-sample MAE over the held-out year: mlbook {mae_ours:.3f}, statsmodels {mae_ref:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1000, help="number of simulated monthly series")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats of the hourly fit")
    parser.add_argument("--repeat-monthly", type=int, default=1, help="timed repeats of the 1,000-series fit")
    args = parser.parse_args()
    start = time.perf_counter()
    fit_holt_winters(np.sin(np.arange(100.0)) + 10, 12)  # JIT compile (or load the cache) before timing
    print(f"Numba compile / cache load: {time.perf_counter() - start:.2f} s")
    hourly(args.repeat)
    monthly(args.series, args.repeat_monthly)


if __name__ == "__main__":
    main()
