# Model: surge_model
