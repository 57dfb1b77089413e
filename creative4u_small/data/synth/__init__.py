"""Synthetic CreativePair set: Pillow-rendered creatives whose hidden quality factors decide the label."""

from creative4u_small.data.synth.factors import MIN_GAP, WEIGHTS, Factors
from creative4u_small.data.synth.generate import synthesize

__all__ = ["synthesize", "WEIGHTS", "MIN_GAP", "Factors"]
