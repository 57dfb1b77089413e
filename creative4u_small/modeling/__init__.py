"""Hugging Face models as this project uses them (torch inside the functions that need it): the family
registry, loading and saving checkpoints, the judge prompt, verdict scoring, presets and their tokenizers."""
