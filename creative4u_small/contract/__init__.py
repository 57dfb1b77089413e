"""The torch-free contract every stage shares: the protocol, CreativePair records, images, artefact folders,
settings, CPU facts, verdict probabilities, telemetry opt-outs."""
