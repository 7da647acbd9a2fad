"""Running experiments: benchmarks, training, tuning, jobs and the user-context pipeline."""
