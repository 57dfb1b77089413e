"""Making CreativePair data: synthetic sets, pairs from impression/click logs, Hugging Face datasets interop."""
