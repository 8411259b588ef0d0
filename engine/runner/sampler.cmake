# Sampler: surge_sampler
