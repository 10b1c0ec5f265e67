"""Exceptions raised by irforge."""


class ParameterError(ValueError):
    """Bad input to an irforge function: a wrong shape, value, layout or sample rate.

    A ``ValueError``, so code that catches ``ValueError`` keeps working. Wrong *types*
    (an integer array where audio is expected, say) raise ``TypeError`` instead.
    """


class ClippingWarning(UserWarning):
    """Samples exceed full scale: written to a 16/24-bit file (or played) they clip.

    The message gives the peak and the fix (normalise, ``--normalize`` on the command line,
    or a float32 file).
    """
