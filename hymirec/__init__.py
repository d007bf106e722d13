"""HyMiRec: the ML library (data, sequences, encoders, codebook, models, losses, evaluation, stages); it imports no Dagster."""
