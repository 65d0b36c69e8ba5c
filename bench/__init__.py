"""The benchmark suite: ``make bench`` (``python -m bench``). Not part of ``make test``.

Every figure is a ratio or a pair measured in the same run, interleaved and repeated
(medians), because the machines it runs on are shared and noisy.
"""
