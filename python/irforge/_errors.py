"""Exceptions raised by irforge."""


class ParameterError(ValueError):
    """Bad input to an irforge function: a wrong shape, value, layout or sample rate.

    A ``ValueError``, so code that catches ``ValueError`` keeps working. Wrong *types*
    (an integer array where audio is expected, say) raise ``TypeError`` instead.
    """
