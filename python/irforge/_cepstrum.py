"""Real-cepstrum helpers shared by minimum-phase conversion and the cepstral methods."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def minimum_phase_from_cepstrum(cep: np.ndarray) -> np.ndarray:
    """The minimum-phase signal whose log-magnitude spectrum has real cepstrum ``cep``.

    Folds the (even) real cepstrum onto positive quefrencies (c[0], 2 c[1..N/2-1], c[N/2])
    and exponentiates its spectrum (Oppenheim & Schafer, "Discrete-Time Signal Processing",
    homomorphic systems).

    Parameters
    ----------
    cep : np.ndarray [shape=(..., N), float64], N even
        Real cepstrum along the last axis.

    Returns
    -------
    np.ndarray [shape=(..., N), float64]
        The minimum-phase sequence, N samples (circular: use N >= 2x the wanted length).
    """
    N = cep.shape[-1]
    fold = np.zeros_like(cep)
    fold[..., 0] = cep[..., 0]
    fold[..., 1:N // 2] = 2 * cep[..., 1:N // 2]
    fold[..., N // 2] = cep[..., N // 2]
    return sfft.irfft(np.exp(sfft.rfft(fold, axis=-1)), N, axis=-1)
