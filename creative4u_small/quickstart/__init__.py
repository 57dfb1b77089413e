"""The whole pipeline on synthetic data (`c4u quickstart`): its settings, its stages, and its results and report."""
